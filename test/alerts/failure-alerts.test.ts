import { test, describe, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';
import { commandJob, world, HOUR, MIN, T0 } from './helpers.ts';
import type { World } from './helpers.ts';

interface WebhookBody {
  severity: string;
  title: string;
  text: string;
  job: { id: string; name: string } | null;
  run: { id: string; status: string | null } | null;
  fields: Record<string, string>;
}

let hook: Recorder;
let w: World | undefined;
before(async () => {
  hook = await startRecorder([{ status: 200, body: 'ok' }]);
});
after(async () => hook.close());
afterEach(async () => {
  await w?.close();
  w = undefined;
  hook.requests.length = 0;
});

function bodies(path = '/hook'): WebhookBody[] {
  return hook.requests.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as WebhookBody);
}

/** A job that fails while `<dir>/fail` exists, so a test switches it between failing and passing. */
function flakyCommand(dir: string): string {
  const flag = join(dir, 'fail');
  return `if [ -e '${flag}' ]; then echo 'disk full' >&2; exit 3; fi`;
}

function setFailing(w: World, failing: boolean): void {
  const flag = join(w.dir, 'fail');
  if (failing) writeFileSync(flag, '');
  else if (existsSync(flag)) rmSync(flag);
}

const config = (): object => ({
  channels: { hook: { kind: 'webhook', url: `${hook.url}/hook` } },
  alerts: { channels: ['hook'] },
});

describe('failure alerts through the engine', () => {
  test('threshold 2 alerts once, the cooldown holds repeats back, and the first ok sends a recovery', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('a', flakyCommand(w.dir), {
        alerts: { afterFailures: 2, cooldownMs: 5 * MIN, recovery: true },
      }),
    );
    setFailing(w, true);
    await w.engine.start();
    await w.alerts.start();

    await w.advance(MIN); // failure 1
    assert.equal(bodies().length, 0, 'one failure is below the threshold');
    await w.advance(MIN); // failure 2: alert
    assert.equal(bodies().length, 1);
    const [alert] = bodies();
    const runs = await w.runs('a');
    const second = runs[1]!;
    assert.equal(alert!.severity, 'error');
    assert.equal(alert!.job?.name, 'job-a');
    assert.equal(alert!.run?.id, second.runId);
    assert.equal(alert!.run?.status, 'error');
    assert.ok(second.error, 'the run has a reason');
    assert.ok(alert!.text.includes(second.error!), `the alert names the reason: ${alert!.text}`);
    assert.equal(alert!.fields.exitCode, '3');
    assert.equal(alert!.fields.consecutiveFailures, '2');
    assert.match(alert!.title, /job-a failed \(2 times in a row\)/);
    const recorded = (await w.app.store.getRun(second.runId))?.details?.alerts;
    assert.equal(recorded?.length, 1);
    assert.equal(recorded?.[0]?.purpose, 'failure-alert');
    assert.equal(recorded?.[0]?.delivered, true);
    assert.equal(recorded?.[0]?.resolved, 'webhook:hook');
    assert.equal((await w.app.store.getRun(runs[0]!.runId))?.details?.alerts, undefined);

    // Failures 3..6 fall within the 5-minute cooldown of the alert at minute 2.
    for (let i = 0; i < 4; i++) await w.advance(MIN);
    assert.equal(bodies().length, 1, 'no repeat within the cooldown');
    await w.advance(MIN); // minute 7: cooldown over, still failing
    assert.equal(bodies().length, 2, 'repeats once the cooldown has passed');
    assert.equal(bodies()[1]!.fields.consecutiveFailures, '7');

    setFailing(w, false);
    await w.advance(MIN); // ok: recovery
    assert.equal(bodies().length, 3);
    const recovery = bodies()[2]!;
    assert.equal(recovery.severity, 'recovery');
    assert.match(recovery.title, /job-a recovered/);
    assert.match(recovery.text, /after 7 failed runs/);
    const okRun = (await w.runs('a')).at(-1)!;
    assert.equal(okRun.status, 'ok');
    assert.equal(recovery.run?.id, okRun.runId);
    assert.equal((await w.app.store.getRun(okRun.runId))?.details?.alerts?.[0]?.purpose, 'recovery');

    await w.advance(MIN); // ok again: nothing
    assert.equal(bodies().length, 3, 'a second success sends nothing');
    const state = await w.app.store.alertState.get('a');
    assert.equal(state?.alerting, false);
    assert.equal(state?.failures, 0);
    assert.equal(state?.lastOkAtMs, undefined, 'kept only for a dead-man switch');
  });

  test('alerting state survives a restart: the failure count goes on and the recovery is still sent', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('b', flakyCommand(w.dir), {
        alerts: { afterFailures: 2, cooldownMs: HOUR, recovery: true },
      }),
    );
    setFailing(w, true);
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN); // failure 1, then the daemon restarts
    assert.equal(bodies().length, 0);

    await w.restart();
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN); // failure 2 after the restart: alert
    assert.equal(bodies().length, 1, 'the count from before the restart was kept');
    assert.equal(bodies()[0]!.fields.consecutiveFailures, '2');

    await w.restart();
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN); // failure 3: in cooldown, also after a restart
    assert.equal(bodies().length, 1, 'the cooldown was kept');
    setFailing(w, false);

    await w.restart();
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    assert.equal(bodies().length, 2, 'the owed recovery notice was sent after the restart');
    assert.equal(bodies()[1]!.severity, 'recovery');
  });

  test('without recovery, the first ok is silent; payload kinds other than backup do not alert by default', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('c', flakyCommand(w.dir), {
        alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: false },
      }),
    );
    await w.app.store.insertJob(commandJob('d', 'exit 1'));
    setFailing(w, true);
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    assert.deepEqual(
      bodies().map((b) => b.job?.id),
      ['c'],
      'the command job without an alert policy sends nothing',
    );
    setFailing(w, false);
    await w.advance(MIN);
    assert.equal(bodies().length, 1, 'no recovery notice when recovery is off');
    assert.equal((await w.runs('d')).filter((r) => r.status === 'error').length, 2);
  });

  test('a failed attempt that will be retried does not count; the last attempt does', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('r', 'exit 1', {
        schedule: { kind: 'every', everyMs: HOUR, anchorMs: T0 },
        policy: { ...commandJob('x', '').policy, retries: 1, retryBackoffMs: [MIN] },
        alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: true },
      }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(HOUR); // attempt 1 fails, retry queued
    assert.equal(bodies().length, 0, 'no alert while a retry is pending');
    await w.advance(2 * MIN); // attempt 2 fails: the slot has failed
    const runs = await w.runs('r');
    assert.deepEqual(
      runs.map((r) => `${r.status}:${r.attempt}`),
      ['error:1', 'error:2'],
    );
    assert.equal(bodies().length, 1);
    assert.equal(bodies()[0]!.run?.id, runs[1]!.runId);
    assert.equal(bodies()[0]!.fields.attempt, '2');
  });

  test('a missing channel and a channel answering 404 are recorded with the reason; the run keeps its status', async () => {
    const gone = await startRecorder([{ status: 404, body: 'no such hook' }]);
    try {
      w = await world({
        channels: {
          hook: { kind: 'webhook', url: `${hook.url}/hook` },
          gone: { kind: 'webhook', url: `${gone.url}/gone` },
        },
        alerts: { channels: ['hook'] },
      });
      await w.app.store.insertJob(
        commandJob('e', 'exit 2', {
          alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: true, channels: ['nope', 'gone', 'hook'] },
        }),
      );
      await w.engine.start();
      await w.alerts.start();
      await w.advance(MIN);
      const [run] = await w.runs('e');
      assert.equal(run?.status, 'error', 'alerting never changes the run');
      const recs = run?.details?.alerts ?? [];
      assert.equal(recs.length, 3);
      const byName = (n: string) => recs.find((r) => r.intended.endsWith(` to ${n}`));
      assert.equal(byName('nope')?.delivered, false);
      assert.match(byName('nope')?.resolved ?? '', /none: no channel named "nope"/);
      assert.equal(byName('gone')?.delivered, false);
      assert.match(byName('gone')?.error ?? '', /404/);
      assert.equal(byName('hook')?.delivered, true);
      assert.equal(gone.requests.length, 1, 'a 404 is not retried');
      const failed = w.alertEvents.filter((e) => e.event === 'alert.failed');
      assert.deepEqual(failed.map((e) => (e as { channel: string }).channel).sort(), ['gone', 'nope']);
      assert.ok(w.alertEvents.some((e) => e.event === 'alert.sent'));
    } finally {
      await gone.close();
    }
  });

  test('with no alert channel anywhere the run records that the alert had nowhere to go', async () => {
    w = await world({});
    await w.app.store.insertJob(
      commandJob('n', 'exit 1', { alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: true } }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    const [run] = await w.runs('n');
    const rec = run?.details?.alerts?.[0];
    assert.equal(rec?.delivered, false);
    assert.match(rec?.error ?? '', /alerts\.channels/);
    // Nothing delivered: the next failure tries again instead of waiting out a cooldown.
    await w.advance(MIN);
    const second = (await w.runs('n'))[1];
    assert.equal(second?.details?.alerts?.length, 1);
  });
});

describe('recovery notices', () => {
  test('only a failure whose alert was delivered is followed by a recovery notice', async () => {
    // The channel refuses the first alert (404, not retried) and accepts everything after.
    const flap = await startRecorder([
      { status: 404, body: 'no such hook' },
      { status: 200, body: 'ok' },
    ]);
    try {
      w = await world({ channels: { flap: { kind: 'webhook', url: `${flap.url}/flap` } } });
      setFailing(w, true);
      await w.app.store.insertJob(
        commandJob('r', flakyCommand(w.dir), {
          alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: true, channels: ['flap'] },
        }),
      );
      await w.engine.start();
      await w.alerts.start();
      await w.advance(MIN); // failure: the alert is not delivered
      assert.equal(flap.requests.length, 1);
      setFailing(w, false);
      await w.advance(MIN); // ok: nobody heard of the failure, so no recovery notice
      assert.equal(flap.requests.length, 1, 'no recovery notice for an undelivered alert');
      setFailing(w, true);
      await w.advance(MIN); // failure: delivered this time
      setFailing(w, false);
      await w.advance(MIN); // ok: recovery owed
      const severities = flap.requests.map((r) => (JSON.parse(r.body) as WebhookBody).severity);
      assert.deepEqual(severities.slice(1), ['error', 'recovery']);
    } finally {
      await flap.close();
    }
  });
});

describe('missed slots', () => {
  test('slots missed while the daemon was down alert once for the whole stretch', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('m', 'true', {
        schedule: { kind: 'every', everyMs: MIN, anchorMs: T0 },
        alerts: { afterFailures: 1, cooldownMs: HOUR, recovery: true },
      }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN); // one ok run
    await w.engine.stop();
    // Down for ten minutes: ten slots pass unseen.
    await w.clock.advance(10 * MIN);
    await w.restart();
    await w.engine.start();
    await w.engine.idle();
    await w.alerts.idle();
    const missed = (await w.runs('m')).filter((r) => r.status === 'missed');
    assert.ok(missed.length >= 1, 'the missed slots are recorded');
    const failures = bodies().filter((b) => b.severity === 'error');
    assert.equal(failures.length, 1, `one alert for the stretch: ${JSON.stringify(bodies())}`);
    assert.equal(failures[0]!.run?.status, 'missed');
    assert.match(failures[0]!.text, /missed/);
    // The slot due at the restart ran ok: the alert is followed by its recovery notice.
    assert.deepEqual(
      bodies().map((b) => b.severity),
      ['error', 'recovery'],
    );
  });
});

describe('skipped runs (failureAlert.includeSkipped)', () => {
  /** A command that runs until `<dir>/release` exists: every later slot overlaps it. */
  function stuckCommand(dir: string): string {
    return `while [ ! -e '${join(dir, 'release')}' ]; do sleep 0.02; done`;
  }

  /** Moves the clock one slot at a time while the first run is still going; returns the skipped count. */
  async function overlapSlots(w: World, slots: number): Promise<number> {
    let skipped = 0;
    for (let i = 0; i < slots; i++) {
      await w.clock.advance(MIN);
      // The slot is recorded by the engine's own async work, not by the clock: wait for it to land.
      for (let tries = 0; tries < 500; tries++) {
        skipped = (await w.runs('s')).filter((r) => r.status === 'skipped').length;
        if (skipped >= i) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await w.alerts.idle();
    }
    writeFileSync(join(w.dir, 'release'), '');
    await w.engine.idle();
    await w.alerts.idle();
    return (await w.runs('s')).filter((r) => r.status === 'skipped').length;
  }

  test('with includeSkipped, 2 skipped slots in a row alert; without it they never do', async () => {
    for (const includeSkipped of [true, false]) {
      w = await world(config());
      await w.app.store.insertJob(
        commandJob('s', stuckCommand(w.dir), {
          alerts: {
            afterFailures: 2,
            cooldownMs: HOUR,
            recovery: true,
            ...(includeSkipped ? { includeSkipped } : {}),
          },
        }),
      );
      await w.engine.start();
      await w.alerts.start();
      // Slot 1 starts the run that never ends by itself; slots 2 and 3 find it still running.
      const skipped = await overlapSlots(w, 3);
      assert.equal(skipped, 2, 'two slots were skipped for overlap');
      const errors = bodies().filter((b) => b.severity === 'error');
      if (includeSkipped) {
        assert.equal(errors.length, 1, 'the second skip in a row alerts, once');
        const [alert] = errors;
        assert.match(alert!.title, /job-s was skipped \(2 times in a row\)/);
        assert.equal(alert!.run?.status, 'skipped');
        assert.equal(alert!.fields.consecutiveFailures, '2');
        // The stuck run finally ends ok: the recovery notice follows.
        assert.deepEqual(
          bodies().map((b) => b.severity),
          ['error', 'recovery'],
        );
      } else {
        assert.equal(bodies().length, 0, 'skipped runs do not count by default');
      }
      await w.close();
      w = undefined;
      hook.requests.length = 0;
    }
  });
});
