import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { nextFireTimes } from '../../src/domain/schedule.ts';
import { harness, LEAD, makeJob, statuses, until, HOUR, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';

describe('engine: firing on time', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('wakes just ahead of the next slot, starts it exactly at the slot, and fires each slot once, with no other timer armed', async () => {
    h = await harness(T0 + 10 * SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();

    assert.equal(h.clock.pendingTimers(), 1, 'one wake-up timer, no polling');
    assert.equal(h.clock.nextTimerAt(), T0 + MIN - LEAD);
    assert.equal((await h.store.findJob('a'))?.state.nextRunAtMs, T0 + MIN);

    await h.clock.advanceTo(T0 + MIN);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + MIN]);
    assert.equal(h.exec.calls[0]!.ctx.startedAtMs, T0 + MIN);
    assert.equal((await h.runs('a'))[0]?.startedAtMs, T0 + MIN, 'the record has the real start');
    assert.equal(h.clock.nextTimerAt(), T0 + 2 * MIN - LEAD);
    assert.equal(h.clock.pendingTimers(), 1);

    await h.clock.advanceTo(T0 + 3 * MIN + 30 * SEC);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    const runs = await h.runs('a');
    assert.deepEqual(statuses(runs), ['ok:schedule:1', 'ok:schedule:1', 'ok:schedule:1']);
    const job = await h.store.findJob('a');
    assert.equal(job?.state.lastRunStatus, 'ok');
    assert.equal(job?.state.lastRunAtMs, T0 + 3 * MIN);
    assert.equal(job?.state.nextRunAtMs, T0 + 4 * MIN);
    assert.equal(job?.state.runningAtMs, undefined);
  });

  test('a slot beyond the 2^31 ms timer limit is armed at its exact time', async () => {
    h = await harness();
    const far = T0 + 40 * 24 * HOUR; // 40 days > 24.8 days
    await h.store.insertJob(makeJob('far', { schedule: { kind: 'at', at: new Date(far).toISOString() } }));
    const engine = h.engine();
    await engine.start();
    assert.equal(h.clock.nextTimerAt(), far - LEAD);
    await h.clock.advanceTo(far - 1);
    assert.equal(h.exec.calls.length, 0);
    await h.clock.advanceTo(far);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [far]);
  });

  test('two engines on one store never run the same slot twice', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const other = await h.otherStore();
    const e1 = h.engine();
    const e2 = h.engine({ store: other });
    await e1.start();
    await e2.start();
    await h.clock.advanceTo(T0 + 5 * MIN);
    await e1.idle();
    await e2.idle();
    assert.deepEqual(
      h.exec.slots(),
      [1, 2, 3, 4, 5].map((k) => T0 + k * MIN),
    );
    assert.equal((await h.runs('a')).length, 5);
  });

  test('a restart does not fire a slot again', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const e1 = h.engine();
    await e1.start();
    await h.clock.advanceTo(T0 + 2 * MIN);
    await e1.idle();
    await e1.stop();
    const e2 = h.engine();
    await e2.start();
    await e2.idle();
    assert.deepEqual(h.exec.slots(), [T0 + MIN, T0 + 2 * MIN]);
    assert.equal(h.clock.nextTimerAt(), T0 + 3 * MIN - LEAD);
  });

  test('disabled jobs never fire; enabling starts from now, without a burst of old slots', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('d', { enabled: false, schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    assert.equal(h.clock.nextTimerAt(), undefined);
    await h.clock.advanceTo(T0 + 10 * MIN + 30 * SEC);
    assert.equal(h.exec.calls.length, 0);

    const job = (await h.store.findJob('d'))!;
    await h.store.updateJob({ ...job, enabled: true, updatedAtMs: h.clock.now() });
    await engine.refresh();
    assert.equal(h.clock.nextTimerAt(), T0 + 11 * MIN - LEAD);
    assert.equal((await h.store.findJob('d'))?.state.nextRunAtMs, T0 + 11 * MIN);
    await h.clock.advanceTo(T0 + 11 * MIN);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + 11 * MIN]);
    assert.deepEqual(
      statuses(await h.runs('d')),
      ['ok:schedule:1'],
      'no missed records for the disabled time',
    );

    const again = (await h.store.findJob('d'))!;
    await h.store.updateJob({ ...again, enabled: false, updatedAtMs: h.clock.now() });
    await engine.refresh();
    assert.equal((await h.store.findJob('d'))?.state.nextRunAtMs, undefined);
    await h.clock.advanceTo(T0 + 20 * MIN);
    assert.equal(h.exec.calls.length, 1);
  });

  test('a job edited by another process takes effect within the change poll (< 1 s)', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: HOUR } }));
    const engine = h.engine({ changePollMs: 500 });
    await engine.start();
    const cli = await h.otherStore();
    const job = (await cli.findJob('a'))!;
    await h.clock.advanceTo(T0 + 2 * SEC);
    await cli.updateJob({
      ...job,
      schedule: { kind: 'every', everyMs: 10 * SEC },
      updatedAtMs: T0 + 2 * SEC,
    });
    await cli.insertJob(
      makeJob('b', {
        schedule: { kind: 'every', everyMs: 5 * SEC },
        createdAtMs: T0 + 2 * SEC,
        updatedAtMs: T0 + 2 * SEC,
      }),
    );
    await h.clock.advanceTo(T0 + 3 * SEC);
    await engine.idle();
    assert.equal((await h.store.findJob('a'))?.state.nextRunAtMs, T0 + 10 * SEC);
    assert.equal((await h.store.findJob('b'))?.state.nextRunAtMs, T0 + 7 * SEC);
    await h.clock.advanceTo(T0 + 10 * SEC);
    await engine.idle();
    assert.deepEqual(
      h.exec.calls.map((c) => `${c.ctx.job.id}@${(c.ctx.slotMs - T0) / SEC}`),
      ['b@7', 'a@10'],
    );
  });

  test('across a DST change the engine fires exactly what nextFireTimes predicts', async () => {
    // Europe/Berlin springs forward on 2027-03-28 (02:00 -> 03:00) and falls back on 2027-10-31.
    for (const [from, expr] of [
      [Date.UTC(2027, 2, 27, 12), '30 2 * * *'],
      [Date.UTC(2027, 2, 27, 12), '*/30 * * * *'],
      [Date.UTC(2027, 9, 30, 12), '30 2 * * *'],
      [Date.UTC(2027, 9, 30, 12), '0 * * * *'],
    ] as const) {
      h = await harness(from);
      const schedule = { kind: 'cron' as const, expr, tz: 'Europe/Berlin' };
      await h.store.insertJob(makeJob('dst', { schedule, createdAtMs: from, updatedAtMs: from }));
      const engine = h.engine();
      await engine.start();
      const until = from + 48 * HOUR;
      const expected = nextFireTimes(schedule, from, 500, from).filter((t) => t <= until);
      await h.clock.advanceTo(until);
      await engine.idle();
      assert.deepEqual(h.exec.slots(), expected, `${expr}`);
      assert.equal(new Set(h.exec.slots()).size, expected.length);
      await h.close();
    }
    h = await harness();
  });

  test('an edit that keeps the schedule does not lose the slot about to fire', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + MIN - 1);
    const job = (await h.store.findJob('a'))!;
    await h.store.updateJob({ ...job, description: 'renamed', updatedAtMs: T0 + MIN + 500 });
    await engine.refresh();
    await h.clock.advanceTo(T0 + MIN);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + MIN]);
  });

  test('a job whose schedule cannot be computed does not stop the others', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('bad', { schedule: { kind: 'cron', expr: 'not a cron', tz: 'UTC' } }));
    await h.store.insertJob(makeJob('good', { schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 2 * MIN);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + MIN, T0 + 2 * MIN]);
    assert.ok(h.events.some((e) => e.event === 'engine.error' && e.jobId === 'bad'));
  });

  test('nextRunAtMs and runningAtMs show a run in progress', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = undefined;
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + MIN);
    await until(async () => (await h.store.findJob('a'))?.state.runningAtMs === T0 + MIN, 'runningAtMs');
    assert.equal((await h.store.findJob('a'))?.state.nextRunAtMs, T0 + 2 * MIN);
    const running = await h.runs('a');
    assert.deepEqual(statuses(running), ['running:schedule:1']);
    await h.clock.advance(5 * SEC);
    h.exec.calls[0]!.release({ status: 'error', error: 'exit status 3', exitCode: 3 });
    await engine.idle();
    const job = await h.store.findJob('a');
    assert.equal(job?.state.runningAtMs, undefined);
    assert.equal(job?.state.lastRunStatus, 'error');
    assert.equal(job?.state.lastError, 'exit status 3');
    assert.equal(job?.state.lastDurationMs, 5 * SEC);
    assert.equal(job?.state.consecutiveErrors, 1);
    const [run] = await h.runs('a');
    assert.equal(run?.exitCode, 3);
    assert.equal(run?.durationMs, 5 * SEC);
    assert.ok(h.events.some((e) => e.event === 'run.finished' && e.status === 'error'));
  });
});
