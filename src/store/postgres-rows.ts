/**
 * Rows of the PostgreSQL store to domain objects and back (the store and the cluster part both
 * read runs).
 */
import type { Selectable } from 'kysely';
import type { Job, JobState, Run, RunStatus, RunTrigger } from '../domain/job.ts';
import type { PgJobsTable, PgRunsTable } from './postgres-schema.ts';

export function fromJob(job: Job): PgJobsTable {
  const { state, ...rest } = job;
  return {
    id: job.id,
    name: job.name,
    enabled: job.enabled,
    data: JSON.stringify(rest),
    state: JSON.stringify(state),
    on_host: job.onHost ?? null,
    created_at_ms: job.createdAtMs,
    updated_at_ms: job.updatedAtMs,
  };
}

export function toJob(row: Selectable<PgJobsTable>): Job {
  const data = JSON.parse(row.data) as Omit<Job, 'state'>;
  return {
    ...data,
    id: row.id,
    name: row.name,
    enabled: row.enabled,
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
    state: row.state as JobState,
  };
}

export function fromRun(run: Run, owner: number | null): PgRunsTable {
  return {
    run_id: run.runId,
    job_id: run.jobId,
    slot_ms: run.slotMs,
    attempt: run.attempt,
    trigger: run.trigger,
    status: run.status,
    error: run.error ?? null,
    started_at_ms: run.startedAtMs ?? null,
    finished_at_ms: run.finishedAtMs ?? null,
    duration_ms: run.durationMs ?? null,
    exit_code: run.exitCode ?? null,
    signal: run.signal ?? null,
    output_tail: run.outputTail ?? null,
    evidence: run.evidence ? JSON.stringify(run.evidence) : null,
    details: run.details ? JSON.stringify(run.details) : null,
    pid: run.pid ?? null,
    not_before_ms: run.notBeforeMs ?? null,
    owner,
  };
}

export function toRun(row: Selectable<PgRunsTable>): Run {
  const run: Run = {
    runId: row.run_id,
    jobId: row.job_id,
    slotMs: row.slot_ms,
    attempt: row.attempt,
    trigger: row.trigger as RunTrigger,
    status: row.status as RunStatus,
  };
  if (row.error !== null) run.error = row.error;
  if (row.started_at_ms !== null) run.startedAtMs = row.started_at_ms;
  if (row.finished_at_ms !== null) run.finishedAtMs = row.finished_at_ms;
  if (row.duration_ms !== null) run.durationMs = row.duration_ms;
  if (row.exit_code !== null) run.exitCode = row.exit_code;
  if (row.signal !== null) run.signal = row.signal;
  if (row.output_tail !== null) run.outputTail = row.output_tail;
  if (row.evidence !== null) run.evidence = JSON.parse(row.evidence) as Run['evidence'];
  if (row.details !== null) run.details = JSON.parse(row.details) as Run['details'];
  if (row.pid !== null) run.pid = row.pid;
  if (row.not_before_ms !== null) run.notBeforeMs = row.not_before_ms;
  return run;
}
