/**
 * Spring-forward gaps of a time zone: the local times that do not exist on the day clocks jump
 * ahead. A job fixed at such a time fires at the first valid instant after the gap (Vixie cron's
 * rule, docs/scheduling.md); `doctor` warns about it before the day comes.
 */
import { zoneOffsetMs } from './schedule.ts';

export interface DstGap {
  /** The instant the clocks jump. */
  atMs: number;
  /** The first local wall time that does not exist, as if it were UTC (e.g. 02:00 on that date). */
  wallStartMs: number;
  /** How much wall time is skipped (usually one hour, 30 minutes in some zones). */
  lengthMs: number;
}

const DAY_MS = 86_400_000;

/** The gaps in (fromMs, toMs], oldest first. */
export function dstGaps(tz: string, fromMs: number, toMs: number): DstGap[] {
  const out: DstGap[] = [];
  let t = fromMs;
  let offset = zoneOffsetMs(tz, t);
  while (t < toMs) {
    const next = Math.min(t + DAY_MS, toMs);
    const nextOffset = zoneOffsetMs(tz, next);
    if (nextOffset > offset) {
      // Offsets change on whole seconds: narrow the jump down to one.
      let lo = t;
      let hi = next;
      while (hi - lo > 1000) {
        const mid = Math.floor((lo + hi) / 2000) * 1000;
        if (zoneOffsetMs(tz, mid) === offset) lo = mid;
        else hi = mid;
      }
      out.push({ atMs: hi, wallStartMs: hi + offset, lengthMs: nextOffset - offset });
    }
    t = next;
    offset = nextOffset;
  }
  return out;
}
