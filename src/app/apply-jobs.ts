/**
 * `nightshift apply`: brings the store in line with job files. Everything is read and validated
 * first (files, backup profiles declared and their repositories, the profiles jobs name, chains
 * over the jobs as they will be); only then is anything written, through the job and profile use
 * cases (jobs.ts, backup-profiles.ts): profiles first (a job may run one declared beside it), then
 * jobs (predecessors first), then orphaned jobs, then orphaned profiles. A job or profile is
 * matched to its file by name; ones not made from files are never touched (a name clash is
 * refused unless `adopt`), and ones made from files under the given paths that the files no
 * longer declare are orphans, removed only with `prune` after `confirm` agrees.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { chainProblems } from '../domain/chain.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import type { JobInput } from '../domain/job-validation.ts';
import { definitionDiff } from '../domain/job-drift.ts';
import type { FieldDrift } from '../domain/job-drift.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import { profileDiff } from '../domain/profile-file.ts';
import type { App } from './app.ts';
import {
  addProfile,
  checkRepository,
  editProfile,
  jobsUsingProfile,
  removeProfile,
  repositoryChanged,
} from './backup-profiles.ts';
import { assertJobReferencesKnown } from './job-references.ts';
import { addJob, editJob, listJobs, newJob, removeJob } from './jobs.ts';
import { displayPath } from './display-path.ts';
import { loadJobFiles, problemsError } from './job-files.ts';
import type { DeclaredJob, DeclaredProfile, FileProblem } from './job-files.ts';

/** What an entry of the report is about: a job (absent) or a backup profile. */
export type DeclaredKind = 'job' | 'backup-profile';

/** Something `prune` would remove. */
export interface Orphan {
  kind: DeclaredKind;
  name: string;
  /** The job's id; a profile's name. */
  id: string;
  /** The file it was declared in. */
  file: string;
}

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
  confirm?: (orphans: Orphan[]) => Promise<boolean>;
  nowMs?: number;
}

export interface JobChange {
  /** Set for a backup profile. */
  kind?: 'backup-profile';
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
  /** Backup profiles declared and already as the files say. */
  unchangedProfiles: string[];
  /** Made from files under the given paths, no longer declared there (jobs first, then profiles). */
  orphans: Orphan[];
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
  profileCreates: DeclaredProfile[];
  profileUpdates: { declared: DeclaredProfile; stored: BackupProfile }[];
  profileOrphans: BackupProfile[];
}

function fromFileUnder(source: { kind: string; path?: string } | undefined, roots: string[]): boolean {
  return source?.kind === 'file' && roots.some((root) => within(source.path!, root));
}

/**
 * The profile half of the plan: name clashes, repositories checked (the one check that reads
 * outside the store, done before any write), and orphans.
 */
async function planProfiles(
  app: App,
  declared: DeclaredProfile[],
  roots: string[],
  opts: ApplyOptions,
  problems: FileProblem[],
): Promise<{ stored: Map<string, BackupProfile>; orphans: BackupProfile[] }> {
  const stored = new Map((await app.store.profiles.list()).map((p) => [p.name, p]));
  const names = new Set(declared.map((d) => d.profile.name));
  for (const d of declared) {
    const existing = stored.get(d.profile.name);
    if (
      existing &&
      existing.source?.kind !== 'file' &&
      !opts.adopt &&
      profileDiff(d.profile, existing).length > 0
    ) {
      problems.push({
        file: d.file,
        line: d.lineOf('name'),
        key: 'name',
        message: `name: a backup profile named ${d.profile.name} already exists and was not made from files`,
        hint: 'apply with --adopt to manage it from this file from now on (the file wins), or rename one of them',
      });
      continue;
    }
    if (existing && !repositoryChanged(existing, d.profile)) continue;
    try {
      await checkRepository(app, d.profile);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      problems.push({
        file: d.file,
        line: d.lineOf('repo'),
        key: 'repo',
        message: err.message.replace(/^--(repo|password-ref|recipients-repo)\b/, '$1'),
        hint: (err.hint ?? '').replace(/--(password-ref|recipients-repo)\b/g, '$1:'),
      });
    }
  }
  const orphans = [...stored.values()].filter((p) => !names.has(p.name) && fromFileUnder(p.source, roots));
  return { stored, orphans };
}

async function plan(app: App, paths: string[], opts: ApplyOptions): Promise<Plan> {
  const nowMs = opts.nowMs ?? Date.now();
  const loaded = loadJobFiles(paths, { valuesFile: opts.valuesFile, nowMs, newId: () => 'planned' });
  const problems: FileProblem[] = [...loaded.problems];
  const stored = await listJobs(app, { all: true });
  const byName = new Map(stored.map((j) => [j.name, j]));
  const declaredNames = new Set(loaded.jobs.map((d) => d.job.name));

  const profilePlan = await planProfiles(app, loaded.profiles, loaded.roots, opts, problems);
  const goneProfiles = new Set(opts.prune ? profilePlan.orphans.map((p) => p.name) : []);
  const profileNames = new Set([
    ...[...profilePlan.stored.keys()].filter((n) => !goneProfiles.has(n)),
    ...loaded.profiles.map((d) => d.profile.name),
  ]);

  // Checks that need the store: profiles named, name clashes, chains over the jobs as they will be.
  for (const d of loaded.jobs) {
    const p = d.job.payload;
    if (
      (p.kind === 'backup' || p.kind === 'drill') &&
      p.profile !== undefined &&
      !profileNames.has(p.profile)
    ) {
      const key = p.kind;
      problems.push({
        file: d.file,
        line: d.lineOf(key),
        key,
        message: goneProfiles.has(p.profile)
          ? `${key}: backup profile "${p.profile}" is an orphan being pruned`
          : `${key}: no backup profile named "${p.profile}"`,
        hint: goneProfiles.has(p.profile)
          ? 'keep the profile in the files, or change this job'
          : `declare it in a file (kind: backup-profile), create it with \`nightshift backup profile add\`, or fix the name (known: ${[...profileNames].sort().join(', ') || 'none'})`,
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
  const orphans = stored.filter((j) => !declaredNames.has(j.name) && fromFileUnder(j.source, loaded.roots));
  const gone = new Set(opts.prune ? orphans.map((j) => j.name) : []);
  // A profile pruned while a job that stays (not in the files, not pruned) still runs it.
  for (const profile of profilePlan.orphans) {
    if (!goneProfiles.has(profile.name)) continue;
    const users = jobsUsingProfile(stored, profile.name).filter(
      (j) => !declaredNames.has(j.name) && !gone.has(j.name),
    );
    if (users.length > 0)
      problems.push({
        file: (profile.source as { path: string }).path,
        line: 0,
        key: 'name',
        message: `backup profile ${profile.name} is an orphan to prune, but ${users.map((j) => j.name).join(', ')} still ${users.length === 1 ? 'runs' : 'run'} it`,
        hint: 'keep the profile in the files, or remove or change those jobs first',
      });
  }
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
    unchangedProfiles: [],
    orphans: [
      ...orphans.map((j) => ({
        kind: 'job' as const,
        name: j.name,
        id: j.id,
        file: (j.source as { path: string }).path,
      })),
      ...profilePlan.orphans.map((p) => ({
        kind: 'backup-profile' as const,
        name: p.name,
        id: p.name,
        file: (p.source as { path: string }).path,
      })),
    ],
    removed: [],
    relinked: [],
    inSync: false,
  };
  const profileCreates: DeclaredProfile[] = [];
  const profileUpdates: Plan['profileUpdates'] = [];
  for (const d of loaded.profiles) {
    const existing = profilePlan.stored.get(d.profile.name);
    const change = { kind: 'backup-profile' as const, name: d.profile.name, file: d.file, line: d.line };
    if (!existing) {
      profileCreates.push(d);
      report.created.push(change);
      continue;
    }
    const drift = profileDiff(d.profile, existing);
    const oldPath = existing.source?.kind === 'file' ? existing.source.path : undefined;
    const sourceChanged = oldPath !== d.file;
    if (drift.length === 0 && !sourceChanged) {
      report.unchangedProfiles.push(d.profile.name);
      continue;
    }
    profileUpdates.push({ declared: d, stored: existing });
    (drift.length > 0 ? report.updated : report.relinked).push({
      ...change,
      drift,
      ...(existing.source?.kind !== 'file' ? { adopted: true } : {}),
      ...(oldPath !== undefined && sourceChanged ? { movedFrom: oldPath } : {}),
    });
  }
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
  return {
    report,
    creates,
    updates,
    orphans,
    profileCreates,
    profileUpdates,
    profileOrphans: profilePlan.orphans,
  };
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
  const planned = await plan(app, paths, { ...opts, nowMs });
  const { report, creates, updates, orphans, profileCreates, profileUpdates, profileOrphans } = planned;
  if (opts.check || opts.dryRun) return report;
  if (opts.prune && report.orphans.length > 0) {
    const ok = opts.confirm ? await opts.confirm(report.orphans) : false;
    if (!ok)
      throw new UserError(
        `not pruning ${report.orphans.map((o) => o.name).join(', ')}: not confirmed; nothing was changed`,
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
  // Profiles first: a job may run one declared beside it.
  for (const d of profileCreates) await addProfile(app, d.profile.name, () => d.profile);
  for (const u of profileUpdates)
    await editProfile(app, u.stored.name, (prev) => ({
      ...u.declared.profile,
      createdAtMs: prev.createdAtMs,
    }));
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
    // Followers before the jobs they run after, so no removal strands a chain.
    for (const o of successorsFirst(orphans)) {
      await removeJob(app, o);
      report.removed.push(o.name);
    }
    for (const p of profileOrphans) {
      await removeProfile(app, p.name);
      report.removed.push(p.name);
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
function predecessorsFirst<T extends { job: Job }>(creates: T[]): T[] {
  const pending = new Map(creates.map((c) => [c.job.name, c]));
  const out: T[] = [];
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

/** Jobs ordered so that a job comes before those it runs after. */
function successorsFirst(jobs: Job[]): Job[] {
  const order = predecessorsFirst(jobs.map((job) => ({ job })));
  return order.reverse().map((d) => d.job);
}

/** `jobs/nightly-reset.yaml:3` */
export function where(file: string, line: number): string {
  return `${displayPath(file)}:${line}`;
}
