/**
 * The "run output" use case: what a run printed. A running run shows the live tail the daemon
 * keeps in memory (payloads/live-output.ts); a finished one its stored tail. Following a run gives
 * its tail now, then each line as it comes, then the run's end.
 */
import type { Clock, TimerHandle } from '../domain/clock.ts';
import type { Run, RunStatus, TerminalRunStatus } from '../domain/job.ts';
import type { LiveOutput, OutputStream } from '../payloads/live-output.ts';
import type { App } from './app.ts';
import { getRun } from './runs.ts';
import type { Terms } from './terms.ts';

export interface RunOutput {
  runId: string;
  jobId: string;
  jobName: string | null;
  status: RunStatus;
  /** Where the text comes from: the daemon's memory while running, the run record once ended. */
  source: 'live' | 'stored' | 'none';
  output: string;
  /** Earlier output scrolled out of the kept tail. */
  truncated: boolean;
}

export type RunOutputEvent =
  | { kind: 'line'; stream: OutputStream; text: string }
  | { kind: 'end'; status: TerminalRunStatus; output: RunOutput };

/** How often a followed run that this process does not execute is looked up in the store. */
export const FOLLOW_POLL_MS = 2_000;

function isRunning(status: RunStatus): boolean {
  return status === 'running' || status === 'queued';
}

function shape(run: Run, jobName: string | null, live: LiveOutput | undefined): RunOutput {
  const base = { runId: run.runId, jobId: run.jobId, jobName, status: run.status };
  const tail = isRunning(run.status) ? live?.tail(run.runId) : undefined;
  if (tail) return { ...base, source: 'live', output: tail.text, truncated: tail.truncated };
  if (run.outputTail !== undefined)
    return { ...base, source: 'stored', output: run.outputTail, truncated: false };
  return { ...base, source: 'none', output: '', truncated: false };
}

/** The run's output as it stands; `not_found` when there is no such run. */
export async function runOutput(
  app: App,
  live: LiveOutput | undefined,
  runId: string,
  opts: { terms?: Terms } = {},
): Promise<RunOutput> {
  const { run, jobName } = await getRun(app, runId, opts);
  return shape(run, jobName, live);
}

export interface OutputFollow {
  /** The output so far. */
  initial: RunOutput;
  /** Whether events follow (false: the run had ended already). */
  following: boolean;
  stop(): void;
}

/**
 * Follows a run: `initial` is its output so far; `onEvent` gets each further line and, once, the
 * end with the stored output. A run executed by another process (a cluster peer, `cron run`)
 * sends no lines here; its end is found by looking at the store every FOLLOW_POLL_MS.
 */
export async function followRunOutput(
  app: App,
  live: LiveOutput | undefined,
  clock: Clock,
  runId: string,
  onEvent: (event: RunOutputEvent) => void,
  opts: { terms?: Terms } = {},
): Promise<OutputFollow> {
  const { run, jobName } = await getRun(app, runId, opts);
  const initial = shape(run, jobName, live);
  if (!isRunning(run.status)) return { initial, following: false, stop: () => {} };
  let stopped = false;
  let timer: TimerHandle | undefined;
  const finish = async (): Promise<void> => {
    if (stopped) return;
    const ended = await app.store.getRun(runId);
    if (stopped || !ended || isRunning(ended.status)) return;
    stop();
    onEvent({ kind: 'end', status: ended.status as TerminalRunStatus, output: shape(ended, jobName, live) });
  };
  // Registered in the same tick as the tail was read: no line falls between the two.
  const unfollow = live?.follow(runId, (e) => {
    if (e.kind === 'line') onEvent(e);
    else void finish();
  });
  const poll = (): void => {
    timer = clock.at(clock.now() + FOLLOW_POLL_MS, () => {
      void finish().then(() => {
        if (!stopped) poll();
      });
    });
  };
  const stop = (): void => {
    stopped = true;
    unfollow?.();
    timer?.cancel();
  };
  poll();
  return { initial, following: true, stop };
}
