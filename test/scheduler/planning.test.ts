import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '../../src/domain/job.ts';
import { planCatchup } from '../../src/scheduler/catchup.ts';
import { DueQueue } from '../../src/scheduler/due-queue.ts';
import { decideManual, decideSlot } from '../../src/scheduler/overlap.ts';
import { retryDelayMs } from '../../src/scheduler/retry.ts';
import { slotsIn } from '../../src/scheduler/slots.ts';
import { makeJob, HOUR, MIN, T0 } from './harness.ts';

describe('scheduler planning', () => {
  test('retry backoff follows the table (last entry repeats) with ±10% jitter', () => {
    const table = [30_000, 60_000, 300_000];
    assert.equal(
      retryDelayMs(table, 1, () => 0.5),
      30_000,
    );
    assert.equal(
      retryDelayMs(table, 2, () => 0),
      54_000,
    );
    assert.equal(
      retryDelayMs(table, 3, () => 0.999_999),
      330_000,
    );
    assert.equal(
      retryDelayMs(table, 9, () => 0.5),
      300_000,
    );
    assert.equal(
      retryDelayMs([], 5, () => 0.5),
      3_600_000,
      'default table: 60 m for the fifth retry',
    );
  });

  test('overlap decisions', () => {
    const idle = { running: 0, queued: 0 };
    const running = { running: 1, queued: 0 };
    const full = { running: 1, queued: 1 };
    assert.equal(decideSlot('skip', idle), 'run');
    assert.equal(decideSlot('skip', running), 'skip');
    assert.equal(decideSlot('skip', { running: 0, queued: 1 }), 'skip', 'a waiting retry keeps the job busy');
    assert.equal(decideSlot('queue-one', running), 'queue');
    assert.equal(decideSlot('queue-one', full), 'skip');
    assert.equal(decideSlot('allow', full), 'run');
    assert.deepEqual(decideManual('skip', running), { enqueue: false, reason: 'already running' });
    assert.deepEqual(decideManual('skip', { running: 0, queued: 1 }), { enqueue: true });
    assert.deepEqual(decideManual('queue-one', full), { enqueue: false, reason: 'already queued' });
    assert.deepEqual(decideManual('allow', full), { enqueue: true });
  });

  test('catch-up plans', () => {
    const recent = [1, 2, 3, 4, 5].map((k) => T0 + k * HOUR);
    const now = T0 + 6 * HOUR;
    assert.deepEqual(planCatchup(DEFAULT_POLICY, { recent }, now), { run: [], missed: recent });
    assert.deepEqual(planCatchup({ ...DEFAULT_POLICY, catchup: 'one' }, { recent }, now), {
      run: [recent[4]],
      missed: recent.slice(0, 4),
    });
    const all = planCatchup(
      { ...DEFAULT_POLICY, catchup: 'all', catchupWindowMs: 3 * HOUR + 1, catchupMax: 10 },
      { recent },
      now,
    );
    assert.deepEqual(all, { run: recent.slice(2), missed: recent.slice(0, 2) });
    const capped = planCatchup({ ...DEFAULT_POLICY, catchup: 'all', catchupMax: 2 }, { recent }, now);
    assert.deepEqual(capped.run, recent.slice(3));
  });

  test('slotsIn lists the newest slots and counts the rest, for cron and every', () => {
    const every = makeJob('e', { schedule: { kind: 'every', everyMs: MIN } });
    const r = slotsIn(every, T0, T0 + 24 * HOUR, 100);
    assert.ok(r.recent.length <= 100 && r.recent.length >= 50);
    assert.equal(r.recent.at(-1), T0 + 24 * HOUR);
    assert.equal(r.older!.fromMs, T0 + MIN);
    assert.equal(r.older!.count + r.recent.length, 24 * 60);
    assert.equal(r.older!.toMs + MIN, r.recent[0]);

    const cron = makeJob('c', { schedule: { kind: 'cron', expr: '*/5 * * * *', tz: 'UTC' } });
    const c = slotsIn(cron, T0, T0 + 24 * HOUR, 50);
    assert.equal(c.recent.at(-1), T0 + 24 * HOUR);
    assert.equal(c.older!.count + c.recent.length, 24 * 12);
    assert.equal(c.older!.toMs + 5 * MIN, c.recent[0]);
    assert.deepEqual(slotsIn(cron, T0, T0 + 20 * MIN, 50), {
      recent: [5, 10, 15, 20].map((m) => T0 + m * MIN),
    });
  });

  test('the due queue yields the earliest live entry and forgets replaced ones', () => {
    const q = new DueQueue();
    q.set('a', 30);
    q.set('b', 10);
    q.set('c', 20);
    q.set('b', 40); // rescheduled
    q.delete('c');
    assert.equal(q.peek()?.key, 'a');
    assert.equal(q.popDue(25), undefined);
    assert.equal(q.popDue(30)?.key, 'a');
    assert.equal(q.popDue(100)?.key, 'b');
    assert.equal(q.popDue(100), undefined);
  });
});
