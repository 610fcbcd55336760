import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { harness, LEAD, makeJob, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';
import type { ExecutionOutcome } from '../../src/payloads/executor.ts';

const fail: ExecutionOutcome = { status: 'error', error: 'exit status 1', exitCode: 1 };

describe('engine: retries', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('a failed run is retried after the backoff (with jitter), then the job returns to its grid', async () => {
    h = await harness(T0 + SEC);
    let failures = 2;
    h.exec.auto = () => (failures-- > 0 ? fail : { status: 'ok' });
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: 10 * MIN },
        policy: { retries: 3, retryBackoffMs: [30 * SEC, 2 * MIN] },
      }),
    );
    const engine = h.engine({ random: () => 0 }); // jitter -10%
    await engine.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    await engine.idle();
    const [retry] = (await h.store.unfinishedRuns()).filter((r) => r.status === 'queued');
    assert.equal(retry?.trigger, 'retry');
    assert.equal(retry?.attempt, 2);
    assert.equal(retry?.slotMs, T0 + 10 * MIN);
    assert.equal(retry?.notBeforeMs, T0 + 10 * MIN + 27 * SEC);
    assert.equal(h.clock.nextTimerAt(), T0 + 10 * MIN + 27 * SEC, 'wakes for the retry');

    await h.clock.advanceTo(T0 + 15 * MIN);
    await engine.idle();
    assert.deepEqual(
      h.exec.calls.map((c) => [(c.ctx.startedAtMs - T0) / SEC, c.ctx.attempt, c.ctx.slotMs]),
      [
        [600, 1, T0 + 10 * MIN],
        [627, 2, T0 + 10 * MIN],
        [627 + 108, 3, T0 + 10 * MIN], // second backoff: 2 min - 10%
      ],
    );
    const job = await h.store.findJob('a');
    assert.equal(job?.state.lastRunStatus, 'ok');
    assert.equal(job?.state.consecutiveErrors, 0);
    // Back on the grid: the next slot is 20 min, not 10 min after the retry.
    assert.equal(h.clock.nextTimerAt(), T0 + 20 * MIN - LEAD);
    await h.clock.advanceTo(T0 + 20 * MIN);
    await engine.idle();
    assert.equal(h.exec.calls.at(-1)!.ctx.slotMs, T0 + 20 * MIN);
    assert.equal(h.exec.calls.at(-1)!.ctx.startedAtMs, T0 + 20 * MIN);
  });

  test('a pending retry survives a restart and runs when due', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = () => fail;
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: 10 * MIN },
        policy: { retries: 1, retryBackoffMs: [MIN] },
      }),
    );
    const first = h.engine();
    await first.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    await first.idle();
    await first.stop();
    h.exec.auto = () => ({ status: 'ok' });
    await h.clock.advanceTo(T0 + 10 * MIN + 30 * SEC);
    const second = h.engine();
    await second.start();
    assert.equal(h.clock.nextTimerAt(), T0 + 11 * MIN);
    await h.clock.advanceTo(T0 + 11 * MIN);
    await second.idle();
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => [r.attempt, r.trigger, r.status]),
      [
        [1, 'schedule', 'error'],
        [2, 'retry', 'ok'],
      ],
    );
  });

  test('after the last retry fails the job waits for its next slot; errors are counted', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = () => fail;
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: 10 * MIN },
        policy: { retries: 1, retryBackoffMs: [MIN] },
      }),
    );
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 19 * MIN);
    await engine.idle();
    assert.equal(h.exec.calls.length, 2);
    assert.equal((await h.store.unfinishedRuns()).length, 0);
    const job = await h.store.findJob('a');
    assert.equal(job?.state.consecutiveErrors, 2);
    assert.equal(job?.state.lastError, 'exit status 1');
    assert.equal(h.clock.nextTimerAt(), T0 + 20 * MIN - LEAD);
  });

  test('slots that come due while a retry waits follow the overlap policy (skip)', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = () => fail;
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: MIN },
        policy: { retries: 1, retryBackoffMs: [150 * SEC] },
      }),
    );
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 3 * MIN + 30 * SEC);
    await engine.idle();
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => `${(r.slotMs - T0) / MIN}:${r.attempt}:${r.status}`),
      ['1:1:error', '1:2:error', '2:1:skipped', '3:1:skipped'],
    );
    assert.equal(runs[2]!.error, 'overlap');
  });

  test('manual runs are not retried', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = () => fail;
    await h.store.insertJob(
      makeJob('a', { schedule: { kind: 'every', everyMs: 10 * MIN }, policy: { retries: 3 } }),
    );
    const engine = h.engine();
    await engine.start();
    await engine.requestRun('a');
    await engine.idle();
    assert.equal((await h.store.unfinishedRuns()).length, 0);
    assert.equal(h.exec.calls.length, 1);
  });
});
