import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/domain/errors.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import { harness, makeJob, statuses, until, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';

describe('engine: overlap policy', () => {
  let h: Harness;
  afterEach(async () => h.close());

  async function startWithLongRun(overlap: 'skip' | 'queue-one' | 'allow'): Promise<Engine> {
    h = await harness(T0 + SEC);
    h.exec.auto = undefined; // every run holds until released
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN }, policy: { overlap } }));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + MIN);
    await until(() => h.exec.calls.length === 1, 'first run');
    return engine;
  }

  test('skip: slots that come due while the job runs are recorded skipped (overlap)', async () => {
    const engine = await startWithLongRun('skip');
    await h.clock.advanceTo(T0 + 3 * MIN);
    await until(async () => (await h.runs('a')).length === 3, 'skip records');
    assert.equal(h.exec.calls.length, 1);
    const runs = await h.runs('a');
    assert.deepEqual(statuses(runs), ['running:schedule:1', 'skipped:schedule:1', 'skipped:schedule:1']);
    assert.deepEqual(
      runs.slice(1).map((r) => [r.slotMs, r.error]),
      [
        [T0 + 2 * MIN, 'overlap'],
        [T0 + 3 * MIN, 'overlap'],
      ],
    );
    assert.equal((await h.store.findJob('a'))?.state.consecutiveSkipped, 2);
    h.exec.calls[0]!.release();
    await engine.idle();
    assert.equal((await h.store.findJob('a'))?.state.consecutiveSkipped, 0);
    await h.clock.advanceTo(T0 + 4 * MIN);
    await until(() => h.exec.calls.length === 2, 'next slot runs');
    assert.equal(h.exec.calls[1]!.ctx.slotMs, T0 + 4 * MIN, 'back on the grid');
  });

  test('queue-one: one slot waits and runs when the job is free; further slots are skipped', async () => {
    const engine = await startWithLongRun('queue-one');
    await h.clock.advanceTo(T0 + 3 * MIN + 10 * SEC);
    await until(async () => (await h.runs('a')).length === 3, 'records');
    assert.deepEqual(statuses(await h.runs('a')), [
      'running:schedule:1',
      'queued:schedule:1',
      'skipped:schedule:1',
    ]);
    h.exec.calls[0]!.release();
    await until(() => h.exec.calls.length === 2, 'queued slot starts');
    assert.equal(h.exec.calls[1]!.ctx.slotMs, T0 + 2 * MIN);
    assert.equal(h.exec.calls[1]!.ctx.startedAtMs, T0 + 3 * MIN + 10 * SEC);
    h.exec.calls[1]!.release();
    await engine.idle();
    assert.deepEqual(statuses(await h.runs('a')), ['ok:schedule:1', 'ok:schedule:1', 'skipped:schedule:1']);
  });

  test('allow: slots run beside the running one', async () => {
    const engine = await startWithLongRun('allow');
    await h.clock.advanceTo(T0 + 3 * MIN);
    await until(() => h.exec.calls.length === 3, 'three concurrent runs');
    assert.deepEqual(h.exec.slots(), [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    h.exec.calls[1]!.release();
    await until(async () => (await h.store.findJob('a'))?.state.lastRunStatus === 'ok', 'one finished');
    assert.equal((await h.store.findJob('a'))?.state.runningAtMs, T0 + 3 * MIN, 'others still running');
    for (const c of h.exec.calls) c.release();
    await engine.idle();
    assert.deepEqual(statuses(await h.runs('a')), ['ok:schedule:1', 'ok:schedule:1', 'ok:schedule:1']);
    assert.equal((await h.store.findJob('a'))?.state.runningAtMs, undefined);
  });
});

describe('engine: manual runs', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('requestRun queues a manual run that the engine starts at once', async () => {
    h = await harness(T0 + 10 * SEC);
    await h.store.insertJob(makeJob('a', { name: 'backup', schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    const res = await engine.requestRun('backup');
    assert.equal(res.ok, true);
    assert.equal(res.enqueued, true);
    await engine.idle();
    const run = await h.store.getRun(res.runId!);
    assert.equal(run?.status, 'ok');
    assert.equal(run?.trigger, 'manual');
    assert.equal(run?.slotMs, T0 + 10 * SEC);
    assert.equal(h.exec.calls.length, 1);
    // The grid is untouched by the manual run.
    await h.clock.advanceTo(T0 + MIN);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + 10 * SEC, T0 + MIN]);
  });

  test('a manual run at the exact time of a slot does not take the slot away', async () => {
    h = await harness(T0 + MIN);
    await h.store.insertJob(
      makeJob('a', { schedule: { kind: 'every', everyMs: MIN }, policy: { overlap: 'allow' } }),
    );
    const cli = new Engine({ store: h.store, clock: h.clock, executors: [h.exec] });
    const res = await cli.requestRun('a');
    assert.notEqual((await h.store.getRun(res.runId!))?.slotMs, T0 + MIN);
    const engine = h.engine();
    await engine.start();
    await engine.idle();
    const runs = await h.runs('a');
    assert.deepEqual(runs.map((r) => r.trigger).sort(), ['manual', 'schedule']);
    assert.ok(runs.every((r) => r.status === 'ok'));
  });

  test('with overlap skip, a manual run while the job runs is refused with "already running"', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = undefined;
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + MIN);
    await until(() => h.exec.calls.length === 1, 'run');
    assert.deepEqual(await engine.requestRun('a'), { ok: false, enqueued: false, reason: 'already running' });
    h.exec.calls[0]!.release();
    await engine.idle();
    const res = await engine.requestRun('a');
    assert.equal(res.enqueued, true);
    await until(() => h.exec.calls.length === 2, 'manual run');
    h.exec.calls[1]!.release();
  });

  test('with queue-one, a manual run waits for the running one; a second is refused', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = undefined;
    await h.store.insertJob(
      makeJob('a', { schedule: { kind: 'every', everyMs: 10 * MIN }, policy: { overlap: 'queue-one' } }),
    );
    const engine = h.engine();
    await engine.start();
    await engine.requestRun('a');
    await until(() => h.exec.calls.length === 1, 'first');
    const second = await engine.requestRun('a');
    assert.equal(second.enqueued, true);
    assert.deepEqual(await engine.requestRun('a'), { ok: false, enqueued: false, reason: 'already queued' });
    assert.equal(h.exec.calls.length, 1);
    h.exec.calls[0]!.release();
    await until(() => h.exec.calls.length === 2, 'queued manual run starts');
    assert.equal(h.exec.calls[1]!.ctx.runId, second.runId);
    h.exec.calls[1]!.release();
    await engine.idle();
  });

  test('a run queued by another process through the store starts within the change poll', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: 10 * MIN } }));
    const engine = h.engine({ changePollMs: 500 });
    await engine.start();
    // The CLI: its own connection and an engine object that is never started.
    const cliStore = await h.otherStore();
    const cli = new Engine({ store: cliStore, clock: h.clock, executors: [] });
    const res = await cli.requestRun('job-a');
    assert.equal(res.enqueued, true);
    await h.clock.advance(500);
    await engine.idle();
    assert.equal(h.exec.calls.length, 1);
    assert.equal(h.exec.calls[0]!.ctx.runId, res.runId);
    assert.equal((await h.store.getRun(res.runId!))?.status, 'ok');
  });

  test('without a daemon, runQueuedNow executes the queued run in this process', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: 10 * MIN } }));
    const cli = new Engine({ store: h.store, clock: h.clock, executors: [h.exec] });
    h.exec.auto = () => ({ status: 'error', error: 'exit status 1', exitCode: 1 });
    const res = await cli.requestRun('a');
    const run = await cli.runQueuedNow(res.runId!);
    assert.equal(run.status, 'error');
    assert.equal(run.exitCode, 1);
    assert.equal((await h.store.getRun(res.runId!))?.status, 'error');
    assert.equal((await h.store.findJob('a'))?.state.lastError, 'exit status 1');
    // Manual runs are not retried, and a run cannot be executed twice.
    assert.equal((await h.store.unfinishedRuns()).length, 0);
    await assert.rejects(
      cli.runQueuedNow(res.runId!),
      (err: unknown) => err instanceof UserError && /is not waiting/.test(err.message),
    );
    await assert.rejects(
      cli.requestRun('nope'),
      (err: unknown) => err instanceof UserError && err.exitCode === 3,
    );
  });

  test('--due runs the slot that is due, and says not-due otherwise', async () => {
    h = await harness(T0 + 30 * SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    const cli = new Engine({ store: h.store, clock: h.clock, executors: [h.exec] });
    assert.deepEqual(await cli.requestRun('a', { due: true }), {
      ok: true,
      enqueued: false,
      reason: 'not-due',
    });
    h.clock.advanceTo(T0 + MIN + 5 * SEC);
    const res = await cli.requestRun('a', { due: true });
    assert.equal(res.enqueued, true);
    const run = await cli.runQueuedNow(res.runId!);
    assert.equal(run.slotMs, T0 + MIN);
    assert.equal(run.trigger, 'schedule');
    assert.deepEqual(await cli.requestRun('a', { due: true }), {
      ok: true,
      enqueued: false,
      reason: 'not-due',
    });
    // A daemon starting later does not run that slot again.
    const engine = h.engine();
    await engine.start();
    await engine.idle();
    assert.equal(h.exec.calls.length, 1);
  });
});
