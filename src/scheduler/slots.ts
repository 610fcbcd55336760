/**
 * A job's slots: the schedule math of domain/schedule.ts applied to one job (its grid anchor is
 * its creation time), plus the bounded enumeration catch-up needs — a job firing every second
 * that was down for a week has 600k missed slots, and only the newest few matter.
 */
import type { Job } from '../domain/job.ts';
import { nextFireTimes, slotsBetween } from '../domain/schedule.ts';

/** The first slot strictly after `afterMs`, or undefined when the schedule is spent (a past `at`). */
export function nextSlotAfter(job: Job, afterMs: number): number | undefined {
  return nextFireTimes(job.schedule, afterMs, 1, job.createdAtMs)[0];
}

/** True when `t` is one of the job's slots. */
export function isSlot(job: Job, t: number): boolean {
  return slotsBetween(job.schedule, t - 1, t, job.createdAtMs, 1).length === 1;
}

/** Slots in a range: the newest ones one by one, everything older only counted. */
export interface SlotRange {
  /** The newest slots of the range, ascending (at most the cap asked for). */
  recent: number[];
  /** The slots before `recent`, when there were more than the cap. */
  older?: OlderSlots;
}

export interface OlderSlots {
  /** Oldest and newest of these slots. */
  fromMs: number;
  toMs: number;
  count: number;
  /** True when counting stopped early: there are at least `count` slots. */
  atLeast: boolean;
}

/** Counting older slots one by one stops here (cron slots cost a few µs each). */
const COUNT_LIMIT = 100_000;

/**
 * The job's slots in (fromExclusiveMs, toInclusiveMs]: the newest `cap` (or somewhat fewer) listed,
 * older ones summarized. Costs O(cap · log(range)) slot computations however long the range.
 */
export function slotsIn(job: Job, fromExclusiveMs: number, toInclusiveMs: number, cap: number): SlotRange {
  const s = job.schedule;
  const anchor = job.createdAtMs;
  const limit = Math.max(1, cap);
  const head = slotsBetween(s, fromExclusiveMs, toInclusiveMs, anchor, limit + 1);
  if (head.length <= limit) return { recent: head };

  // More than `cap` slots: widen a window back from the end until it would hold more than `cap`.
  let span = Math.max(1, head[limit]! - head[0]!);
  let recent: number[] | undefined;
  let recentFrom = toInclusiveMs;
  for (let i = 0; i < 80; i++) {
    const lo = Math.max(fromExclusiveMs, toInclusiveMs - span);
    const got = slotsBetween(s, lo, toInclusiveMs, anchor, limit + 1);
    if (got.length > limit) {
      if (recent !== undefined || span <= 1) break;
      span = Math.floor(span / 2);
      continue;
    }
    recent = got;
    recentFrom = lo;
    if (lo === fromExclusiveMs) break;
    span *= 2;
  }
  recent ??= [];
  if (s.kind === 'every') {
    // A grid: count by arithmetic, however many there are.
    const first = head[0]!;
    if (recentFrom < first) return { recent };
    const count = Math.floor((recentFrom - first) / s.everyMs) + 1;
    return { recent, older: { fromMs: first, toMs: first + (count - 1) * s.everyMs, count, atLeast: false } };
  }
  const older = slotsBetween(s, fromExclusiveMs, recentFrom, anchor, COUNT_LIMIT);
  if (older.length === 0) return { recent };
  return {
    recent,
    older: {
      fromMs: older[0]!,
      toMs: older[older.length - 1]!,
      count: older.length,
      atLeast: older.length >= COUNT_LIMIT,
    },
  };
}
