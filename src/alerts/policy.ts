/**
 * What alerting a job gets, and how a run counts: the effective policy (the job's own, else the
 * defaults of its payload kind) and the classification of terminal statuses. Pure, no I/O.
 */
import type { AlertPolicy, Job, Run, TerminalRunStatus } from '../domain/job.ts';

export const DEFAULT_COOLDOWN_MS = 3_600_000;
/** Backup jobs watch for size and duration jumps by default; other kinds only when asked. */
export const DEFAULT_BACKUP_ANOMALY_FACTOR = 5;
/** How many earlier ok runs the anomaly median looks at, and how many it needs. */
export const ANOMALY_HISTORY = 10;
export const ANOMALY_MIN_HISTORY = 3;
/** Jumps below these sizes are not worth a message, whatever the factor (a median of 0 is common). */
export const ANOMALY_MIN_BYTES = 1024 * 1024;
export const ANOMALY_MIN_DURATION_MS = 60_000;

/** The policy with every default filled in. */
export interface EffectivePolicy {
  afterFailures: number;
  cooldownMs: number;
  recovery: boolean;
  ifNoSuccessWithinMs?: number;
  /** Empty: the configuration's `alerts.channels`. */
  channels: string[];
  /** Undefined: no size/duration anomaly checks. */
  anomalyFactor?: number;
  maxRepoBytes?: number;
  maxRepoUsagePercent?: number;
  /** Skipped runs count as failures toward afterFailures. */
  includeSkipped: boolean;
}

/**
 * Jobs whose failures alert without being asked: losing backups silently is the worst case, and
 * a chain with a `within` window asked to hear when it breaks.
 */
function alertsByDefault(job: Job): boolean {
  return (
    job.payload.kind === 'backup' ||
    job.payload.kind === 'drill' ||
    (job.schedule.kind === 'after' && job.schedule.withinMs !== undefined)
  );
}

export function effectivePolicy(job: Job): EffectivePolicy {
  const p: Partial<AlertPolicy> = job.alerts ?? {};
  const out: EffectivePolicy = {
    afterFailures: p.afterFailures ?? (alertsByDefault(job) ? 1 : 0),
    cooldownMs: p.cooldownMs ?? DEFAULT_COOLDOWN_MS,
    recovery: p.recovery ?? true,
    channels: p.channels ?? [],
    includeSkipped: p.includeSkipped === true,
  };
  if (p.ifNoSuccessWithinMs !== undefined && p.ifNoSuccessWithinMs > 0)
    out.ifNoSuccessWithinMs = p.ifNoSuccessWithinMs;
  const factor =
    p.anomalyFactor ?? (job.payload.kind === 'backup' ? DEFAULT_BACKUP_ANOMALY_FACTOR : undefined);
  if (factor !== undefined && factor > 0) out.anomalyFactor = factor;
  if (p.maxRepoBytes !== undefined && p.maxRepoBytes > 0) out.maxRepoBytes = p.maxRepoBytes;
  if (p.maxRepoUsagePercent !== undefined && p.maxRepoUsagePercent > 0)
    out.maxRepoUsagePercent = p.maxRepoUsagePercent;
  return out;
}

/** Whether anything about the job can raise an alert (failures, silence, anomalies, repository size). */
export function isWatched(policy: EffectivePolicy): boolean {
  return (
    policy.afterFailures > 0 ||
    policy.ifNoSuccessWithinMs !== undefined ||
    policy.anomalyFactor !== undefined ||
    policy.maxRepoBytes !== undefined ||
    policy.maxRepoUsagePercent !== undefined
  );
}

export type RunClass = 'failure' | 'success' | 'neutral';

/**
 * error, timeout and missed are failures; ok is a success; skipped, interrupted, delivered say
 * nothing, except skipped when the job asks for it (a job that is always still busy is stuck).
 */
export function classify(status: Run['status'], includeSkipped = false): RunClass {
  switch (status as TerminalRunStatus) {
    case 'skipped':
      return includeSkipped ? 'failure' : 'neutral';
    case 'error':
    case 'timeout':
    case 'missed':
      return 'failure';
    case 'ok':
      return 'success';
    default:
      return 'neutral';
  }
}

/**
 * A failed scheduled attempt that the engine will retry is not the slot's outcome yet: only the
 * last attempt counts, so a job with retries alerts when its retries are used up (the same rule as
 * the engine's retry.ts: manual runs are never retried).
 */
export function retryPending(job: Job, run: Run): boolean {
  return (
    (run.status === 'error' || run.status === 'timeout') &&
    run.trigger !== 'manual' &&
    run.attempt <= job.policy.retries
  );
}
