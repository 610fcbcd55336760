/**
 * Retry backoff: retry n (1-based) waits backoff[min(n, len) - 1] (default 30s, 1m, 5m, 15m,
 * 60m), ±10% jitter so many jobs failing together do not retry in lockstep.
 */
import { DEFAULT_RETRY_BACKOFF_MS } from '../domain/job.ts';

export const RETRY_JITTER = 0.1;

/** `random` returns [0, 1) like Math.random (injected so tests get exact values). */
export function retryDelayMs(
  backoffMs: readonly number[],
  retryNumber: number,
  random: () => number,
): number {
  const table = backoffMs.length > 0 ? backoffMs : DEFAULT_RETRY_BACKOFF_MS;
  const base = table[Math.min(Math.max(1, retryNumber), table.length) - 1]!;
  const factor = 1 + (random() * 2 - 1) * RETRY_JITTER;
  return Math.max(0, Math.round(base * factor));
}
