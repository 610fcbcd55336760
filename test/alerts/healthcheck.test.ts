import { test, describe, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';
import { commandJob, world, MIN } from './helpers.ts';
import type { World } from './helpers.ts';
import { pingUrl } from '../../src/alerts/healthcheck.ts';

let hc: Recorder;
let w: World | undefined;
before(async () => {
  hc = await startRecorder([{ status: 200, body: 'OK' }]);
});
after(async () => hc.close());
afterEach(async () => {
  await w?.close();
  w = undefined;
  hc.requests.length = 0;
});

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('healthcheck pings', () => {
  test('start, fail and success pings carry the run id; the failure reason is the body', async () => {
    w = await world({});
    await w.app.store.insertJob(
      commandJob('h', `if [ -e '${w.dir}/ok' ]; then exit 0; fi; echo nope >&2; exit 4`, {
        healthcheck: { url: `${hc.url}/ping/3f1c` },
      }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    const [failed] = await w.runs('h');
    assert.equal(failed?.status, 'error');
    const seen = (): string[] => hc.requests.map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(seen(), [
      `POST /ping/3f1c/fail?rid=${failed!.runId}`,
      `POST /ping/3f1c/start?rid=${failed!.runId}`,
    ]);
    const failPing = hc.requests.find((r) => r.path.includes('/fail'));
    assert.equal(failPing?.body, `error: ${failed!.error}`);

    writeFileSync(`${w.dir}/ok`, '');
    hc.requests.length = 0;
    await w.advance(MIN);
    const ok = (await w.runs('h'))[1]!;
    assert.equal(ok.status, 'ok');
    assert.deepEqual(seen(), [`POST /ping/3f1c/start?rid=${ok.runId}`, `POST /ping/3f1c?rid=${ok.runId}`]);
  });

  test('a failed attempt that will be retried is logged, not reported down; the last attempt fails', async () => {
    w = await world({});
    await w.app.store.insertJob(
      commandJob('t', 'exit 1', {
        healthcheck: { url: `${hc.url}/p` },
        policy: { ...commandJob('x', '').policy, retries: 1, retryBackoffMs: [MIN] },
      }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    const [first] = await w.runs('t');
    const log = hc.requests.find((r) => r.path.startsWith('/p/log'));
    assert.equal(log?.path, `/p/log?rid=${first!.runId}`);
    assert.match(log?.body ?? '', /^attempt 1 error: .*; a retry follows$/);
    assert.ok(!hc.requests.some((r) => r.path.startsWith('/p/fail')), 'not reported down yet');
    await w.advance(2 * MIN);
    const retry = (await w.runs('t'))[1]!;
    assert.equal(retry.attempt, 2);
    assert.ok(hc.requests.some((r) => r.path === `/p/fail?rid=${retry.runId}`));
  });

  test('the configured base URL plus the job id is used when the job names no URL', async () => {
    w = await world({ healthchecks: { baseUrl: `${hc.url}/base/` } });
    await w.app.store.insertJob(commandJob('abc123', 'true'));
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    const [run] = await w.runs('abc123');
    assert.deepEqual(hc.requests.map((r) => r.path).sort(), [
      `/base/abc123/start?rid=${run!.runId}`,
      `/base/abc123?rid=${run!.runId}`,
    ]);
  });

  test('an unreachable healthcheck server is logged without its path and never changes the run', async () => {
    const port = await deadPort();
    w = await world({});
    await w.app.store.insertJob(
      commandJob('u', 'true', { healthcheck: { url: `http://127.0.0.1:${port}/secret-check-uuid` } }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(MIN);
    const [run] = await w.runs('u');
    assert.equal(run?.status, 'ok');
    const failures = w.alertEvents.filter((e) => e.event === 'healthcheck.failed');
    assert.deepEqual(failures.map((e) => (e as { ping: string }).ping).sort(), ['start', 'success']);
    for (const f of failures) assert.ok(!JSON.stringify(f).includes('secret-check-uuid'), JSON.stringify(f));
  });

  test('ping URLs keep the query of the configured URL', () => {
    assert.equal(
      pingUrl('https://hc.example/p/key/slug', 'start', 'r1'),
      'https://hc.example/p/key/slug/start?rid=r1',
    );
    assert.equal(pingUrl('https://hc.example/u/', 'fail', 'r2'), 'https://hc.example/u/fail?rid=r2');
    assert.equal(
      pingUrl('https://hc.example/u?create=1', 'success', 'r3'),
      'https://hc.example/u?create=1&rid=r3',
    );
  });
});
