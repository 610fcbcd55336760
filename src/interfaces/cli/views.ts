/**
 * How jobs and runs look in JSON output, shared by the commands that print them.
 */
import type { App } from '../../app/app.ts';
import { probeDaemonLock } from '../../app/daemon-lock.ts';
import type { Job, Run } from '../../domain/job.ts';
import { nextFireTimes } from '../../domain/schedule.ts';
import { jobStatus } from './format.ts';

/** Next fire times of a job after `afterMs` (none when disabled). */
export function jobNextFires(job: Job, afterMs: number, count: number): number[] {
  if (!job.enabled) return [];
  return nextFireTimes(job.schedule, afterMs, count, job.createdAtMs);
}

/** The job as `list --json`/`show --json` give it: the stored job plus OpenClaw's status field. */
export function jobView(job: Job, nowMs: number): Job & { status: string; nextRunAtMs: number | null } {
  return { ...job, status: jobStatus(job), nextRunAtMs: jobNextFires(job, nowMs, 1)[0] ?? null };
}

/** A run in the exact shape `runs --json` documents (absent values are null, never missing). */
export function runView(run: Run): Record<string, unknown> {
  return {
    runId: run.runId,
    jobId: run.jobId,
    status: run.status,
    trigger: run.trigger,
    attempt: run.attempt,
    slotMs: run.slotMs,
    startedAtMs: run.startedAtMs ?? null,
    finishedAtMs: run.finishedAtMs ?? null,
    durationMs: run.durationMs ?? null,
    exitCode: run.exitCode ?? null,
    error: run.error ?? null,
    outputTail: run.outputTail ?? null,
    // The proof of `ok` and what the payload kind recorded (backup stats, model usage, deliveries).
    evidence: run.evidence ?? null,
    details: run.details ?? null,
  };
}

/** What `cron status --json` and the MCP `status` tool report. */
export interface StatusReport {
  home: string;
  daemon: { running: boolean; pid: number | null; host: string | null; startedAtMs: number | null };
  jobs: { total: number; enabled: number };
  nextFire: { jobId: string; name: string; atMs: number; at: string } | null;
  failing: {
    id: string;
    name: string;
    lastRunStatus: string | null;
    lastError: string | null;
    consecutiveErrors: number;
  }[];
}

export async function statusReport(app: App, nowMs: number): Promise<StatusReport> {
  const lock = probeDaemonLock(app.home.daemonLockPath);
  const jobs = await app.store.listJobs();
  const enabled = jobs.filter((j) => j.enabled);
  let next: { job: Job; atMs: number } | undefined;
  for (const job of enabled) {
    const at = jobNextFires(job, nowMs, 1)[0];
    if (at !== undefined && (next === undefined || at < next.atMs)) next = { job, atMs: at };
  }
  const failing = jobs.filter(
    (j) => j.state.consecutiveErrors > 0 || (j.state.lastRunStatus !== undefined && jobStatus(j) === 'error'),
  );
  return {
    home: app.home.dir,
    daemon: lock.held
      ? {
          // A CLI process running a job in place of a daemon holds the same lock with role `run`.
          running: lock.holder?.role !== 'run',
          pid: lock.holder?.pid ?? null,
          host: lock.holder?.host ?? null,
          startedAtMs: lock.holder?.startedAtMs ?? null,
        }
      : { running: false, pid: null, host: null, startedAtMs: null },
    jobs: { total: jobs.length, enabled: enabled.length },
    nextFire: next
      ? { jobId: next.job.id, name: next.job.name, atMs: next.atMs, at: new Date(next.atMs).toISOString() }
      : null,
    failing: failing.map((j) => ({
      id: j.id,
      name: j.name,
      lastRunStatus: j.state.lastRunStatus ?? null,
      lastError: j.state.lastError ?? null,
      consecutiveErrors: j.state.consecutiveErrors,
    })),
  };
}
