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
  | { kind: 'at'; at: string; tz?: string }
  /** A chain: runs when its predecessors' runs end (chain.ts), never at a time of its own. */
  | { kind: 'after'; after: ChainLink[]; withinMs?: number };

/** Which end of a predecessor's run lets a follower start. */
export type ChainOn = 'success' | 'failure' | 'always';
export const CHAIN_ON: readonly ChainOn[] = ['success', 'failure', 'always'];

/** One predecessor of a chained job, by name. */
export interface ChainLink {
  job: string;
  /** Default `success`. */
  on: ChainOn;
}

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

/** Runs the backup a stored backup profile describes (precheck, backup, forget, prune, verify). */
export interface BackupPayload {
  kind: 'backup';
  /** Name of a backup profile (`nightshift backup profile add`). */
  profile: string;
  /** Default 0 (none): a first backup may take hours. */
  timeoutSeconds?: number;
}

/**
 * Restores a random sample of the latest snapshot of a profile and verifies it. Either `profile`,
 * or `repository` with `identityRef` (a drill where the identity lives, with no profile there).
 */
export interface DrillPayload {
  kind: 'drill';
  profile?: string;
  /** Repository location, with identityRef instead of a profile. */
  repository?: string;
  /** Secret reference to the age identity that reads `repository`. */
  identityRef?: string;
  /** How many files to restore (default 20). Exclusive with samplePercent. */
  sampleFiles?: number;
  /** Or a percentage of the snapshot's files, 0 < p <= 100. */
  samplePercent?: number;
  timeoutSeconds?: number;
}

/** OpenClaw's session targets: the agent's main session, a fresh one per run, the session that created the job, or a named one. */
export type SessionTarget = 'main' | 'isolated' | 'current' | `session:${string}`;

/** Puts text into a session's inbox; executes nothing. Runs end `delivered`, never `ok`. */
export interface SystemEventPayload {
  kind: 'systemEvent';
  text: string;
  /** Default `main`. */
  session: SessionTarget;
  /** `now` runs the agent's heartbeat at once; `next-heartbeat` (default) leaves the item for it. */
  wake: 'now' | 'next-heartbeat';
  /** The agent whose session it is (default `default`). */
  agent?: string;
  /** The session that created the job (jobs made by an agent through MCP); what `current` means. */
  createdBySession?: string;
}

/** Runs one agent turn against an OpenAI-compatible endpoint. */
export interface AgentTurnPayload {
  kind: 'agentTurn';
  message: string;
  /** Default `isolated`. */
  session: SessionTarget;
  /** The agent (model endpoint settings in the configuration's `agents` section); default `default`. */
  agent?: string;
  /** Overrides the agent's model. */
  model?: string;
  /** Models tried in order when the primary fails ("model" on the same endpoint, or "agent/model"). */
  fallbacks?: string[];
  /** Tools the model may call (`exec`, `message`, `backup_run`, ...). Default none. */
  tools?: string[];
  /** Argv prefixes `exec` may run. */
  execAllowlist?: string[][];
  /** Leave the session history out of the request. */
  lightContext?: boolean;
  /** Default 600. */
  timeoutSeconds?: number;
  /** The session that created the job (jobs made by an agent through MCP); what `current` means. */
  createdBySession?: string;
}

/** The visible heartbeat job of an agent: one agent turn on its main session with the pending inbox. */
export interface HeartbeatPayload {
  kind: 'heartbeat';
  /** Default `default`. */
  agent: string;
  timeoutSeconds?: number;
}

export type Payload =
  CommandPayload | BackupPayload | DrillPayload | SystemEventPayload | AgentTurnPayload | HeartbeatPayload;
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

/** Every run status; `delivered`: a system event was put into a session's inbox, nothing executed, so never `ok`. */
export const RUN_STATUSES = [
  'queued',
  'running',
  'ok',
  'error',
  'timeout',
  'skipped',
  'interrupted',
  'missed',
  'delivered',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type TerminalRunStatus = Exclude<RunStatus, 'queued' | 'running'>;
export const TERMINAL_RUN_STATUSES = RUN_STATUSES.filter(
  (s): s is TerminalRunStatus => s !== 'queued' && s !== 'running',
);
export type RunTrigger = 'schedule' | 'manual' | 'catchup' | 'retry' | 'chain';

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
  /** Failure, recovery and dead-man's-switch alerts (absent: the defaults of the payload kind). */
  alerts?: AlertPolicy;
  /** Where a job's result goes (OpenClaw's --announce / --webhook / --no-deliver). */
  delivery?: DeliveryPolicy;
  /** Where the job was imported from; a re-import finds the job by it and updates it in place. */
  source?: JobSource;
  /** healthchecks.io-style pings: `<url>/start`, `<url>` on success, `<url>/fail`, with `?rid=<runId>`. */
  healthcheck?: { url: string };
  /** Runs only on the daemon of this host (several daemons on PostgreSQL); absent: on any daemon. */
  onHost?: string;
  createdAtMs: number;
  updatedAtMs: number;
  state: JobState;
}

export type JobSource =
  | {
      kind: 'openclaw';
      /** The job's id in the system it came from. */
      id: string;
    }
  /** Declared in a job file (`nightshift apply`); the next apply overwrites edits made elsewhere. */
  | { kind: 'file'; path: string };

export interface AlertPolicy {
  /** Alert after this many consecutive failed runs (error, timeout, missed); 0 = never. Default 1 for backup and drill jobs, else 0. */
  afterFailures: number;
  /** No repeat of a failure alert for the same job within this span (default 1 h). */
  cooldownMs: number;
  /** Send a recovery notice on the first success after an alert (default true). */
  recovery: boolean;
  /** Dead-man's switch: alert when no `ok` run finished within this span, whether or not the job ran. */
  ifNoSuccessWithinMs?: number;
  /** Channel names; default the configuration's `alerts.channels`. */
  channels?: string[];
  /** Backup jobs: alert when new data or duration exceeds factor x the median of the last runs. */
  anomalyFactor?: number;
  /** Backup jobs: alert when the repository's stored size exceeds this many bytes (any backend). */
  maxRepoBytes?: number;
  /** Backup jobs: alert when the local repository's filesystem is fuller than this percentage. */
  maxRepoUsagePercent?: number;
  /** Skipped runs (overlap) count toward afterFailures like failed ones (OpenClaw's failureAlert.includeSkipped). */
  includeSkipped?: boolean;
}

/** Where a job's result is delivered. */
export type DeliveryPolicy =
  | { mode: 'none' }
  | {
      mode: 'announce';
      channel: string;
      to?: string;
      /** The thread or topic inside `to` (Telegram topic, Discord thread); only those channels have them. */
      threadId?: string;
      failureDestination?: DeliveryTarget;
    }
  | { mode: 'webhook'; url: string; failureDestination?: DeliveryTarget };

export interface DeliveryTarget {
  channel: string;
  to?: string;
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
  /** What the payload kind records beside status and output (backup stats, model usage, delivery). */
  details?: RunDetails;
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

/** Payload-specific facts a run keeps; each part is written by the executor of its kind. */
export interface RunDetails {
  backup?: BackupRunDetails;
  drill?: DrillRunDetails;
  agent?: AgentRunDetails;
  /** What was intended, what it resolved to, and whether it arrived. */
  delivery?: DeliveryRecord[];
  /** Alerts this run caused (failure, recovery, anomaly). */
  alerts?: DeliveryRecord[];
  /** Chain runs: the predecessor run that started this one (or, for a broken chain, what was missing). */
  chain?: ChainRunDetails;
}

export interface ChainRunDetails {
  /** The predecessor run whose end completed the chain (the last of several). */
  afterRunId?: string;
  afterJob?: string;
  /** Every predecessor run that counted, by job name. */
  runs: Record<string, string>;
}

export interface BackupRunDetails {
  profile: string;
  repository: string;
  snapshotId?: string;
  filesNew?: number;
  filesChanged?: number;
  filesUnmodified?: number;
  bytesRead?: number;
  /** Bytes added to the repository (after dedup and compression). */
  bytesAdded?: number;
  /** Total stored size of the repository after the run. */
  repoBytes?: number;
  /** Snapshot ids removed by the retention policy. */
  forgotten?: string[];
  pruned?: boolean;
  /** Bytes freed by prune. */
  prunedBytes?: number;
  verified?: { ok: boolean; readDataSubset?: string; packsRead?: number; bytesRead?: number; errors: number };
  /** How full the repository's filesystem is after the run, in percent (local repositories). */
  repoDiskUsedPercent?: number;
  /** Free bytes on the repository's filesystem before the run (local repositories). */
  freeBytesBefore?: number;
  /** Database, git and command sources: what each produced, or why it was skipped. */
  sources?: SourceRunRecord[];
  /** Copies of the new snapshot to the profile's --copy-to repositories. */
  copies?: {
    repository: string;
    ok: boolean;
    snapshotId?: string;
    forgotten?: number;
    error?: string;
    /** How full a local destination's filesystem is after the copy, in percent (a USB disk, a NAS mount). */
    diskUsedPercent?: number;
  }[];
  durationMs?: number;
}

export interface SourceRunRecord {
  name: string;
  kind: string;
  /** Where it is in the snapshot, e.g. /databases/postgres/erp.dump. */
  path: string;
  /** `skipped`: an optional source that could not run (the run stays ok, with a warning). */
  status: 'ok' | 'skipped' | 'failed';
  exitCode?: number | null;
  bytes: number;
  durationMs: number;
  reason?: string;
}

export interface DrillRunDetails {
  /** The profile drilled; absent for a drill of a repository named with an identity reference. */
  profile?: string;
  repository?: string;
  snapshotId: string;
  /** Regular files in the snapshot (the sample is drawn from them). */
  filesInSnapshot?: number;
  sampled: number;
  /** Sampled files restored whose every chunk matched the snapshot's content hashes (byte-exact). */
  verified: number;
  bytesRestored?: number;
  durationMs?: number;
  /** Files that still match the live copy (unchanged since the snapshot). */
  matchedLive: number;
  /** Files whose live copy changed since the snapshot (not compared). */
  skippedChanged: number;
  failures: { path: string; problem: string }[];
  /** Database sources restored into a scratch database (created and dropped by the drill) and queried. */
  databases?: DrillDatabaseResult[];
}

export interface DrillDatabaseResult {
  source: string;
  kind: string;
  /** The scratch database it was restored into. */
  scratch: string;
  ok: boolean;
  query?: string;
  /** Rows the check query returned. */
  rows?: number;
  problem?: string;
}

export interface AgentRunDetails {
  agent: string;
  model: string;
  endpoint: string;
  sessionId: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  toolCalls: { name: string; allowed: boolean; denial?: string }[];
  reply?: string;
  suppressed?: boolean;
  /** How the session was chosen when that is worth saying (`current` without a creating session). */
  note?: string;
  /** Heartbeats: inbox items the turn took. */
  inboxTaken?: number;
}

export interface DeliveryRecord {
  /** failure-alert, recovery, dead-man, anomaly, announce, webhook, failure-notice, healthcheck */
  purpose: string;
  /** What was configured (`announce slack:ops`), in words. */
  intended: string;
  /** The channel it resolved to, or `none` with why. */
  resolved: string;
  delivered: boolean;
  error?: string;
  atMs: number;
}
