import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { harness, makeJob, MIN, SEC, T0, until } from './harness.ts';
import type { Harness } from './harness.ts';
import type { ChainLink, Job, Run } from '../../src/domain/job.ts';

const fail = { status: 'error' as const, error: 'exit status 1', exitCode: 1 };

function chained(id: string, after: Array<string | ChainLink>, withinMs?: number): Job {
  return makeJob(id, {
    name: id,
    schedule: {
      kind: 'after',
      after: after.map((a) => (typeof a === 'string' ? { job: a, on: 'success' } : a)),
      ...(withinMs !== undefined ? { withinMs } : {}),
    },
  });
}

function timed(id: string, extra: Parameters<typeof makeJob>[1] = {}): Job {
  return makeJob(id, { name: id, schedule: { kind: 'every', everyMs: 10 * MIN }, ...extra });
}

describe('engine: chains', () => {
  let h: Harness;
  afterEach(async () => h.close());

  /** Job names in the order their payloads were called. */
  const order = (): string[] => h.exec.calls.map((c) => c.ctx.job.name);

  test('a follower runs after its predecessor succeeds, with trigger chain and the run that started it', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(timed('prep'));
    await h.store.insertJob(chained('reset', ['prep']));
    await h.store.insertJob(chained('continue', ['reset']));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    await engine.idle();
    assert.deepEqual(order(), ['prep', 'reset', 'continue']);
    const [prepRun] = await h.runs('prep');
    const [resetRun] = await h.runs('reset');
    assert.equal(resetRun!.trigger, 'chain');
    assert.equal(resetRun!.status, 'ok');
    assert.equal(resetRun!.details?.chain?.afterRunId, prepRun!.runId);
    assert.equal(resetRun!.details?.chain?.afterJob, 'prep');
    assert.ok(resetRun!.startedAtMs! >= prepRun!.finishedAtMs!);
    // The next cycle starts it again, once.
    await h.clock.advanceTo(T0 + 20 * MIN);
    await engine.idle();
    assert.deepEqual(order(), ['prep', 'reset', 'continue', 'prep', 'reset', 'continue']);
  });

  test('on success a failed predecessor starts nothing; on failure and always it does (its final attempt)', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = (ctx) => (ctx.job.name === 'prep' ? fail : { status: 'ok' });
    await h.store.insertJob(timed('prep', { policy: { retries: 1, retryBackoffMs: [MIN] } }));
    await h.store.insertJob(chained('on-ok', ['prep']));
    await h.store.insertJob(chained('on-fail', [{ job: 'prep', on: 'failure' }]));
    await h.store.insertJob(chained('on-any', [{ job: 'prep', on: 'always' }]));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    await engine.idle();
    assert.deepEqual(order(), ['prep'], 'a failed attempt with a retry to come counts for nothing yet');
    await h.clock.advanceTo(T0 + 11 * MIN + 10 * SEC);
    await engine.idle();
    assert.deepEqual(order().slice(0, 2), ['prep', 'prep']);
    assert.deepEqual(order().slice(2).sort(), ['on-any', 'on-fail']);
    assert.deepEqual(await h.runs('on-ok'), []);
  });

  test('a one-shot predecessor that jobs run after is kept (disabled) after success, not deleted', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('once', {
        name: 'once',
        schedule: { kind: 'at', at: new Date(T0 + MIN).toISOString() },
        deleteAfterRun: true,
      }),
    );
    await h.store.insertJob(chained('after-once', ['once']));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 2 * MIN);
    await engine.idle();
    assert.deepEqual(order(), ['once', 'after-once']);
    const once = await h.store.findJob('once');
    assert.ok(once, 'the predecessor was deleted, stranding its follower');
    assert.equal(once.enabled, false);
  });

  test('a retry that succeeds, and a manual run, count too', async () => {
    h = await harness(T0 + SEC);
    let failures = 1;
    h.exec.auto = (ctx) => (ctx.job.name === 'prep' && failures-- > 0 ? fail : { status: 'ok' });
    await h.store.insertJob(timed('prep', { policy: { retries: 1, retryBackoffMs: [MIN] } }));
    await h.store.insertJob(chained('reset', ['prep']));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 12 * MIN);
    await engine.idle();
    assert.deepEqual(order(), ['prep', 'prep', 'reset']);
    const reset = await h.runs('reset');
    const prepRetry = (await h.runs('prep'))[1]!;
    assert.equal(prepRetry.trigger, 'retry');
    assert.equal(reset[0]!.details?.chain?.afterRunId, prepRetry.runId);

    await engine.requestRun('prep');
    await engine.idle();
    assert.deepEqual(order(), ['prep', 'prep', 'reset', 'prep', 'reset']);
  });

  test('several predecessors: the follower waits for all of them, then runs once', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = undefined;
    await h.store.insertJob(timed('export'));
    await h.store.insertJob(timed('prep'));
    await h.store.insertJob(chained('reset', ['export', 'prep']));
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    assert.equal(h.exec.held().length, 2);
    h.exec
      .held()
      .find((c) => c.ctx.job.name === 'export')!
      .release();
    await until(async () => (await h.runs('export'))[0]?.status === 'ok', 'export to be recorded');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(await h.runs('reset'), [], 'started before prep ended');
    h.exec.auto = () => ({ status: 'ok' });
    await h.clock.advanceTo(T0 + 10 * MIN + 5 * SEC);
    h.exec.held()[0]!.release();
    await engine.idle();
    const runs = await h.runs('reset');
    assert.equal(runs.length, 1);
    assert.deepEqual(Object.keys(runs[0]!.details!.chain!.runs).sort(), ['export', 'prep']);
    assert.equal(runs[0]!.details!.chain!.afterJob, 'prep');
  });

  test('within: a chain not complete in time is recorded broken, once, and notified', async () => {
    h = await harness(T0 + SEC);
    h.exec.auto = (ctx) => (ctx.job.name === 'prep' ? fail : { status: 'ok' });
    await h.store.insertJob(timed('export'));
    await h.store.insertJob(timed('prep'));
    await h.store.insertJob(chained('reset', ['export', 'prep'], 30 * MIN));
    const notified: Run[] = [];
    const engine = h.engine({
      onRunFinished: (job, run) => {
        if (job.name === 'reset') notified.push(run);
      },
    });
    await engine.start();
    await h.clock.advanceTo(T0 + 10 * MIN);
    await engine.idle();
    assert.equal(h.clock.nextTimerAt(), T0 + 20 * MIN - 10, 'the next slot; the window ends later');
    await h.clock.advanceTo(T0 + 40 * MIN);
    await engine.idle();
    const runs = await h.runs('reset');
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, 'missed');
    assert.equal(runs[0]!.trigger, 'chain');
    assert.equal(runs[0]!.slotMs, T0 + 10 * MIN + 30 * MIN);
    assert.match(runs[0]!.error!, /^chain broken: no run of prep succeeding within 30m/);
    assert.equal(notified.length, 1);
    assert.equal(notified[0]!.status, 'missed');
    assert.ok(!order().includes('reset'));
  });

  test('durable: a predecessor that ended while no daemon ran starts its follower at start, exactly once', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(timed('prep'));
    await h.store.insertJob(chained('reset', ['prep']));
    // The predecessor's run ended (say, just before a crash), and nothing started the follower.
    const prepRun: Run = {
      runId: 'p1',
      jobId: 'prep',
      slotMs: T0 + 10 * MIN,
      attempt: 1,
      trigger: 'schedule',
      status: 'running',
      startedAtMs: T0 + 10 * MIN,
    };
    assert.ok(await h.store.claimRun(prepRun));
    await h.store.finishRun('p1', { status: 'ok', finishedAtMs: T0 + 10 * MIN + 5 * SEC });
    await h.clock.advanceTo(T0 + 10 * MIN + 6 * SEC);
    const first = h.engine();
    await first.start();
    await first.idle();
    await first.stop();
    const second = h.engine();
    await second.start();
    await second.idle();
    const runs = await h.runs('reset');
    assert.equal(runs.length, 1, 'the follower ran again after a second restart');
    assert.equal(runs[0]!.details?.chain?.afterRunId, 'p1');
    assert.deepEqual(order(), ['reset']);
  });
});
