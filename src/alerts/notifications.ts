/**
 * The words of alert notifications: titles, texts and the facts table for failures, recoveries,
 * anomalies and the dead-man's switch. Values only from the run record (never payload settings
 * such as commands or environment, which may hold secrets).
 */
import type { Notification } from '../delivery/channel.ts';
import { formatDuration } from '../domain/duration.ts';
import type { Job, Run } from '../domain/job.ts';
import type { Anomaly } from './anomaly.ts';
import { formatBytes } from '../domain/bytes.ts';

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Facts of a run: attempt, duration, exit code, and the backup's snapshot and sizes when it has them. */
export function runFields(run: Run): Record<string, string> {
  const f: Record<string, string> = {};
  if (run.attempt > 1) f.attempt = String(run.attempt);
  if (run.durationMs !== undefined) f.duration = formatDuration(run.durationMs);
  if (run.exitCode !== undefined && run.exitCode !== null) f.exitCode = String(run.exitCode);
  if (run.signal) f.signal = run.signal;
  const b = run.details?.backup;
  if (b) {
    f.profile = b.profile;
    f.snapshot = b.snapshotId ?? 'none';
    if (b.bytesRead !== undefined) f.bytesRead = formatBytes(b.bytesRead);
    if (b.bytesAdded !== undefined) f.bytesAdded = formatBytes(b.bytesAdded);
    if (b.repoBytes !== undefined) f.repoBytes = formatBytes(b.repoBytes);
    if (b.freeBytesBefore !== undefined) f.freeBytesBefore = formatBytes(b.freeBytesBefore);
  }
  const d = run.details?.drill;
  if (d) {
    f.snapshot = d.snapshotId;
    f.verified = `${d.verified}/${d.sampled}`;
    if (d.failures.length > 0) f.drillFailures = String(d.failures.length);
  }
  return f;
}

function base(job: Job, run: Run): Pick<Notification, 'jobId' | 'jobName' | 'runId' | 'status'> {
  return { jobId: job.id, jobName: job.name, runId: run.runId, status: run.status };
}

export function failureNotification(job: Job, run: Run, failures: number): Notification {
  const what =
    run.status === 'timeout'
      ? 'timed out'
      : run.status === 'missed'
        ? 'missed its slot'
        : run.status === 'skipped'
          ? 'was skipped'
          : 'failed';
  const times = failures > 1 ? ` (${failures} times in a row)` : '';
  return {
    ...base(job, run),
    title: `${job.name} ${what}${times}`,
    text: `Run ${run.runId} of job "${job.name}" ended ${run.status}: ${run.error ?? 'no reason recorded'}`,
    severity: 'error',
    fields: { ...runFields(run), consecutiveFailures: String(failures) },
  };
}

export function recoveryNotification(job: Job, run: Run, failures: number): Notification {
  return {
    ...base(job, run),
    title: `${job.name} recovered`,
    text: `Run ${run.runId} of job "${job.name}" ended ok${failures > 0 ? ` after ${failures} failed run${failures === 1 ? '' : 's'}` : ''}.`,
    severity: 'recovery',
    fields: runFields(run),
  };
}

export function anomalyNotification(job: Job, run: Run, anomalies: Anomaly[]): Notification {
  const first = anomalies[0]!;
  const title =
    first.kind === 'repo-size'
      ? `${job.name}: repository above its size limit`
      : first.kind === 'duration'
        ? `${job.name}: backup took unusually long`
        : `${job.name}: backup added unusually much data`;
  return {
    ...base(job, run),
    title: anomalies.length > 1 ? `${job.name}: backup anomalies` : title,
    text: `Run ${run.runId} of job "${job.name}" ended ok, but ${anomalies.map((a) => a.message).join('; ')}.`,
    severity: 'warning',
    fields: { ...runFields(run), anomalies: anomalies.map((a) => a.kind).join(', ') },
  };
}

export function deadManNotification(
  job: Job,
  sinceMs: number,
  spanMs: number,
  nowMs: number,
  everOk: boolean,
): Notification {
  const since = everOk ? `since ${iso(sinceMs)}` : `since the job was created (${iso(sinceMs)})`;
  return {
    jobId: job.id,
    jobName: job.name,
    title: `${job.name}: no successful run for ${formatDuration(Math.max(0, nowMs - sinceMs))}`,
    text: `Job "${job.name}" has had no ok run ${since}; it should succeed at least every ${formatDuration(spanMs)}.${job.enabled ? '' : ' The job is disabled.'}`,
    severity: 'error',
    fields: {
      lastOk: everOk ? iso(sinceMs) : 'never',
      expectedEvery: formatDuration(spanMs),
      ...(job.state.lastRunStatus ? { lastRunStatus: job.state.lastRunStatus } : {}),
      ...(job.state.lastRunAtMs !== undefined ? { lastRunAt: iso(job.state.lastRunAtMs) } : {}),
      enabled: String(job.enabled),
    },
  };
}
