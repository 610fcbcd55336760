import { test, describe, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';
import { commandJob, world, HOUR, MIN, T0 } from './helpers.ts';
import type { World } from './helpers.ts';

interface NtfyRequest {
  title: string;
  priority: string;
  body: string;
}

let ntfy: Recorder;
let w: World | undefined;
before(async () => {
  ntfy = await startRecorder([{ status: 200, body: '{"id":"x"}' }]);
});
after(async () => ntfy.close());
afterEach(async () => {
  await w?.close();
  w = undefined;
  ntfy.requests.length = 0;
});

function messages(): NtfyRequest[] {
  return ntfy.requests
    .filter((r) => r.path === '/nightshift-ops')
    .map((r) => ({ title: String(r.headers.title), priority: String(r.headers.priority), body: r.body }));
}

const config = (): object => ({
  channels: { phone: { kind: 'ntfy', server: ntfy.url, topic: 'nightshift-ops' } },
  alerts: { channels: ['phone'] },
});

const deadMan = { afterFailures: 0, cooldownMs: HOUR, recovery: true, ifNoSuccessWithinMs: 2 * HOUR };

describe("dead-man's switch", () => {
  test('a daemon starting long after the last success alerts at once, and only once per silence', async () => {
    w = await world(config());
    // A disabled job counts too: nothing runs it, which is exactly the silence to report.
    await w.app.store.insertJob(
      commandJob('d', 'true', { enabled: false, createdAtMs: T0 - 30 * HOUR, alerts: deadMan }),
    );
    // Its last ok run finished 26 hours before the daemon starts (the record predates alerting).
    await w.app.store.claimRun({
      runId: 'old-ok',
      jobId: 'd',
      slotMs: T0 - 26 * HOUR,
      attempt: 1,
      trigger: 'manual',
      status: 'running',
      startedAtMs: T0 - 26 * HOUR,
    });
    await w.app.store.finishRun('old-ok', { status: 'ok', finishedAtMs: T0 - 26 * HOUR + 5_000 });
    await w.engine.start();
    await w.alerts.start();
    assert.equal(messages().length, 1, 'fired during start()');
    const [m] = messages();
    assert.equal(m!.priority, '5', 'sent as an error');
    assert.match(m!.title, /ERROR: job-d: no successful run for 1d1h59m55s/);
    assert.match(m!.body, /no ok run since 2027-01-02T22:00:05Z/);
    assert.match(m!.body, /The job is disabled/);
    const sent = w.alertEvents.filter((e) => e.event === 'alert.sent');
    assert.equal(sent.length, 1);
    assert.equal((sent[0] as { purpose: string }).purpose, 'dead-man');

    await w.advance(30 * MIN); // 30 checks later: still silent, no repeat
    assert.equal(messages().length, 1, 'not every minute');
    const state = await w.app.store.alertState.get('d');
    assert.equal(state?.deadManFiredAtMs, T0);
    assert.equal(state?.deadManDeliveries?.[0]?.delivered, true);
    assert.equal(state?.deadManDeliveries?.[0]?.resolved, 'ntfy:phone');

    // A restart during the same silence does not fire again.
    await w.restart();
    await w.engine.start();
    await w.alerts.start();
    assert.equal(messages().length, 1, 'not again after a restart');

    // A success ends the silence (with a recovery notice); the next silence fires again.
    await w.engine.requestRun('d');
    await w.engine.idle();
    await w.alerts.idle();
    assert.equal(messages().length, 2);
    assert.match(messages()[1]!.title, /RECOVERED: job-d recovered/);
    await w.advance(HOUR + 59 * MIN);
    assert.equal(messages().length, 2, 'within the span');
    await w.advance(2 * MIN);
    assert.equal(messages().length, 3, 'a new silence fires once');
    assert.match(messages()[2]!.title, /no successful run for 2h/);
  });

  test('a job that never succeeded is measured from its creation; ok runs keep the switch quiet', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      commandJob('n', 'exit 1', {
        schedule: { kind: 'every', everyMs: 30 * MIN, anchorMs: T0 },
        alerts: deadMan,
      }),
    );
    await w.app.store.insertJob(
      commandJob('g', 'true', {
        schedule: { kind: 'every', everyMs: 30 * MIN, anchorMs: T0 },
        alerts: deadMan,
      }),
    );
    await w.engine.start();
    await w.alerts.start();
    assert.equal(messages().length, 0);
    for (let i = 0; i < 3; i++) await w.advance(30 * MIN);
    await w.advance(20 * MIN);
    assert.equal(messages().length, 0, 'at 1h50m the span has not passed');
    await w.advance(20 * MIN);
    assert.equal(messages().length, 1, 'at 2h10m the never-successful job has fired');
    for (let i = 0; i < 4; i++) await w.advance(30 * MIN);
    const titles = messages().map((m) => m.title);
    assert.equal(titles.length, 1, titles.join('\n'));
    assert.match(titles[0]!, /job-n: no successful run for 2h/);
    assert.match(messages()[0]!.body, /since the job was created \(2027-01-04T00:00:00Z\)/);
    assert.ok((await w.runs('g')).length >= 8, 'the healthy job ran all along');
  });
});
