import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/domain/clock.ts';
import { ClaimLead } from '../../src/scheduler/claim-lead.ts';
import { DueQueue } from '../../src/scheduler/due-queue.ts';
import { harness, LEAD, makeJob, statuses, until, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';

/**
 * The engine claims a slot LEAD ms before its time and starts the payload at the slot itself, so
 * a second with 1,000 jobs due does not make every payload wait for the claims' commit.
 */
describe('engine: slots claimed ahead of their time', () => {
  let h: Harness;
  afterEach(async () => h.close());

  const SLOT = T0 + MIN;

  async function claimedAhead(extra: Parameters<typeof makeJob>[1] = {}): Promise<void> {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN }, ...extra }));
    await h.engine().start();
    await h.clock.advanceTo(SLOT - LEAD);
    const runs = await h.runs('a');
    assert.deepEqual(statuses(runs), ['running:schedule:1'], 'claimed ahead');
    assert.equal(runs[0]!.startedAtMs, undefined, 'not started yet');
  }

  test('the claim is written ahead; the payload starts exactly at the slot; the record and state follow', async () => {
    await claimedAhead();
    assert.equal(h.exec.calls.length, 0);
    assert.equal(
      (await h.store.findJob('a'))?.state.nextRunAtMs,
      SLOT,
      'the claimed slot is still the next run',
    );
    await h.clock.advanceTo(SLOT - 1);
    assert.equal(h.exec.calls.length, 0, 'never before its time');

    await h.clock.advanceTo(SLOT);
    await h.engines[0]!.idle();
    assert.deepEqual(h.exec.slots(), [SLOT]);
    assert.equal(h.exec.calls[0]!.ctx.startedAtMs, SLOT);
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'ok');
    assert.equal(run?.startedAtMs, SLOT);
    assert.equal(run?.durationMs, 0);
    const state = (await h.store.findJob('a'))?.state;
    assert.equal(state?.lastRunAtMs, SLOT);
    assert.equal(state?.nextRunAtMs, SLOT + MIN);
    assert.equal(state?.runningAtMs, undefined);
  });

  test('a daemon stopped between claim and slot records the run interrupted and never starts it', async () => {
    await claimedAhead();
    await h.engines[0]!.stop();
    assert.equal(h.exec.calls.length, 0);
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'interrupted');
    assert.equal(run?.error, 'daemon stopped before the run started');

    const again = h.engine();
    await again.start();
    await h.clock.advanceTo(SLOT + 30 * SEC);
    await again.idle();
    assert.equal(h.exec.calls.length, 0, 'the claimed slot is not run by the next daemon');
    assert.equal((await h.runs('a')).length, 1);
  });

  test('after a crash between claim and slot, the next daemon records it interrupted and does not run it', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    // The crashed daemon: its clock stops at the claim, so its timers never fire again.
    const frozen = new ManualClock(T0 + SEC);
    await h.engine({ clock: frozen }).start();
    await frozen.advanceTo(SLOT - LEAD);
    assert.deepEqual(statuses(await h.runs('a')), ['running:schedule:1']);

    await h.clock.advanceTo(SLOT - LEAD + 5);
    const next = h.engine({ store: await h.otherStore() });
    await next.start();
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'interrupted');
    assert.equal(run?.error, "daemon stopped before the run's start was recorded");
    await h.clock.advanceTo(SLOT + MIN);
    await next.idle();
    assert.deepEqual(h.exec.slots(), [SLOT + MIN], 'the claimed slot never runs; the grid goes on');
  });

  test('a job disabled between claim and slot does not start: the slot is recorded skipped', async () => {
    await claimedAhead();
    const job = (await h.store.findJob('a'))!;
    await h.store.updateJob({ ...job, enabled: false, updatedAtMs: h.clock.now() });
    await h.engines[0]!.refresh();
    await h.clock.advanceTo(SLOT + SEC);
    await h.engines[0]!.idle();
    assert.equal(h.exec.calls.length, 0);
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'skipped');
    assert.equal(run?.error, 'job disabled');
  });

  test('a job deleted between claim and slot does not start', async () => {
    await claimedAhead();
    await h.store.deleteJob('a');
    await h.engines[0]!.refresh();
    await h.clock.advanceTo(SLOT + SEC);
    await h.engines[0]!.idle();
    assert.equal(h.exec.calls.length, 0);
  });

  test('a job still running at claim time is decided at its slot: a run that ends in time lets the slot run', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: MIN } }));
    h.exec.auto = undefined;
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(SLOT);
    assert.equal(h.exec.held().length, 1);

    await h.clock.advanceTo(SLOT + MIN - LEAD);
    assert.equal((await h.runs('a')).length, 1, 'not claimed ahead while the job runs');
    await h.clock.advanceTo(SLOT + MIN - 3);
    h.exec.held()[0]!.release();
    await until(async () => (await h.runs('a'))[0]?.status === 'ok', 'first run recorded');
    await h.clock.advanceTo(SLOT + MIN);
    assert.deepEqual(h.exec.slots(), [SLOT, SLOT + MIN], 'the next slot runs: the job was free at its time');
    h.exec.held()[0]!.release();
    await engine.idle();
    assert.deepEqual(statuses(await h.runs('a')), ['ok:schedule:1', 'ok:schedule:1']);
  });

  test('another process running the job at the slot: skip records the claimed slot skipped (overlap)', async () => {
    await claimedAhead();
    await foreignRun();
    await h.clock.advanceTo(SLOT + SEC);
    await h.engines[0]!.idle();
    assert.equal(h.exec.calls.length, 0);
    const scheduled = (await h.runs('a')).find((r) => r.trigger === 'schedule');
    assert.equal(scheduled?.status, 'skipped');
    assert.equal(scheduled?.error, 'overlap');
    assert.equal((await h.store.findJob('a'))?.state.consecutiveSkipped, 1);
  });

  test('another process running the job at the slot: queue-one puts the claimed slot back in the queue', async () => {
    await claimedAhead({ policy: { overlap: 'queue-one' } });
    const foreign = await foreignRun();
    await h.clock.advanceTo(SLOT + SEC);
    const scheduled = async () => (await h.runs('a')).find((r) => r.trigger === 'schedule');
    await until(async () => (await scheduled())?.status === 'queued', 'the slot queued');
    assert.equal(h.exec.calls.length, 0);
    assert.equal((await scheduled())?.startedAtMs, undefined);

    await h.store.finishRun(foreign, { status: 'ok', finishedAtMs: h.clock.now() });
    await h.engines[0]!.refresh();
    await h.engines[0]!.idle();
    assert.deepEqual(h.exec.slots(), [SLOT], 'it runs once the job is free');
    assert.equal((await scheduled())?.status, 'ok');
  });

  test('a manual run asked for between claim and slot waits for the claimed run (queue-one)', async () => {
    await claimedAhead({ policy: { overlap: 'queue-one' } });
    const asked = await h.engines[0]!.requestRun('a');
    assert.equal(asked.enqueued, true);
    assert.equal(h.exec.calls.length, 0, 'the manual run waits for the slot claimed before it');
    await h.clock.advanceTo(SLOT);
    await h.engines[0]!.idle();
    assert.equal(h.exec.calls.length, 2);
    assert.equal(h.exec.calls[0]!.ctx.slotMs, SLOT, 'the scheduled run first');
    assert.equal(h.exec.calls[1]!.ctx.runId, asked.runId);
  });

  /** A run of job `a` that another process started (as a `cron run` without the daemon would). */
  async function foreignRun(): Promise<string> {
    const other = await h.otherStore();
    const runId = '01900000-0000-7000-8000-000000000001';
    const now = h.clock.now();
    const claimed = await other.claimRun({
      runId,
      jobId: 'a',
      slotMs: now + 1,
      attempt: 1,
      trigger: 'manual',
      status: 'running',
      startedAtMs: now,
    });
    assert.ok(claimed);
    await h.engines[0]!.refresh();
    return runId;
  }
});

describe('claim lead sizing', () => {
  test('grows with the runs due together and their measured cost, within its bounds', () => {
    const lead = new ClaimLead({ minMs: 10, maxMs: 500 });
    assert.equal(lead.forCount(0), 10);
    const few = lead.forCount(10);
    const many = lead.forCount(1_000);
    assert.ok(few >= 10 && few < many, `${few} < ${many}`);
    assert.equal(lead.forCount(1_000_000), 500);

    // Claims measured at 1 ms each: the lead for 100 runs approaches 10 + 2 x 100 ms.
    for (let i = 0; i < 30; i++) lead.observe(100, 100);
    assert.ok(Math.abs(lead.forCount(100) - 210) <= 1, String(lead.forCount(100)));
    // A handful of claims is mostly fixed cost: it does not move the estimate.
    lead.observe(3, 300);
    assert.ok(Math.abs(lead.forCount(100) - 210) <= 1);
    // Whole milliseconds: times stay integers (the store keeps them as INTEGER).
    assert.ok(Number.isInteger(new ClaimLead({ minMs: 10, maxMs: 500 }).forCount(7)));
  });

  test('zero bounds claim at the slot itself', () => {
    const lead = new ClaimLead({ minMs: 0, maxMs: 0 });
    lead.observe(1_000, 50);
    assert.equal(lead.forCount(1_000), 0);
  });

  test('the due queue counts live items up to a time, not replaced ones', () => {
    const q = new DueQueue();
    for (let i = 0; i < 100; i++) q.set(`job-${i}`, 1_000 + (i % 10) * 100);
    assert.equal(q.countUpTo(999), 0);
    assert.equal(q.countUpTo(1_000), 10);
    assert.equal(q.countUpTo(1_150), 20);
    q.set('job-0', 5_000);
    q.delete('job-10');
    assert.equal(q.countUpTo(1_000), 8);
    assert.equal(q.countUpTo(10_000), 99);
  });
});
