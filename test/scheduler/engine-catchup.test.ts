import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { harness, LEAD, makeJob, statuses, until, HOUR, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';
import type { CatchupPolicy } from '../../src/domain/job.ts';

describe('engine: catch-up after downtime', () => {
  let h: Harness;
  afterEach(async () => h.close());

  /** Runs slots 1..2 with one engine, stops it for `downMs`, then starts a new engine. */
  async function downtime(
    catchup: CatchupPolicy,
    downMs: number,
    extra: Parameters<typeof makeJob>[1] = {},
    upUntil = T0 + 20 * MIN,
  ) {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: 10 * MIN },
        ...extra,
        policy: { catchup, ...extra.policy },
      }),
    );
    const first = h.engine();
    await first.start();
    await h.clock.advanceTo(upUntil);
    await first.idle();
    await first.stop();
    await h.clock.advanceTo(upUntil + downMs);
    const second = h.engine();
    await second.start();
    await second.idle();
    return second;
  }

  test('skip: each missed slot is recorded missed; the job resumes on its grid', async () => {
    await downtime('skip', 60 * MIN + 5 * MIN); // down over slots 30..80
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => `${(r.slotMs - T0) / MIN}:${r.status}`),
      ['10:ok', '20:ok', '30:missed', '40:missed', '50:missed', '60:missed', '70:missed', '80:missed'],
    );
    assert.match(runs[2]!.error!, /daemon was not running/);
    assert.equal(h.exec.calls.length, 2);
    assert.equal(h.clock.nextTimerAt(), T0 + 90 * MIN - LEAD);
    assert.ok(h.events.some((e) => e.event === 'run.missed' && e.slots === 6));
  });

  test('one: a single catch-up run for the newest missed slot; the others missed', async () => {
    await downtime('one', 65 * MIN);
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => `${(r.slotMs - T0) / MIN}:${r.status}:${r.trigger}`),
      [
        '10:ok:schedule',
        '20:ok:schedule',
        '30:missed:schedule',
        '40:missed:schedule',
        '50:missed:schedule',
        '60:missed:schedule',
        '70:missed:schedule',
        '80:ok:catchup',
      ],
    );
    assert.equal(h.exec.calls.at(-1)!.ctx.slotMs, T0 + 80 * MIN);
    assert.equal(h.exec.calls.at(-1)!.ctx.startedAtMs, T0 + 85 * MIN);
  });

  test('all: missed slots inside the window run oldest first, capped; the rest missed', async () => {
    await downtime('all', 65 * MIN, { policy: { catchupWindowMs: 45 * MIN, catchupMax: 2 } });
    // Missed: 30..80. Inside the 45 min window before 85: 40..80; the newest 2 run.
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => `${(r.slotMs - T0) / MIN}:${r.status}:${r.trigger}`),
      [
        '10:ok:schedule',
        '20:ok:schedule',
        '30:missed:schedule',
        '40:missed:schedule',
        '50:missed:schedule',
        '60:missed:schedule',
        '70:ok:catchup',
        '80:ok:catchup',
      ],
    );
    assert.deepEqual(h.exec.slots().slice(2), [T0 + 70 * MIN, T0 + 80 * MIN], 'oldest first');
  });

  test('all: catch-up runs go one at a time, and a slot due meanwhile follows the overlap policy', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('a', { schedule: { kind: 'every', everyMs: MIN }, policy: { catchup: 'all', catchupMax: 3 } }),
    );
    await h.clock.advanceTo(T0 + 5 * MIN + 30 * SEC);
    h.exec.auto = undefined;
    const engine = h.engine();
    await engine.start();
    await until(() => h.exec.calls.length === 1, 'first catch-up run');
    await h.clock.advanceTo(T0 + 6 * MIN);
    await until(async () => (await h.runs('a')).some((r) => r.status === 'skipped'), 'slot 6 skipped');
    assert.equal(h.exec.calls.length, 1, 'one at a time');
    h.exec.calls[0]!.release();
    await until(() => h.exec.calls.length === 2, 'second catch-up run');
    assert.equal(h.exec.held().length, 1, 'one at a time');
    h.exec.calls[1]!.release();
    await until(() => h.exec.calls.length === 3, 'third catch-up run');
    h.exec.calls[2]!.release();
    await engine.idle();
    const runs = await h.runs('a');
    assert.deepEqual(
      runs.map((r) => `${r.slotMs / MIN - T0 / MIN}:${r.status}:${r.trigger}`),
      [
        '1:missed:schedule',
        '2:missed:schedule',
        '3:ok:catchup',
        '4:ok:catchup',
        '5:ok:catchup',
        '6:skipped:schedule',
      ],
    );
  });

  test('a long downtime of a job firing every second writes a bounded number of records', async () => {
    const started = Date.now();
    await downtime(
      'skip',
      7 * 24 * HOUR,
      {
        schedule: { kind: 'every', everyMs: SEC },
        history: { maxRuns: 5000, maxAgeMs: 30 * 24 * HOUR, outputTailBytes: 1024 },
      },
      T0 + 2 * SEC,
    );
    const page = await h.store.listRuns({ jobId: 'a', status: 'missed' });
    assert.ok(page.total <= 1_001, `${page.total} records`);
    const summary = page.entries.at(-1)!;
    assert.match(
      summary.error!,
      /^\d+ slots from .* missed \(the daemon was not running; not recorded one by one\)$/,
    );
    const counted = Number(/^(\d+)/.exec(summary.error!)![1]);
    // The slot at the moment of the restart is not missed: it fires.
    assert.equal(counted + page.total - 1, 7 * 24 * 3600 - 1, 'every missed second is accounted for');
    assert.equal(h.exec.calls.at(-1)!.ctx.slotMs, T0 + 2 * SEC + 7 * 24 * HOUR);
    assert.ok(Date.now() - started < 20_000);
  });

  test('history retention bounds the missed records to what the job keeps', async () => {
    await downtime('skip', 24 * HOUR + 5 * MIN, {
      history: { maxRuns: 20, maxAgeMs: 30 * 24 * HOUR, outputTailBytes: 1024 },
    });
    const page = await h.store.listRuns({ jobId: 'a' });
    assert.equal(page.total, 20);
    assert.ok(page.entries.every((r) => r.status === 'missed'));
  });

  test('a one-shot whose time passed while down: skip records it missed and disables the job; one runs it', async () => {
    for (const catchup of ['skip', 'one'] as const) {
      h = await harness(T0);
      const at = new Date(T0 + HOUR).toISOString();
      await h.store.insertJob(
        makeJob('o', { schedule: { kind: 'at', at }, deleteAfterRun: true, policy: { catchup } }),
      );
      await h.clock.advanceTo(T0 + 2 * HOUR);
      const engine = h.engine();
      await engine.start();
      await engine.idle();
      if (catchup === 'skip') {
        assert.equal(h.exec.calls.length, 0);
        const job = await h.store.findJob('o');
        assert.equal(job?.enabled, false);
        assert.match(job!.state.lastError!, /missed/);
        assert.deepEqual(statuses(await h.runs('o')), ['missed:schedule:1']);
      } else {
        assert.deepEqual(h.exec.slots(), [T0 + HOUR]);
        assert.equal(await h.store.findJob('o'), undefined, 'deleted after success');
      }
      await h.close();
    }
    h = await harness();
  });
});
