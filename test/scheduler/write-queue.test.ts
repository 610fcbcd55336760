import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { WriteQueue } from '../../src/scheduler/write-queue.ts';
import { harness, makeJob, T0 } from './harness.ts';
import type { Harness } from './harness.ts';
import type { Run } from '../../src/domain/job.ts';

function run(jobId: string, slotMs: number, extra: Partial<Run> = {}): Run {
  return {
    runId: `${jobId}-${slotMs}`,
    jobId,
    slotMs,
    attempt: 1,
    trigger: 'schedule',
    status: 'running',
    startedAtMs: slotMs,
    ...extra,
  };
}

describe('write queue (batched store writes)', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('writes issued together commit together, each with its own answer', async () => {
    h = await harness();
    await h.store.insertJob(makeJob('a'));
    const q = new WriteQueue(h.store);
    const results = await Promise.all([
      q.claim(run('a', T0)),
      q.claim(run('a', T0, { runId: 'dup' })), // same slot: not claimed
      q.claim(run('gone', T0)), // no such job: skipped, not an error
      q.patchState('a', { lastError: 'x', consecutiveErrors: 2 }),
      q.patchState('gone', { consecutiveErrors: 1 }),
    ]);
    assert.deepEqual(results, [true, false, false, true, false]);
    assert.equal((await h.store.getRun('a-' + T0))?.status, 'running');
    assert.equal(await h.store.getRun('dup'), undefined);
    assert.equal((await h.store.findJob('a'))?.state.consecutiveErrors, 2);

    await Promise.all([
      q.finish('a-' + T0, { status: 'error', error: 'boom', finishedAtMs: T0 + 1500, exitCode: 2 }),
      q.patchState('a', { lastError: undefined }),
      ...[1, 2, 3].map((k) =>
        q.claim(
          run('a', T0 + k * 1000, { status: 'skipped', error: 'overlap', finishedAtMs: T0 + k * 1000 }),
        ),
      ),
    ]);
    const finished = await h.store.getRun('a-' + T0);
    assert.equal(finished?.status, 'error');
    assert.equal(finished?.durationMs, 1500);
    assert.equal(finished?.exitCode, 2);
    assert.equal((await h.store.findJob('a'))?.state.lastError, undefined);

    await q.prune('a', { maxRuns: 2, olderThanMs: 0 });
    assert.deepEqual(
      (await h.store.listRuns({ jobId: 'a' })).entries.map((r) => r.slotMs - T0),
      [3000, 2000],
    );
  });
  test("one job's state patches in one batch become one statement, later keys winning", async () => {
    h = await harness();
    await h.store.insertJob(makeJob('a'));
    await h.store.insertJob(makeJob('b'));
    let statements = 0;
    const store = new Proxy(h.store, {
      get(target, prop, receiver) {
        if (prop !== 'writeBatch') return Reflect.get(target, prop, receiver) as unknown;
        return (writes: Parameters<typeof target.writeBatch>[0]) => {
          statements += writes.length;
          return target.writeBatch(writes);
        };
      },
    });
    const q = new WriteQueue(store);
    const results = await Promise.all([
      q.patchState('a', { runningAtMs: T0, nextRunAtMs: T0 + 60_000, lastError: 'old' }),
      q.patchState('b', { consecutiveErrors: 3 }),
      q.patchState('a', { runningAtMs: undefined, lastRunStatus: 'ok' }),
      q.patchState('gone', { consecutiveErrors: 1 }),
      q.patchState('a', { lastError: undefined }),
    ]);
    assert.deepEqual(results, [true, true, true, false, true]);
    assert.equal(statements, 3, 'a, b and gone: one statement each');
    const a = (await h.store.findJob('a'))?.state;
    assert.equal(a?.runningAtMs, undefined);
    assert.equal(a?.nextRunAtMs, T0 + 60_000);
    assert.equal(a?.lastRunStatus, 'ok');
    assert.equal(a?.lastError, undefined);
    assert.equal((await h.store.findJob('b'))?.state.consecutiveErrors, 3);
  });
  test('a write the store refuses fails alone; the rest of its batch is committed', async () => {
    h = await harness();
    await h.store.insertJob(makeJob('a'));
    const q = new WriteQueue(h.store);
    const [good, bad, patched] = await Promise.allSettled([
      q.claim(run('a', T0)),
      // A time that is not a whole millisecond does not fit the INTEGER column.
      q.claim(run('a', T0 + 1000, { startedAtMs: T0 + 1000.5 })),
      q.patchState('a', { consecutiveErrors: 4 }),
    ]);
    assert.deepEqual(good, { status: 'fulfilled', value: true });
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /INTEGER/);
    assert.deepEqual(patched, { status: 'fulfilled', value: true });
    assert.equal((await h.store.getRun('a-' + T0))?.status, 'running');
    assert.equal(await h.store.getRun(`a-${T0 + 1000}`), undefined);
    assert.equal((await h.store.findJob('a'))?.state.consecutiveErrors, 4);
  });

  test('a database that fails every write (disk full) fails the batch once, without retrying each write', async () => {
    h = await harness();
    await h.store.insertJob(makeJob('a'));
    let calls = 0;
    const store = new Proxy(h.store, {
      get(target, prop, receiver) {
        if (prop !== 'writeBatch') return Reflect.get(target, prop, receiver) as unknown;
        return () => {
          calls++;
          return Promise.reject(
            Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }),
          );
        };
      },
    });
    const q = new WriteQueue(store);
    const results = await Promise.allSettled([
      q.claim(run('a', T0)),
      q.patchState('a', { consecutiveErrors: 1 }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.equal(calls, 1);
  });
});
