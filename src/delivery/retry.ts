/**
 * Retries for outbound delivery: exponential backoff on transient failures (network errors,
 * timeouts, 5xx), the server's own Retry-After on 429, and no retry on other client errors
 * (a 400 or 404 will not fix itself). Waiting goes through an injected `sleep`, so tests never
 * wait for real.
 */
import type { Clock } from '../domain/clock.ts';
import type { RetryPolicy } from '../config/channel-config.ts';
import type { DeliveryResult } from './channel.ts';

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** A Sleep driven by a Clock (a ManualClock in tests, where `advance` ends the wait). */
export function clockSleep(clock: Clock): Sleep {
  return (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        handle.cancel();
        reject(signal?.reason);
      };
      const handle = clock.at(clock.now() + ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
}

/** The wait before retry number `retry` (1 = the first retry). */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
}

/** Parses Retry-After: delta seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** What one attempt came to. Errors must already be free of secrets. */
export type AttemptOutcome =
  | { ok: true; status?: number }
  | { ok: false; status?: number; error: string; retryable: boolean; retryAfterMs?: number };

export interface RetryRun {
  policy: RetryPolicy;
  sleep: Sleep;
  now: () => number;
  signal?: AbortSignal;
}

/** Runs `attempt` until it succeeds, fails for good, runs out of attempts or is aborted. */
export async function withRetry(
  attempt: (n: number) => Promise<AttemptOutcome>,
  run: RetryRun,
): Promise<DeliveryResult> {
  const started = run.now();
  const done = (r: Omit<DeliveryResult, 'durationMs'>): DeliveryResult => ({
    ...r,
    durationMs: Math.max(0, run.now() - started),
  });
  const attempts = Math.max(1, Math.floor(run.policy.attempts));
  let last: AttemptOutcome | undefined;
  for (let n = 1; n <= attempts; n++) {
    if (run.signal?.aborted) return done(failure(n - 1, last, 'cancelled before delivery'));
    last = await attempt(n);
    if (last.ok)
      return done({ ok: true, attempts: n, ...(last.status !== undefined && { status: last.status }) });
    if (run.signal?.aborted)
      return done(
        failure(n, last, last.error.startsWith('cancelled') ? last.error : `cancelled (${last.error})`),
      );
    if (!last.retryable || n === attempts) return done(failure(n, last));
    let wait = backoffDelay(run.policy, n);
    if (last.retryAfterMs !== undefined) {
      if (last.retryAfterMs > run.policy.maxRetryAfterMs)
        return done(
          failure(
            n,
            last,
            `${last.error}; the server asked to wait ${Math.ceil(last.retryAfterMs / 1000)}s, more than the ${Math.ceil(run.policy.maxRetryAfterMs / 1000)}s allowed, so not retried`,
          ),
        );
      wait = last.retryAfterMs;
    }
    try {
      await run.sleep(wait, run.signal);
    } catch {
      return done(failure(n, last, `cancelled while waiting to retry (${last.error})`));
    }
  }
  // Unreachable: the loop returns on its last attempt.
  return done(failure(attempts, last));
}

function failure(
  attempts: number,
  last: AttemptOutcome | undefined,
  error?: string,
): Omit<DeliveryResult, 'durationMs'> {
  const out: Omit<DeliveryResult, 'durationMs'> = { ok: false, attempts };
  if (last?.status !== undefined) out.status = last.status;
  out.error = error ?? (last && !last.ok ? last.error : 'not delivered');
  if (attempts > 1 && error === undefined) out.error += ` (after ${attempts} attempts)`;
  return out;
}
