/**
 * A manual run (`cron run`). When a daemon holds the home, the run is queued for it; otherwise this
 * process takes the daemon lock for the run's duration (so no daemon starting meanwhile runs or
 * "recovers" it) and executes the run itself.
 */
import { SystemClock } from '../domain/clock.ts';
import type { Run, RunStatus } from '../domain/job.ts';
import type { RunRequestResult } from '../scheduler/engine.ts';
import type { RunOutputSink } from '../payloads/live-output.ts';
import { buildEngine } from './engine.ts';
import type { App } from './app.ts';
import { readLockHolder, tryAcquireDaemonLock } from './daemon-lock.ts';
import type { LockHolder } from './daemon-lock.ts';

/** Who executes the requested run. */
export type RunExecutor =
  | { by: 'daemon'; holder?: LockHolder }
  /** Another CLI process holds the home (running a job itself); the run waits for a daemon. */
  | { by: 'nobody-yet'; holder?: LockHolder }
  | { by: 'this-process' };

export interface ManualRunRequest {
  due?: boolean;
  /** Called once the request is settled, before an in-process run starts. */
  onRequested?: (result: RunRequestResult, executor: RunExecutor) => void;
  /** Lets the caller stop an in-process run (Ctrl-C, --timeout). */
  signal?: AbortSignal;
  /** Receives an in-process run's output as it arrives (`cron run --follow`). */
  output?: RunOutputSink;
}

export interface ManualRunOutcome {
  result: RunRequestResult;
  executor: RunExecutor;
  /** The finished run, when this process executed it. */
  run?: Run;
}

export async function requestManualRun(
  app: App,
  idOrName: string,
  req: ManualRunRequest = {},
): Promise<ManualRunOutcome> {
  const lock = tryAcquireDaemonLock(app.home.daemonLockPath, 'run');
  const { engine } = buildEngine(app, {
    clock: new SystemClock(),
    role: 'run',
    ...(req.output ? { output: req.output } : {}),
  });
  try {
    const result = await engine.requestRun(idOrName, { due: req.due === true });
    if (!lock) {
      const holder = readLockHolder(app.home.daemonLockPath);
      const executor: RunExecutor =
        holder?.role === 'run'
          ? { by: 'nobody-yet', holder }
          : holder
            ? { by: 'daemon', holder }
            : { by: 'daemon' };
      req.onRequested?.(result, executor);
      return { result, executor };
    }
    const executor: RunExecutor = { by: 'this-process' };
    req.onRequested?.(result, executor);
    if (!result.enqueued || result.runId === undefined) return { result, executor };
    const runId = result.runId;
    const onAbort = (): void => void stopRunProcess(app, runId);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const run = await engine.runQueuedNow(runId);
      return { result, executor, run };
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    lock?.release();
  }
}

/**
 * Ends an in-process run's whole process group (the executor then records how it ended). The
 * child runs in its own group, so a Ctrl-C on the terminal does not reach it by itself.
 */
async function stopRunProcess(app: App, runId: string): Promise<void> {
  const run = await app.store.getRun(runId);
  if (!run?.pid) return;
  try {
    process.kill(-run.pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/** Polls the store until the run is terminal or `deadlineMs` passes; returns the last state seen. */
export async function waitForRun(
  app: App,
  runId: string,
  deadlineMs: number | undefined,
  pollMs = 200,
): Promise<Run | undefined> {
  for (;;) {
    const run = await app.store.getRun(runId);
    if (!run || isTerminal(run.status)) return run;
    if (deadlineMs !== undefined && Date.now() >= deadlineMs) return run;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function isTerminal(status: RunStatus): boolean {
  return status !== 'queued' && status !== 'running';
}
