/**
 * What the engine reports while it works. Each event is a flat JSON-able object; the daemon prints
 * one per line. Events carry ids, times and reasons, never payload details (commands, env), so
 * nothing secret can leak through the log.
 */
import type { RunStatus, RunTrigger } from '../domain/job.ts';

export type EngineEvent =
  | { event: 'engine.started'; jobs: number; recovered: number; queued: number }
  | { event: 'engine.stopping'; running: number }
  | { event: 'engine.stopped' }
  | { event: 'engine.error'; error: string; jobId?: string; runId?: string }
  | {
      event: 'run.started';
      jobId: string;
      jobName: string;
      runId: string;
      slotMs: number;
      attempt: number;
      trigger: RunTrigger;
    }
  | {
      event: 'run.finished';
      jobId: string;
      jobName: string;
      runId: string;
      slotMs: number;
      attempt: number;
      trigger: RunTrigger;
      status: RunStatus;
      error?: string;
      durationMs: number;
      exitCode?: number | null;
    }
  | {
      event: 'run.queued';
      jobId: string;
      runId: string;
      slotMs: number;
      attempt: number;
      trigger: RunTrigger;
      notBeforeMs: number;
    }
  | { event: 'run.skipped'; jobId: string; runId: string; slotMs: number; reason: string }
  | { event: 'run.missed'; jobId: string; slots: number; fromMs: number; toMs: number; catchupRuns: number }
  | { event: 'run.interrupted'; jobId: string; runId: string; pid?: number; killed: boolean }
  | { event: 'job.deleted'; jobId: string; jobName: string; reason: string }
  | { event: 'job.disabled'; jobId: string; jobName: string; reason: string }
  | {
      event: 'chain.triggered';
      jobId: string;
      jobName: string;
      runId: string;
      afterJob: string;
      afterRunId: string;
    }
  | { event: 'chain.broken'; jobId: string; jobName: string; runId: string; reason: string };

export type EngineLog = (event: EngineEvent) => void;
