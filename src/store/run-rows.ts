/**
 * A run as a table row and back, shared by the SQLite and PostgreSQL stores (their runs tables
 * have the same columns; PostgreSQL adds `owner`).
 */
import type { Run, RunStatus, RunTrigger } from '../domain/job.ts';

export interface RunRow {
  run_id: string;
  job_id: string;
  slot_ms: number;
  attempt: number;
  trigger: string;
  status: string;
  error: string | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  duration_ms: number | null;
  exit_code: number | null;
  signal: string | null;
  output_tail: string | null;
  /** EvidenceResult[] as JSON. */
  evidence: string | null;
  /** RunDetails as JSON. */
  details: string | null;
  pid: number | null;
  not_before_ms: number | null;
}

export function runToRow(run: Run): RunRow {
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
  };
}

export function rowToRun(row: RunRow): Run {
  const run: Run = {
    runId: row.run_id,
    jobId: row.job_id,
    slotMs: row.slot_ms,
    attempt: row.attempt,
    trigger: row.trigger as RunTrigger,
    status: row.status as RunStatus,
  };
  // Absent values stay absent (not null) so JSON output only shows what is known.
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
