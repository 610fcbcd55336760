/**
 * Catch-up: what happens to slots that came due while the daemon was not running (or, live, were
 * more than a moment late, e.g. after a suspend). Pure planning; the engine writes the records.
 *
 * - `skip`: every missed slot is recorded `missed`.
 * - `one`: the newest missed slot runs (trigger `catchup`); the others are `missed`.
 * - `all`: missed slots within `catchupWindowMs` run oldest first, at most `catchupMax` of them
 *   (the newest ones); the rest are `missed`.
 *
 * Records are bounded: at most MAX_MISSED_RECORDS (and no more than the job's history keeps)
 * missed slots are written one by one; anything older becomes one summary record, so a job firing
 * every second that was down for a week writes about a thousand rows, not 600,000.
 */
import type { Job, JobPolicy } from '../domain/job.ts';
import type { OlderSlots, SlotRange } from './slots.ts';

export const MAX_MISSED_RECORDS = 1_000;

/** How many missed slots of this job are recorded one by one. */
export function missedRecordCap(job: Job): number {
  return Math.max(1, Math.min(MAX_MISSED_RECORDS, job.history.maxRuns - 1));
}

export interface CatchupPlan {
  /** Slots to run now, ascending. */
  run: number[];
  /** Slots to record as `missed`, ascending. */
  missed: number[];
  /** Older missed slots, recorded as one `missed` record at `summary.fromMs`. */
  summary?: OlderSlots;
}

export function planCatchup(policy: JobPolicy, slots: SlotRange, nowMs: number): CatchupPlan {
  const recent = slots.recent;
  let run: number[] = [];
  if (policy.catchup === 'one' && recent.length > 0) {
    run = [recent[recent.length - 1]!];
  } else if (policy.catchup === 'all') {
    const inWindow = recent.filter((t) => t >= nowMs - policy.catchupWindowMs);
    run = policy.catchupMax > 0 ? inWindow.slice(-policy.catchupMax) : [];
  }
  const runSet = new Set(run);
  const plan: CatchupPlan = { run, missed: recent.filter((t) => !runSet.has(t)) };
  if (slots.older) plan.summary = slots.older;
  return plan;
}

/** The reason a summary record gives. */
export function summaryReason(older: OlderSlots, why: string): string {
  const from = new Date(older.fromMs).toISOString();
  const to = new Date(older.toMs).toISOString();
  const n = older.atLeast ? `at least ${older.count}` : String(older.count);
  return `${n} slots from ${from} to ${to} missed (${why}; not recorded one by one)`;
}
