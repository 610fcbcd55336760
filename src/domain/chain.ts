/**
 * Chains: a job that runs `after` other jobs instead of at a time of its own. This module holds
 * the pure rules: the schedule's shape, how it reads, which run ends count for a link, and the
 * checks over a set of jobs (unknown predecessors, cycles). The scheduler's trigger is
 * scheduler/chains.ts.
 */
import { CHAIN_ON } from './job.ts';
import type { ChainLink, ChainOn, Job, Run, Schedule } from './job.ts';
import { UserError } from './errors.ts';
import { formatDuration, parseDuration } from './duration.ts';

type AfterSchedule = Extract<Schedule, { kind: 'after' }>;

/** Longest `within` window: a chain's predecessors belong to the same cycle, at most a week apart. */
export const MAX_WITHIN_MS = 7 * 86_400_000;

/** Checks `{kind: "after", after: [...], withinMs?}`; a link may be a bare job name. */
export function validateAfterSchedule(raw: Record<string, unknown>): AfterSchedule {
  const list = Array.isArray(raw.after) ? raw.after : raw.after === undefined ? [] : [raw.after];
  if (list.length === 0)
    throw new UserError('schedule.after: names no job', {
      hint: 'give the job this one runs after, e.g. after: nightly-prep',
    });
  const links: ChainLink[] = list.map((item: unknown, i) => {
    const field = `schedule.after[${i}]`;
    const obj: Record<string, unknown> =
      typeof item === 'string' ? { job: item } : typeof item === 'object' && item !== null ? { ...item } : {};
    if (typeof obj.job !== 'string' || obj.job.trim() === '')
      throw new UserError(`${field}.job: must name a job, got ${JSON.stringify(item)}`, {
        hint: 'e.g. after: nightly-prep, or after: {job: nightly-prep, on: failure}',
      });
    const on = obj.on ?? 'success';
    if (!CHAIN_ON.includes(on as ChainOn))
      throw new UserError(`${field}.on: must be one of ${CHAIN_ON.join(', ')}, got ${JSON.stringify(on)}`, {
        hint: 'success (the default): when its run ends ok; failure: when it fails; always: either',
      });
    return { job: obj.job.trim(), on: on as ChainOn };
  });
  const seen = new Set<string>();
  for (const l of links) {
    if (seen.has(l.job))
      throw new UserError(`schedule.after: names ${l.job} twice`, { hint: 'name each predecessor once' });
    seen.add(l.job);
  }
  const out: AfterSchedule = { kind: 'after', after: links };
  if (raw.withinMs !== undefined && raw.withinMs !== null) {
    let ms: unknown = raw.withinMs;
    if (typeof ms === 'string') ms = parseDuration(ms);
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1_000 || ms > MAX_WITHIN_MS)
      throw new UserError(`schedule.withinMs: must be from 1s to 7d, got ${JSON.stringify(raw.withinMs)}`, {
        hint: 'e.g. within: 30m (how long after the first predecessor ends the others may take)',
      });
    out.withinMs = ms;
  }
  return out;
}

const ON_WORDS: Record<ChainOn, string> = {
  success: 'succeeds',
  failure: 'fails',
  always: 'ends (ok or not)',
};

/** `runs after nightly-prep succeeds`, `runs after a succeeds and b fails, within 30m`. */
export function describeAfter(s: AfterSchedule): string {
  const parts = s.after.map((l) => `${l.job} ${ON_WORDS[l.on]}`);
  const joined = parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
  return (
    `runs after ${joined}` +
    (s.withinMs !== undefined ? `, all within ${formatDuration(s.withinMs)} of the first` : '')
  );
}

/** Run statuses that mean a predecessor ran and failed (a skipped slot did not run at all). */
const FAILED = new Set(['error', 'timeout', 'interrupted', 'missed']);

/**
 * Whether a finished predecessor run counts for a link. `delivered` (a system event) counts as a
 * success. A failed run with retries still to come is not its slot's final word, so it counts for
 * `failure`/`always` only when it is the last attempt.
 */
export function runCountsFor(on: ChainOn, run: Run, retries: number): boolean {
  const ok = run.status === 'ok' || run.status === 'delivered';
  const failed = FAILED.has(run.status);
  const final = ok || run.trigger === 'manual' || run.attempt > retries || run.status === 'missed';
  if (on === 'success') return ok;
  if (on === 'failure') return failed && final;
  return (ok || failed) && final;
}

/** The job names a predecessor may be, for an error: sorted, the job itself left out, at most 20. */
function knownNames(names: Set<string>, self: string): string {
  const list = [...names].filter((n) => n !== self).sort();
  if (list.length === 0) return 'none';
  return list.length > 20 ? `${list.slice(0, 20).join(', ')}, … ${list.length - 20} more` : list.join(', ');
}

/**
 * Problems of a set of jobs' chains: a predecessor that is not among `jobs`, a job after itself,
 * or a cycle. Each message names the jobs involved; empty when all is well.
 */
export function chainProblems(jobs: Pick<Job, 'name' | 'schedule'>[]): string[] {
  const names = new Set(jobs.map((j) => j.name));
  const edges = new Map<string, string[]>();
  const problems: string[] = [];
  for (const j of jobs) {
    if (j.schedule.kind !== 'after') continue;
    edges.set(
      j.name,
      j.schedule.after.map((l) => l.job),
    );
    for (const l of j.schedule.after) {
      if (l.job === j.name) problems.push(`${j.name} runs after itself`);
      else if (!names.has(l.job))
        problems.push(
          `${j.name} runs after ${l.job}, and there is no job named ${l.job} (known: ${knownNames(names, j.name)})`,
        );
    }
  }
  // Depth-first search for a cycle; each cycle is reported once, from its first job by name.
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const reported = new Set<string>();
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of edges.get(n) ?? []) {
      if (m === n) continue;
      if (state.get(m) === 'open') {
        const cycle = [...path.slice(path.indexOf(m)), m];
        const key = [...new Set(cycle)].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          problems.push(`chain cycle: ${cycle.join(' -> ')} (each waits for the next, so none would run)`);
        }
      } else if (!state.has(m) && edges.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  return problems;
}

/** Throws the first chain problem as a UserError (`cron add/edit --after`). */
export function assertChainsValid(jobs: Pick<Job, 'name' | 'schedule'>[]): void {
  const problems = chainProblems(jobs);
  if (problems.length > 0)
    throw new UserError(`schedule.after: ${problems[0]!}`, {
      hint: 'a chained job runs after existing jobs, and no chain may lead back to where it started',
    });
}

/**
 * The jobs that run after `name`, directly or through others (breadth first: nearest first). A
 * job cannot go while these chain after it: they would wait for a run that never comes.
 */
export function successorsOf<J extends Pick<Job, 'name' | 'schedule'>>(jobs: J[], name: string): J[] {
  const out: J[] = [];
  const seen = new Set([name]);
  for (let i = -1; i < out.length; i++) {
    const of = i < 0 ? name : out[i]!.name;
    for (const j of jobs)
      if (!seen.has(j.name) && j.schedule.kind === 'after' && j.schedule.after.some((l) => l.job === of)) {
        seen.add(j.name);
        out.push(j);
      }
  }
  return out;
}
