/**
 * Rows of the PostgreSQL store to domain objects and back (the store and the cluster part both
 * read runs).
 */
import type { Selectable } from 'kysely';
import type { Job, JobState, Run } from '../domain/job.ts';
import type { PgJobsTable, PgRunsTable } from './postgres-schema.ts';
import { rowToRun, runToRow } from './run-rows.ts';

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
  return { ...runToRow(run), owner };
}

export function toRun(row: Selectable<PgRunsTable>): Run {
  return rowToRun(row);
}
