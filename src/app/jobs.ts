/**
 * The job use cases: add, edit, remove, enable or disable, find by id or name, list and show. Every
 * face (the CLI, MCP, the HTTP API, job files, the daemon's own jobs) changes jobs through these, so
 * validation, the name clash and the not-found answer exist once. Errors are UserErrors with a
 * stable `code` (`not_found`, `name_taken`, `invalid`), worded in the caller's terms (terms.ts).
 */
import { assertChainsValid, successorsOf } from '../domain/chain.ts';
import { describeContract } from '../domain/contract.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { newJobId } from '../domain/job-id.ts';
import { applyJobPatch, buildJob } from '../domain/job-validation.ts';
import type { JobInput } from '../domain/job-validation.ts';
import { scheduleTimeZone } from '../domain/schedule.ts';
import { StoreConflictError } from '../store/store.ts';
import type { App } from './app.ts';
import { assertJobReferencesKnown, jobWarnings } from './job-references.ts';
import { CLI_TERMS } from './terms.ts';
import type { Terms } from './terms.ts';
import { jobNextFires } from './views.ts';

/** A job given by id or exact name, or one the caller already holds. */
export type JobRef = string | Job;

export interface JobCallOptions {
  /** How errors are worded; default the command line's. */
  terms?: Terms;
  /** The instant the change happens at (created/updated times, `at` in the past); default now. */
  nowMs?: number;
  /**
   * Refuse channel and agent names config.json does not define (default true). An import maps
   * and reports names itself, so it stores what it found.
   */
  checkReferences?: boolean;
}

/**
 * A new job from its input, validated and with a fresh id; writes nothing. A face that must refuse
 * bad input before it opens the home (the CLI) calls this first and addJob after.
 */
export function newJob(input: JobInput, nowMs: number = Date.now()): Job {
  return buildJob(input, nowMs, newJobId);
}

/** Stores a new job (from newJob); a name clash is a `name_taken` error (exit code 4). */
export async function addJob(app: App, job: Job, opts: JobCallOptions = {}): Promise<SavedJob> {
  if (opts.checkReferences !== false) assertJobReferencesKnown(app.config(), job);
  if (job.schedule.kind === 'after') await checkChains(app, job);
  await save(app, job, 'insert', opts.terms ?? CLI_TERMS);
  return { job, warnings: warningsForJob(app, job) };
}

/**
 * A job as stored by add or edit, with what does not stop it being saved but the user should hear
 * (alerts no channel will deliver). Each face words the warnings its own way (CLI: stderr; MCP,
 * HTTP: a `warnings` list).
 */
export interface SavedJob {
  job: Job;
  warnings: string[];
}

/**
 * Stores a changed version of an existing job whole (validated by the caller, e.g. a planned
 * import); a name clash is `name_taken`. Faces that change a few fields use editJob.
 */
export async function replaceJob(app: App, job: Job, opts: JobCallOptions = {}): Promise<Job> {
  await save(app, job, 'update', opts.terms ?? CLI_TERMS);
  return job;
}

/**
 * The job named `job.name` if it exists, else `job` stored; when another process adds one of that
 * name meanwhile, theirs. For the jobs nightshift keeps for itself (the sample job, heartbeats).
 */
export async function ensureJob(app: App, job: Job): Promise<{ job: Job; created: boolean }> {
  const existing = await app.store.findJob(job.name);
  if (existing) return { job: existing, created: false };
  try {
    await app.store.insertJob(job);
  } catch (err) {
    if (err instanceof StoreConflictError) {
      const theirs = await app.store.findJob(job.name);
      if (theirs) return { job: theirs, created: false };
    }
    throw err;
  }
  return { job, created: true };
}

/** A job by id or exact name; a `not_found` error (exit code 3) when there is none. */
export async function requireJob(
  app: App,
  ref: JobRef,
  opts: Pick<JobCallOptions, 'terms'> = {},
): Promise<Job> {
  if (typeof ref !== 'string') return ref;
  const job = await app.store.findJob(ref);
  if (job) return job;
  const w = (opts.terms ?? CLI_TERMS).jobNotFound(ref, app.home.dir);
  throw new UserError(w.message, { hint: w.hint, exitCode: EXIT.notFound, code: 'not_found' });
}

/** Jobs ordered by name; disabled ones only with `all`; with `agent`, only that agent's jobs. */
export async function listJobs(app: App, opts: { all?: boolean; agent?: string } = {}): Promise<Job[]> {
  return (await app.store.listJobs()).filter(
    (j) => (opts.all === true || j.enabled) && (opts.agent === undefined || jobAgent(j) === opts.agent),
  );
}

/** The agent a job's turn or event goes to (`default` when it names none); undefined for other kinds. */
function jobAgent(job: Job): string | undefined {
  const p = job.payload;
  return p.kind === 'agentTurn' || p.kind === 'systemEvent' || p.kind === 'heartbeat'
    ? (p.agent ?? 'default')
    : undefined;
}

/**
 * Changes a job: only the fields the patch gives (applyJobPatch's rules). An empty patch is an
 * error, so a caller never reports a change that did not happen. Returns the updated job.
 */
export async function editJob(
  app: App,
  ref: JobRef,
  patch: Partial<JobInput>,
  opts: JobCallOptions = {},
): Promise<SavedJob> {
  const terms = opts.terms ?? CLI_TERMS;
  const job = await requireJob(app, ref, { terms });
  if (Object.keys(patch).length === 0) {
    const w = terms.nothingToChange(job);
    throw new UserError(w.message, { hint: w.hint });
  }
  const updated = applyJobPatch(job, patch, opts.nowMs ?? Date.now());
  if (opts.checkReferences !== false) assertJobReferencesKnown(app.config(), updated, job);
  // A chained job's predecessors must exist and form no cycle; a renamed job must leave no follower behind.
  if (updated.schedule.kind === 'after' || updated.name !== job.name) await checkChains(app, updated);
  await save(app, updated, 'update', terms);
  return { job: updated, warnings: warningsForJob(app, updated) };
}

/** Enables or disables a job; a job already so is returned as it is, unwritten. */
export async function setJobEnabled(
  app: App,
  ref: JobRef,
  enabled: boolean,
  opts: JobCallOptions = {},
): Promise<Job> {
  const job = await requireJob(app, ref, opts);
  if (job.enabled === enabled) return job;
  const updated = applyJobPatch(job, { enabled }, opts.nowMs ?? Date.now());
  await app.store.updateJob(updated);
  return updated;
}

export interface RemoveOptions extends Pick<JobCallOptions, 'terms'> {
  /** Also remove the jobs that run after it (directly or through others), instead of refusing. */
  force?: boolean;
}

/**
 * Deletes a job and its run history; `removed` is false when it vanished meanwhile. A job other
 * jobs run after is refused (`has_successors`, naming them): they would wait forever. With
 * `force` those successors go too, the furthest first, and are listed in `alsoRemoved`.
 */
export async function removeJob(
  app: App,
  ref: JobRef,
  opts: RemoveOptions = {},
): Promise<{ job: Job; removed: boolean; alsoRemoved: Job[] }> {
  const terms = opts.terms ?? CLI_TERMS;
  const job = await requireJob(app, ref, { terms });
  const successors = successorsOf(await app.store.listJobs(), job.name);
  if (successors.length > 0 && opts.force !== true) {
    const w = terms.hasSuccessors(job, successors);
    throw new UserError(w.message, { hint: w.hint, exitCode: EXIT.conflict, code: 'has_successors' });
  }
  for (const s of [...successors].reverse()) await app.store.deleteJob(s.id);
  return { job, removed: await app.store.deleteJob(job.id), alsoRemoved: successors };
}

/** Problems with a stored job that do not stop it being saved (alerts with no channel), in words. */
export function warningsForJob(app: App, job: Job): string[] {
  return jobWarnings(app.config(), job);
}

/** What `cron show` and `job_show` present: the job, its contract in words and its next fires. */
export interface JobShow {
  job: Job;
  /** The execution contract, one sentence per line (domain/contract.ts). */
  contract: string[];
  /** The next fire times (epoch ms); empty when disabled or finished. */
  nextFires: number[];
  /** The zone the schedule's wall-clock times are in. */
  timeZone: string;
}

export async function showJob(
  app: App,
  ref: JobRef,
  opts: Pick<JobCallOptions, 'terms' | 'nowMs'> & { count?: number } = {},
): Promise<JobShow> {
  const job = await requireJob(app, ref, opts);
  const nextFires = jobNextFires(job, opts.nowMs ?? Date.now(), opts.count ?? 5);
  const timeZone = scheduleTimeZone(job.schedule);
  return {
    job,
    contract: describeContract(job, nextFires, timeZone, {
      defaultAlertChannels: app.config().alerts.channels,
      ...(await writerOnlyRepository(app, job)),
    }),
    nextFires,
    timeZone,
  };
}

/** A backup job's recipients repository that this host can write but not read (no identity reference). */
async function writerOnlyRepository(
  app: App,
  job: Job,
): Promise<{ writerOnly?: { repository: string; verifySubset?: string } }> {
  if (job.payload.kind !== 'backup') return {};
  const profile = await app.store.profiles.get(job.payload.profile);
  if (!profile || profile.key.kind !== 'recipients' || profile.key.identityRef !== undefined) return {};
  return {
    writerOnly: {
      repository: profile.repository,
      ...(profile.verifySubset !== undefined ? { verifySubset: profile.verifySubset } : {}),
    },
  };
}

/** Refuses a job whose chain names a missing job or closes a cycle (domain/chain.ts). */
async function checkChains(app: App, job: Job): Promise<void> {
  assertChainsValid([...(await app.store.listJobs()).filter((j) => j.id !== job.id), job]);
}

async function save(app: App, job: Job, how: 'insert' | 'update', terms: Terms): Promise<void> {
  try {
    if (how === 'insert') await app.store.insertJob(job);
    else await app.store.updateJob(job);
  } catch (err) {
    if (err instanceof StoreConflictError) {
      const w = terms.nameTaken(job.name);
      throw new UserError(w.message, { hint: w.hint, exitCode: EXIT.conflict, code: 'name_taken' });
    }
    throw err;
  }
}
