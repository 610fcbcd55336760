import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/domain/clock.ts';
import {
  backoffDelay,
  clockSleep,
  parseRetryAfter,
  withRetry,
  DEFAULT_RETRY_POLICY,
} from '../../src/delivery/retry.ts';
import type { AttemptOutcome } from '../../src/delivery/retry.ts';

describe('retry policy', () => {
  test('backoff doubles from the base and stops at the cap', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1000, maxDelayMs: 5000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)),
      [1000, 2000, 4000, 5000, 5000],
    );
  });

  test('Retry-After is read as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-22T03:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 03:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sun, 22 Nov 2026 02:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  test('waits on the injected clock: nothing is retried until the clock reaches the backoff', async () => {
    const clock = new ManualClock(0);
    const outcomes: AttemptOutcome[] = [
      { ok: false, error: 'HTTP 502', status: 502, retryable: true },
      { ok: true, status: 200 },
    ];
    let calls = 0;
    const pending = withRetry(async () => outcomes[calls++]!, {
      policy: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 60_000, maxDelayMs: 120_000 },
      sleep: clockSleep(clock),
      now: () => clock.now(),
    });
    // Let the first attempt fail and the backoff wait start.
    for (let i = 0; i < 100 && clock.pendingTimers() === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(clock.nextTimerAt(), 60_000);
    await clock.advance(59_999);
    assert.equal(calls, 1, 'still waiting before the backoff has passed');
    await clock.advance(1);
    const result = await pending;
    assert.deepEqual(result, { ok: true, attempts: 2, status: 200, durationMs: 60_000 });
  });

  test('a failure after the last attempt reports the count and the last error', async () => {
    const result = await withRetry(
      async () => ({ ok: false, error: 'HTTP 503', status: 503, retryable: true }),
      {
        policy: { ...DEFAULT_RETRY_POLICY, attempts: 3, baseDelayMs: 0 },
        sleep: async () => {},
        now: () => 0,
      },
    );
    assert.deepEqual(result, {
      ok: false,
      attempts: 3,
      status: 503,
      error: 'HTTP 503 (after 3 attempts)',
      durationMs: 0,
    });
  });
});
