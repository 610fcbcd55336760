/**
 * The run use cases: a job's (or every job's) run history, one run, and a manual run requested
 * now, optionally waited for. run-now.ts holds the mechanics of a manual run (the daemon lock,
 * executing in this process when no daemon runs); this file is what the faces call.
 */
import { EXIT, UserError } from '../domain/errors.ts';
import type { Run, RunStatus } from '../domain/job.ts';
import type { RunRequestResult } from '../scheduler/engine.ts';
import type { RunPage } from '../store/store.ts';
import type { App } from './app.ts';
import { requireJob } from './jobs.ts';
import { findHistoryOwner } from './run-history.ts';
import { decodeRunCursor, encodeRunCursor } from './run-cursor.ts';
import type { HistoryOwner } from './run-history.ts';
import type { RunExecutor } from './run-now.ts';
import { CLI_TERMS } from './terms.ts';
import type { Terms } from './terms.ts';

/** Queues a manual run with a running engine (the daemon's, when the face runs inside it). */
export type RunRequester = (jobIdOrName: string, opts: { due?: boolean }) => Promise<RunRequestResult>;

/** An existing job, or a deleted one whose runs are kept (see run-history.ts); else `not_found`. */
export async function requireHistoryOwner(
  app: App,
  idOrName: string,
  opts: { terms?: Terms } = {},
): Promise<HistoryOwner> {
  return (await findHistoryOwner(app.store, idOrName)) ?? (await requireJob(app, idOrName, opts));
}

export interface RunFilter {
  /** A job id or exact name, or the id of a deleted job that still has runs; all jobs when absent. */
  job?: string;
  status?: RunStatus;
  /** Default 20. */
  limit?: number;
  /** Default 0. */
  offset?: number;
  /** The previous page's nextCursor: the page after it, by key (offset is then not used). */
  cursor?: string;
}

/** A page of runs, and the cursor of the page after it (null on the last page). */
export type RunListPage = RunPage & { nextCursor: string | null };

/** Run history, newest first, one page of it; `owner` is the job asked for, if one was. */
export async function listRuns(
  app: App,
  filter: RunFilter & { job: string },
  opts?: { terms?: Terms },
): Promise<RunListPage & { owner: HistoryOwner }>;
export async function listRuns(
  app: App,
  filter?: RunFilter,
  opts?: { terms?: Terms },
): Promise<RunListPage & { owner?: HistoryOwner }>;
export async function listRuns(
  app: App,
  filter: RunFilter = {},
  opts: { terms?: Terms } = {},
): Promise<RunListPage & { owner?: HistoryOwner }> {
  const after = filter.cursor === undefined ? undefined : decodeRunCursor(filter.cursor);
  const owner = filter.job === undefined ? undefined : await requireHistoryOwner(app, filter.job, opts);
  const page = await app.store.listRuns({
    ...(owner ? { jobId: owner.id } : {}),
    ...(filter.status ? { status: filter.status } : {}),
    limit: filter.limit ?? 20,
    offset: filter.offset ?? 0,
    ...(after ? { after } : {}),
  });
  const last = page.entries.at(-1);
  const withCursor = { ...page, nextCursor: page.hasMore && last ? encodeRunCursor(last) : null };
  return owner ? { ...withCursor, owner } : withCursor;
}

/** One run and the name of its job (null once the job is deleted); `not_found` when there is none. */
export async function getRun(
  app: App,
  runId: string,
  opts: { terms?: Terms } = {},
): Promise<{ run: Run; jobName: string | null }> {
  const run = await app.store.getRun(runId);
  if (!run) {
    const w = (opts.terms ?? CLI_TERMS).runNotFound(runId);
    throw new UserError(w.message, { hint: w.hint, exitCode: EXIT.notFound, code: 'not_found' });
  }
  const job = await app.store.findJob(run.jobId);
  return { run, jobName: job?.name ?? null };
}

export interface RunNowOptions {
  /** Only run if the job has a slot due now. */
  due?: boolean;
  /** Wait for the run to end, until `deadlineMs` at most; the run itself goes on past it. */
  wait?: boolean;
  deadlineMs?: number;
  /** A running engine to queue the run with (inside the daemon); else the way of `cron run`. */
  requestRun?: RunRequester;
  /** Stops a run this process executes (its whole process group; it is recorded as it ended). */
  signal?: AbortSignal;
  /**
   * Receives a run this process executes: it outlives the call when not waited for to the end,
   * so the caller keeps it to wait for at shutdown (and to see it fail).
   */
  track?: (running: Promise<unknown>) => void;
}

export interface RunNowResult {
  result: RunRequestResult;
  executor: RunExecutor;
  /** With `wait`: the run as it stands (terminal unless the deadline came first). */
  run?: Run;
}

/**
 * Requests a manual run of a job now: queued with `requestRun` when given, else the way `cron run`
 * does it (queued for a daemon, or executed by this process when none holds the home).
 */
export async function runNow(
  app: App,
  ref: string,
  opts: RunNowOptions = {},
  callOpts: { terms?: Terms } = {},
): Promise<RunNowResult> {
  const jobId = (await requireJob(app, ref, callOpts)).id;
  // Loaded here: the engine and every executor are only needed by a manual run.
  const { requestManualRun } = await import('./run-now.ts');
  let result: RunRequestResult;
  let executor: RunExecutor;
  let inProcess: Promise<{ run?: Run }> | undefined;
  if (opts.requestRun) {
    result = await opts.requestRun(jobId, { due: opts.due === true });
    executor = { by: 'daemon' };
  } else {
    let settle!: (v: { result: RunRequestResult; executor: RunExecutor }) => void;
    const requested = new Promise<{ result: RunRequestResult; executor: RunExecutor }>((r) => (settle = r));
    const started = requestManualRun(app, jobId, {
      due: opts.due === true,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onRequested: (res, ex) => settle({ result: res, executor: ex }),
    });
    opts.track?.(started);
    // A refusal (the job vanished) rejects before onRequested; it reaches the caller from here.
    ({ result, executor } = await Promise.race([requested, started.then(() => requested)]));
    if (executor.by === 'this-process') inProcess = started;
  }
  if (opts.wait !== true || !result.enqueued || result.runId === undefined) return { result, executor };
  const run = await waitUntil(app, result.runId, opts.deadlineMs, inProcess);
  return run ? { result, executor, run } : { result, executor };
}

/** The run once terminal, or as it stands at the deadline. */
async function waitUntil(
  app: App,
  runId: string,
  deadlineMs: number | undefined,
  inProcess: Promise<{ run?: Run }> | undefined,
): Promise<Run | undefined> {
  if (!inProcess) return (await import('./run-now.ts')).waitForRun(app, runId, deadlineMs);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => {
    if (deadlineMs !== undefined) timer = setTimeout(() => r(undefined), deadlineMs - Date.now());
  });
  try {
    const done = await Promise.race([inProcess.then((o) => o.run).catch(() => undefined), timeout]);
    return done ?? (await app.store.getRun(runId));
  } finally {
    clearTimeout(timer);
  }
}
