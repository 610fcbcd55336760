/**
 * How long before a slot its claim is written. Claiming is the expensive part of a fire (the
 * jobs' schedule math and one commit for every run due together: ~40 ms for 1,000 jobs); done
 * at the slot it would make every payload that late. So the engine claims a little ahead and
 * starts the payloads at the slot itself. The lead grows with the number of jobs due together
 * and with what claims have been measured to cost here, twice over for safety, within bounds:
 * a short lead keeps the window small in which a claimed run waits for its time.
 */
export interface LeadBounds {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_LEAD: LeadBounds = { minMs: 10, maxMs: 500 };

/** Until measured: a claim costs 50 µs (a quiet 2-core machine measures 30-45 µs). */
const INITIAL_PER_CLAIM_MS = 0.05;
const SAFETY = 2;
/** Batches smaller than this are mostly fixed cost; they say little about the cost per claim. */
const MIN_SAMPLE = 20;
/** Weight of a new measurement in the running estimate. */
const WEIGHT = 0.3;

export class ClaimLead {
  private perClaimMs = INITIAL_PER_CLAIM_MS;

  constructor(private readonly bounds: LeadBounds = DEFAULT_LEAD) {}

  /** Whole milliseconds ahead of their slot to claim `count` runs due together. */
  forCount(count: number): number {
    const { minMs, maxMs } = this.bounds;
    return Math.min(maxMs, Math.ceil(minMs + SAFETY * this.perClaimMs * count));
  }

  /** Learns from one batch: claiming `count` runs took `elapsedMs` of real time. */
  observe(count: number, elapsedMs: number): void {
    if (count < MIN_SAMPLE || !(elapsedMs >= 0)) return;
    this.perClaimMs = (1 - WEIGHT) * this.perClaimMs + WEIGHT * (elapsedMs / count);
  }
}
