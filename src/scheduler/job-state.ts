/**
 * The bookkeeping kept in job.state (OpenClaw's field names), computed here and written with
 * patchJobState only, so it never overwrites a user's edit of the job itself.
 */
import type { JobState, TerminalRunStatus } from '../domain/job.ts';

export interface FinishedRun {
  status: TerminalRunStatus;
  error?: string;
  startedAtMs: number;
  finishedAtMs: number;
}

/** State after a run finished. `othersRunning`: another run of the job is still going. */
export function stateAfterRun(prev: JobState, run: FinishedRun, othersRunning: boolean): Partial<JobState> {
  const failed = run.status === 'error' || run.status === 'timeout';
  return {
    lastRunAtMs: run.startedAtMs,
    lastRunStatus: run.status,
    lastError: run.status === 'ok' ? undefined : (run.error ?? run.status),
    lastDurationMs: Math.max(0, run.finishedAtMs - run.startedAtMs),
    consecutiveErrors:
      run.status === 'ok' ? 0 : failed ? (prev.consecutiveErrors ?? 0) + 1 : (prev.consecutiveErrors ?? 0),
    consecutiveSkipped: 0,
    runningAtMs: othersRunning ? prev.runningAtMs : undefined,
  };
}

/** State after a slot was skipped because the job was busy. */
export function stateAfterSkip(prev: JobState): Partial<JobState> {
  return { consecutiveSkipped: (prev.consecutiveSkipped ?? 0) + 1 };
}

/** Applies a patch the way the store does (undefined removes a field), to keep a cached copy true. */
export function applyStatePatch(state: JobState, patch: Partial<JobState>): JobState {
  const next: Record<string, unknown> = { ...state };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete next[k];
    else next[k] = v;
  }
  return next as unknown as JobState;
}
