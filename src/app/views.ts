/**
 * How jobs and runs look in structured output: the CLI's `--json`, the MCP tools' results (and the
 * HTTP API's bodies). The public shapes (publicJob, runDetail) are for faces an agent or a remote
 * client reads: environment values and stdin contents never leave the store through them; their
 * presence is shown (env keys, input size) so the reader can still reason about the job.
 */
import type { Job, Run } from '../domain/job.ts';
import type { Session } from '../domain/session.ts';
import { nextFireTimes } from '../domain/schedule.ts';

/**
 * The status column OpenClaw shows for a job, computed from enabled, running and last result:
 * `disabled`, `running`, `ok`, `error`, `skipped` or `idle` (never ran).
 */
export function jobStatus(job: Job): string {
  if (!job.enabled) return 'disabled';
  if (job.state.runningAtMs !== undefined) return 'running';
  const last = job.state.lastRunStatus;
  if (last === undefined) return 'idle';
  if (last === 'ok') return 'ok';
  if (last === 'skipped' || last === 'missed') return 'skipped';
  return 'error';
}

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

/** A job as jobView shows it, with `payload.env` and `payload.input` replaced by their shape. */
export function publicJob(job: Job, nowMs: number): Record<string, unknown> {
  const view = jobView(job, nowMs);
  if (job.payload.kind !== 'command') return { ...view, payload: job.payload };
  const { env, input, ...payload } = job.payload;
  return {
    ...view,
    payload: {
      ...payload,
      envKeys: Object.keys(env ?? {}),
      inputBytes: input === undefined ? null : Buffer.byteLength(input),
    },
  };
}

/** A page of runs as `cron runs --json`, the runs_list tool and GET /api/v1/runs show it. */
export function runPageView(page: {
  entries: Run[];
  total: number;
  hasMore: boolean;
  nextCursor: string | null;
}): { entries: Array<Record<string, unknown>>; total: number; hasMore: boolean; nextCursor: string | null } {
  return {
    entries: page.entries.map(runView),
    total: page.total,
    hasMore: page.hasMore,
    nextCursor: page.nextCursor,
  };
}

/** A run as runView shows it, plus the evidence checks and the ending signal. */
export function runDetail(run: Run): Record<string, unknown> {
  return { ...runView(run), signal: run.signal ?? null, evidence: run.evidence ?? [] };
}

/** A session as `session list --json` shows it, with its pending inbox count. */
export function sessionView(s: Session, pending: number): Record<string, unknown> {
  return {
    id: s.id,
    agent: s.agent,
    kind: s.kind,
    createdAt: new Date(s.createdAtMs).toISOString(),
    updatedAt: new Date(s.updatedAtMs).toISOString(),
    pendingInbox: pending,
  };
}
