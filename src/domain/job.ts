/**
 * The job model. Its JSON mirrors OpenClaw's cron job shape (id, name, schedule, payload, state,
 * …) so OpenClaw users recognise it; nightshift's own additions (policy, evidence, history) sit
 * beside those fields. Validation lives in job-validation.ts; schedule math in schedule.ts.
 */

/** When a job fires. */
export type Schedule =
  /** 5 or 6 fields (seconds first when 6), `L`, `#`, `@daily`…; tz is an IANA zone (default: host zone). */
  | { kind: 'cron'; expr: string; tz?: string }
  /** Every `everyMs`, on a grid anchored at `anchorMs` (default: the job's creation time). */
  | { kind: 'every'; everyMs: number; anchorMs?: number }
  /** One shot. ISO-8601; without an offset it means UTC, unless `tz` names the zone. */
  | { kind: 'at'; at: string; tz?: string };

/** Runs a command as a child process in its own process group. */
export interface CommandPayload {
  kind: 'command';
  /** A shell string, run by `/bin/sh -c`. Exactly one of `command` and `argv` is set. */
  command?: string;
  /** An argv vector, run without a shell. */
  argv?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Default 600; 0 means no timeout. On timeout the whole process group gets SIGTERM, then SIGKILL. */
  timeoutSeconds?: number;
}

/** Every payload kind. Later kinds (backup, webhook, agentTurn, systemEvent) join this union. */
export type Payload = CommandPayload;
export type PayloadKind = Payload['kind'];

export type OverlapPolicy = 'skip' | 'queue-one' | 'allow';
export type CatchupPolicy = 'skip' | 'one' | 'all';

export interface JobPolicy {
  /** What a slot does when the previous run is still going. Default `skip`. */
  overlap: OverlapPolicy;
  /** What happens to slots missed while the daemon was down. Default `skip`. */
  catchup: CatchupPolicy;
  /** With catchup `all`: only slots this recent are run (default 24 h). */
  catchupWindowMs: number;
  /** With catchup `all`: at most this many slots are run (default 10); older ones are `missed`. */
  catchupMax: number;
  /** Extra attempts after a failed one. Default 0. */
  retries: number;
  /** Delay before retry n (1-based) is backoffMs[min(n, len)-1], plus jitter. Default 30s,1m,5m,15m,60m. */
  retryBackoffMs: number[];
}

/** What must hold, beside exit status 0, for a run to count as `ok`. */
export interface Evidence {
  /** A file matching this glob exists and was modified during the run. */
  expectFile?: string;
  /** With expectFile: the matching file has at least this many bytes. */
  expectMinBytes?: number;
  /** The captured output (stdout+stderr) matches this regular expression. */
  expectOutput?: string;
}

/** How much run history a job keeps. Runs are only ever removed by these rules. */
export interface HistoryPolicy {
  /** Keep at most this many finished runs (default 200). */
  maxRuns: number;
  /** Drop finished runs older than this (default 30 days). */
  maxAgeMs: number;
  /** Bytes of combined stdout/stderr tail kept with each run (default 16 KiB). */
  outputTailBytes: number;
}

export type RunStatus =
  'queued' | 'running' | 'ok' | 'error' | 'timeout' | 'skipped' | 'interrupted' | 'missed';
export type TerminalRunStatus = Exclude<RunStatus, 'queued' | 'running'>;
export type RunTrigger = 'schedule' | 'manual' | 'catchup' | 'retry';

/** Mutable scheduling state, kept with the job (OpenClaw's field names). */
export interface JobState {
  nextRunAtMs?: number;
  runningAtMs?: number;
  lastRunAtMs?: number;
  lastRunStatus?: TerminalRunStatus;
  lastError?: string;
  lastDurationMs?: number;
  consecutiveErrors: number;
  consecutiveSkipped: number;
}

export interface Job {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  schedule: Schedule;
  payload: Payload;
  /** One-shot jobs: delete after a successful run (default true for `at`); false keeps them, disabled. */
  deleteAfterRun: boolean;
  policy: JobPolicy;
  evidence: Evidence;
  history: HistoryPolicy;
  createdAtMs: number;
  updatedAtMs: number;
  state: JobState;
}

export const DEFAULT_RETRY_BACKOFF_MS = [30_000, 60_000, 300_000, 900_000, 3_600_000];
export const DEFAULT_TIMEOUT_SECONDS = 600;
/** Between SIGTERM to a timed-out run's process group and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5000;

export const DEFAULT_POLICY: JobPolicy = {
  overlap: 'skip',
  catchup: 'skip',
  catchupWindowMs: 24 * 3_600_000,
  catchupMax: 10,
  retries: 0,
  retryBackoffMs: DEFAULT_RETRY_BACKOFF_MS,
};

export const DEFAULT_HISTORY: HistoryPolicy = {
  maxRuns: 200,
  maxAgeMs: 30 * 24 * 3_600_000,
  outputTailBytes: 16 * 1024,
};

/** One attempt at one slot of one job. */
export interface Run {
  runId: string;
  jobId: string;
  /** Nominal fire time of the slot (for manual runs: when the run was requested). */
  slotMs: number;
  attempt: number;
  trigger: RunTrigger;
  status: RunStatus;
  /** Why the run ended as it did (failed expectation, `overlap`, `timeout after 600s`, …). */
  error?: string;
  startedAtMs?: number;
  finishedAtMs?: number;
  durationMs?: number;
  exitCode?: number | null;
  signal?: string | null;
  outputTail?: string;
  /** Per-expectation results: what was checked and whether it held. */
  evidence?: EvidenceResult[];
  /** Pid of the payload's process group leader while running (for crash recovery). */
  pid?: number;
  /**
   * For `queued` runs: not to start before this instant. Manual runs, retries (backoff) and a
   * queue-one overlap slot wait as queued runs, so they survive a restart.
   */
  notBeforeMs?: number;
}

export interface EvidenceResult {
  check: string;
  ok: boolean;
  detail: string;
}
