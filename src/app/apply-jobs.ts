/**
 * `nightshift apply`: brings the store in line with job files. Everything is read and validated
 * first (files, the profiles they name, chains over the jobs as they will be); only then is
 * anything written, through the job use cases (jobs.ts). A job is matched to its file by
 * name; jobs not made from files are never touched (a name clash with one is refused unless
 * `adopt`), and jobs made from files under the given paths that the files no longer declare are
 * orphans, removed only with `prune` after `confirm` agrees.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { chainProblems } from '../domain/chain.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import type { JobInput } from '../domain/job-validation.ts';
import { definitionDiff } from '../domain/job-drift.ts';
import type { FieldDrift } from '../domain/job-drift.ts';
import type { App } from './app.ts';
import { assertJobReferencesKnown } from './job-references.ts';
import { addJob, editJob, listJobs, newJob, removeJob } from './jobs.ts';
import { displayPath, loadJobFiles, problemsError } from './job-files.ts';
import type { DeclaredJob, FileProblem } from './job-files.ts';

export interface ApplyOptions {
  valuesFile?: string;
  /** Change nothing; report what would change. */
  dryRun?: boolean;
  /** Change nothing; report drift (the caller exits 1 unless in sync). */
  check?: boolean;
  /** Remove orphans (after `confirm`). */
  prune?: boolean;
  /** Take over jobs of the same name that were not made from files. */
  adopt?: boolean;
  /** Asked before orphans are removed; false refuses the whole apply. */
  confirm?: (orphans: Job[]) => Promise<boolean>;
  nowMs?: number;
}

export interface JobChange {
  name: string;
  file: string;
  line: number;
  /** Field-by-field, for updates. */
  drift?: FieldDrift[];
  /** The job was made elsewhere and is taken over (adopt). */
  adopted?: boolean;
  /** The declaring file changed (the job moved between files). */
  movedFrom?: string;
}

export interface ApplyReport {
  mode: 'apply' | 'dry-run' | 'check';
  files: string[];
  created: JobChange[];
  updated: JobChange[];
  unchanged: string[];
  /** Made from files under the given paths, no longer declared there. */
  orphans: { name: string; id: string; file: string }[];
  /** Orphans removed (prune). */
  removed: string[];
  /** Jobs whose definition matches but whose file changed, or that were made elsewhere (adopted). */
  relinked: JobChange[];
  /** True when the store matches the files (nothing to create, update or prune). */
  inSync: boolean;
}

/** True when `file` is `root` or lies under it. */
function within(file: string, root: string): boolean {
  const rel = relative(root, file);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** The patch that turns `stored`'s definition into `desired`'s (only the fields that differ). */
export function definitionPatch(stored: Job, desired: Job, drift: FieldDrift[]): Partial<JobInput> {
  const top = new Set(drift.map((d) => d.path.split('.')[0]!));
  const patch: Partial<JobInput> = {};
  if (top.has('description')) patch.description = desired.description ?? '';
  if (top.has('enabled')) patch.enabled = desired.enabled;
  if (top.has('deleteAfterRun')) patch.deleteAfterRun = desired.deleteAfterRun;
  if (top.has('schedule')) patch.schedule = desired.schedule;
  if (top.has('payload')) {
    if (desired.payload.kind !== stored.payload.kind) patch.payload = desired.payload;
    else {
      // A patch merges into the payload: keys the file no longer gives are removed with null.
      const p: Record<string, unknown> = { ...desired.payload };
      for (const k of Object.keys(stored.payload)) if (!(k in p)) p[k] = null;
      patch.payload = p as unknown as Job['payload'];
    }
  }
  if (top.has('policy')) patch.policy = desired.policy;
  if (top.has('evidence')) {
    const e: Record<string, unknown> = { ...desired.evidence };
    for (const k of Object.keys(stored.evidence)) if (!(k in e)) e[k] = null;
    patch.evidence = e;
  }
  if (top.has('history')) patch.history = desired.history;
  if (top.has('alerts')) {
    if (desired.alerts === undefined) patch.alerts = null;
    else {
      const a: Record<string, unknown> = { ...desired.alerts };
      for (const k of Object.keys(stored.alerts ?? {})) if (!(k in a)) a[k] = undefined;
      patch.alerts = a;
    }
  }
  if (top.has('delivery')) patch.delivery = desired.delivery ?? null;
  if (top.has('healthcheck')) patch.healthcheck = desired.healthcheck ?? null;
  return patch;
}

interface Plan {
  report: ApplyReport;
  creates: DeclaredJob[];
  updates: { declared: DeclaredJob; stored: Job; drift: FieldDrift[]; sourceChanged: boolean }[];
  orphans: Job[];
}

async function plan(app: App, paths: string[], opts: ApplyOptions): Promise<Plan> {
  const nowMs = opts.nowMs ?? Date.now();
  const loaded = loadJobFiles(paths, { valuesFile: opts.valuesFile, nowMs, newId: () => 'planned' });
  const problems: FileProblem[] = [...loaded.problems];
  const stored = await listJobs(app, { all: true });
  const byName = new Map(stored.map((j) => [j.name, j]));
  const declaredNames = new Set(loaded.jobs.map((d) => d.job.name));

  // Checks that need the store: profiles named, name clashes, chains over the jobs as they will be.
  for (const d of loaded.jobs) {
    const p = d.job.payload;
    if ((p.kind === 'backup' || p.kind === 'drill') && !(await app.store.profiles.get(p.profile))) {
      const key = p.kind;
      problems.push({
        file: d.file,
        line: d.lineOf(key),
        key,
        message: `${key}: no backup profile named "${p.profile}"`,
        hint: 'create it with `nightshift backup profile add`, or fix the name (`nightshift backup profile list`)',
      });
    }
    const existing = byName.get(d.job.name);
    // A job made elsewhere with exactly this definition (an export) is taken over quietly.
    if (
      existing &&
      existing.source?.kind !== 'file' &&
      !opts.adopt &&
      definitionDiff(d.job, existing).length > 0
    ) {
      problems.push({
        file: d.file,
        line: d.lineOf('name'),
        key: 'name',
        message: `name: a job named ${d.job.name} already exists and was not made from files`,
        hint: 'apply with --adopt to manage it from this file from now on (the file wins), or rename one of them',
      });
    }
  }
  const orphans = stored.filter(
    (j) =>
      j.source?.kind === 'file' &&
      !declaredNames.has(j.name) &&
      loaded.roots.some((root) => within((j.source as { path: string }).path, root)),
  );
  const gone = new Set(opts.prune ? orphans.map((j) => j.name) : []);
  const future = [
    ...stored.filter((j) => !declaredNames.has(j.name) && !gone.has(j.name)),
    ...loaded.jobs.map((d) => d.job),
  ];
  const declaredBy = new Map(loaded.jobs.map((d) => [d.job.name, d]));
  for (const problem of chainProblems(future)) {
    const name = problem.split(' ')[0]!.replace(/^chain$/, '');
    const culprit =
      declaredBy.get(name) ??
      loaded.jobs.find((d) => d.job.schedule.kind === 'after' && problem.includes(d.job.name));
    problems.push({
      file: culprit?.file ?? loaded.roots[0] ?? '',
      line: culprit?.lineOf('after') ?? 0,
      key: 'after',
      message: `after: ${problem}`,
      hint:
        gone.size > 0 && [...gone].some((g) => problem.includes(g))
          ? 'a job it runs after is an orphan being pruned; keep it in the files or change the chain'
          : 'a chained job runs after jobs that exist, and no chain may lead back to where it started',
    });
  }
  if (problems.length > 0) throw problemsError(problems);

  const report: ApplyReport = {
    mode: opts.check ? 'check' : opts.dryRun ? 'dry-run' : 'apply',
    files: loaded.files,
    created: [],
    updated: [],
    unchanged: [],
    orphans: orphans.map((j) => ({ name: j.name, id: j.id, file: (j.source as { path: string }).path })),
    removed: [],
    relinked: [],
    inSync: false,
  };
  const creates: DeclaredJob[] = [];
  const updates: Plan['updates'] = [];
  for (const d of loaded.jobs) {
    const existing = byName.get(d.job.name);
    if (!existing) {
      creates.push(d);
      report.created.push({ name: d.job.name, file: d.file, line: d.line });
      continue;
    }
    const drift = definitionDiff(d.job, existing);
    const oldPath = existing.source?.kind === 'file' ? existing.source.path : undefined;
    const sourceChanged = oldPath !== d.file;
    if (drift.length === 0 && !sourceChanged) {
      report.unchanged.push(d.job.name);
      continue;
    }
    updates.push({ declared: d, stored: existing, drift, sourceChanged });
    (drift.length > 0 ? report.updated : report.relinked).push({
      name: d.job.name,
      file: d.file,
      line: d.line,
      drift,
      ...(existing.source?.kind !== 'file' ? { adopted: true } : {}),
      ...(oldPath !== undefined && sourceChanged ? { movedFrom: oldPath } : {}),
    });
  }
  report.inSync = report.created.length === 0 && report.updated.length === 0 && report.orphans.length === 0;
  return { report, creates, updates, orphans };
}

/**
 * Plans and (unless check or dry-run) applies. Throws a UserError before any write when a file is
 * invalid, or when orphans are to be pruned and `confirm` says no (or is missing).
 */
export async function applyJobFiles(
  app: App,
  paths: string[],
  opts: ApplyOptions = {},
): Promise<ApplyReport> {
  const nowMs = opts.nowMs ?? Date.now();
  const { report, creates, updates, orphans } = await plan(app, paths, { ...opts, nowMs });
  if (opts.check || opts.dryRun) return report;
  if (opts.prune && orphans.length > 0) {
    const ok = opts.confirm ? await opts.confirm(orphans) : false;
    if (!ok)
      throw new UserError(
        `not pruning ${orphans.map((o) => o.name).join(', ')}: not confirmed; nothing was changed`,
        {
          hint: 'run in a terminal to confirm, or add --yes',
          exitCode: EXIT.usage,
          code: 'not_confirmed',
        },
      );
  }
  // Every name checked before anything is written: a typo in the third file changes nothing.
  const config = app.config();
  try {
    for (const d of creates) assertJobReferencesKnown(config, d.job);
    for (const u of updates) assertJobReferencesKnown(config, u.declared.job, u.stored);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw new UserError(`${err.message}; nothing was changed`, {
      ...(err.hint !== undefined ? { hint: err.hint } : {}),
      code: err.code,
    });
  }
  // Predecessors first, in the order of the chains as they will be: every intermediate state
  // then has only chains whose jobs exist and no cycle, so the use cases' chain checks pass.
  const updatesByName = new Map(updates.map((u) => [u.declared.job.name, u]));
  for (const d of predecessorsFirst([...creates, ...updates.map((u) => u.declared)])) {
    const u = updatesByName.get(d.job.name);
    if (!u) {
      await addJob(app, newJob(inputOf(d.job), nowMs), { nowMs });
      continue;
    }
    const patch = definitionPatch(u.stored, d.job, u.drift);
    if (u.sourceChanged) patch.source = { kind: 'file', path: d.file };
    await editJob(app, u.stored, patch, { nowMs });
  }
  if (opts.prune) {
    for (const o of orphans) {
      await removeJob(app, o);
      report.removed.push(o.name);
    }
  }
  report.inSync = true;
  return report;
}

/** The definition of a planned job as input for the add use case. */
function inputOf(job: Job): JobInput {
  const input: JobInput = {
    name: job.name,
    enabled: job.enabled,
    schedule: job.schedule,
    payload: job.payload,
    deleteAfterRun: job.deleteAfterRun,
    policy: job.policy,
    evidence: job.evidence,
    history: job.history,
  };
  if (job.description !== undefined) input.description = job.description;
  if (job.alerts !== undefined) input.alerts = job.alerts;
  if (job.delivery !== undefined) input.delivery = job.delivery;
  if (job.healthcheck !== undefined) input.healthcheck = job.healthcheck;
  if (job.source !== undefined) input.source = job.source;
  return input;
}

/** Jobs ordered so that a chained job comes after those of them it runs after. */
function predecessorsFirst(creates: DeclaredJob[]): DeclaredJob[] {
  const pending = new Map(creates.map((c) => [c.job.name, c]));
  const out: DeclaredJob[] = [];
  while (pending.size > 0) {
    const ready = [...pending.values()].filter(
      (c) => c.job.schedule.kind !== 'after' || c.job.schedule.after.every((l) => !pending.has(l.job)),
    );
    // Chains were checked for cycles; this only guards the loop.
    for (const c of ready.length > 0 ? ready : [...pending.values()]) {
      out.push(c);
      pending.delete(c.job.name);
    }
  }
  return out;
}

/** `jobs/nightly-reset.yaml:3` */
export function where(file: string, line: number): string {
  return `${displayPath(file)}:${line}`;
}
