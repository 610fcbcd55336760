import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../agent/agent-harness.ts';
import type { Harness } from '../agent/agent-harness.ts';
import { startRecorder } from './http-recorder.ts';
import type { Recorder } from './http-recorder.ts';
import type { CommandPayload } from '../../src/domain/job.ts';

function cmd(command: string): CommandPayload {
  return { kind: 'command', command, timeoutSeconds: 30 };
}

interface Body {
  schema: string;
  title: string;
  text: string;
  severity: string;
  job: { name: string };
  run: { id: string; status: string };
}

function bodies(r: Recorder, pathPrefix: string): Body[] {
  return r.requests.filter((q) => q.path.startsWith(pathPrefix)).map((q) => JSON.parse(q.body) as Body);
}

describe('job delivery', () => {
  let hook: Recorder;
  let failing: Recorder;
  let h: Harness;
  before(async () => {
    hook = await startRecorder();
    failing = await startRecorder([{ status: 500, body: 'boom' }]);
    h = await startHarness({
      config: () => ({
        channels: {
          jobfd: { kind: 'webhook', url: hook.url + '/jobfd' },
          cfg: { kind: 'webhook', url: hook.url + '/cfg' },
          ann: { kind: 'webhook', url: hook.url + '/ann' },
        },
        alerts: { failureDestination: { channel: 'cfg' } },
      }),
    });
  });
  after(async () => {
    await h.close();
    await hook.close();
    await failing.close();
  });

  test('webhook delivery POSTs the run result as JSON and records it', async () => {
    hook.requests.length = 0;
    await h.addJob('hello', cmd('echo hello from the job'), {
      mode: 'webhook',
      url: hook.url + '/hook?token=abc',
    });
    const run = await h.run('hello');
    assert.equal(run.status, 'ok');
    const [body] = bodies(hook, '/hook');
    assert.equal(hook.requests[0]?.method, 'POST');
    assert.equal(hook.requests[0]?.headers['content-type'], 'application/json');
    assert.equal(body?.schema, 'nightshift.notification');
    assert.equal(body?.job.name, 'hello');
    assert.deepEqual(body?.run, { id: run.runId, status: 'ok' });
    assert.match(body?.text ?? '', /hello from the job/);
    const rec = run.details?.delivery;
    assert.equal(rec?.length, 1);
    assert.equal(rec?.[0]?.purpose, 'webhook');
    assert.equal(rec?.[0]?.delivered, true);
    assert.equal(rec?.[0]?.intended, `webhook ${hook.url}/hook`, 'the query (a token) is not recorded');
  });

  test('a failed webhook job tells its webhook and, with a configured destination, sends a failure notice', async () => {
    hook.requests.length = 0;
    await h.addJob('breaks', cmd('exit 3'), { mode: 'webhook', url: hook.url + '/hook' });
    const run = await h.run('breaks');
    assert.equal(run.status, 'error');
    assert.equal(bodies(hook, '/hook')[0]?.run.status, 'error');
    const notice = bodies(hook, '/cfg')[0];
    assert.equal(notice?.severity, 'error');
    assert.match(notice?.title ?? '', /breaks failed: error/);
    assert.deepEqual(
      run.details?.delivery?.map((d) => [d.purpose, d.delivered]),
      [
        ['webhook', true],
        ['failure-notice', true],
      ],
    );
  });

  test('failure notice order: the job’s failure destination comes first', async () => {
    hook.requests.length = 0;
    await h.addJob('fd-job', cmd('exit 1'), {
      mode: 'announce',
      channel: 'ann',
      failureDestination: { channel: 'jobfd' },
    });
    const run = await h.run('fd-job');
    assert.equal(bodies(hook, '/jobfd').length, 1);
    assert.equal(bodies(hook, '/cfg').length, 0);
    assert.equal(bodies(hook, '/ann').length, 0, 'a failed run is not announced as a result');
    const rec = run.details?.delivery?.[0];
    assert.equal(rec?.purpose, 'failure-notice');
    assert.match(rec?.resolved ?? '', /^webhook channel jobfd \(from the job's failure destination\)/);
  });

  test('failure notice order: then the configuration’s alerts.failureDestination', async () => {
    hook.requests.length = 0;
    await h.addJob('fd-config', cmd('exit 1'), { mode: 'announce', channel: 'ann' });
    const run = await h.run('fd-config');
    assert.equal(bodies(hook, '/cfg').length, 1);
    assert.equal(bodies(hook, '/ann').length, 0);
    assert.match(
      run.details?.delivery?.[0]?.resolved ?? '',
      /channel cfg \(from alerts.failureDestination\)/,
    );
  });

  test('a failure destination naming an unconfigured channel falls through to the next, and says so', async () => {
    hook.requests.length = 0;
    await h.addJob('fd-gone', cmd('exit 1'), {
      mode: 'announce',
      channel: 'ann',
      failureDestination: { channel: 'gone', to: '#x' },
    });
    const run = await h.run('fd-gone');
    assert.equal(bodies(hook, '/cfg').length, 1);
    assert.match(
      run.details?.delivery?.[0]?.resolved ?? '',
      /gone:#x from the job's failure destination is not a configured channel/,
    );
  });

  test('failure notice order: last the job’s announce target', async () => {
    const s = await startHarness({
      config: () => ({ channels: { ann: { kind: 'webhook', url: hook.url + '/ann' } } }),
    });
    try {
      hook.requests.length = 0;
      await s.addJob('fd-announce', cmd('exit 1'), { mode: 'announce', channel: 'ann', to: '#night' });
      const run = await s.run('fd-announce');
      const [notice] = bodies(hook, '/ann');
      assert.match(notice?.title ?? '', /fd-announce failed/);
      assert.match(
        run.details?.delivery?.[0]?.resolved ?? '',
        /^webhook channel ann to #night \(from the job's announce target\)/,
      );

      // A successful run of the same kind of job announces its result instead.
      hook.requests.length = 0;
      await s.addJob('fine', cmd('echo fine'), { mode: 'announce', channel: 'ann' });
      const ok = await s.run('fine');
      assert.equal(bodies(hook, '/ann')[0]?.severity, 'info');
      assert.deepEqual(
        ok.details?.delivery?.map((d) => [d.purpose, d.intended, d.delivered]),
        [['announce', 'announce ann', true]],
      );
    } finally {
      await s.close();
    }
  });

  test('a delivery that fails is recorded as not delivered and leaves the run ok', async () => {
    await h.addJob('unlucky', cmd('echo x'), { mode: 'webhook', url: failing.url + '/hook' });
    const run = await h.run('unlucky');
    assert.equal(run.status, 'ok');
    const rec = run.details?.delivery?.[0];
    assert.equal(rec?.delivered, false);
    assert.match(rec?.error ?? '', /500/);
  });

  test('--no-deliver (mode none) sends nothing and records nothing', async () => {
    hook.requests.length = 0;
    await h.addJob('silent', cmd('exit 1'), { mode: 'none' });
    const run = await h.run('silent');
    assert.equal(run.status, 'error');
    assert.equal(hook.requests.length, 0);
    assert.equal(run.details?.delivery, undefined);
  });

  test('delivery records follow the ones the executor wrote', async () => {
    hook.requests.length = 0;
    await h.addJob(
      'event-hook',
      { kind: 'systemEvent', text: 'note this', session: 'main', wake: 'next-heartbeat' },
      { mode: 'webhook', url: hook.url + '/hook' },
    );
    const run = await h.run('event-hook');
    assert.equal(run.status, 'delivered');
    assert.deepEqual(
      run.details?.delivery?.map((d) => d.purpose),
      ['inbox', 'webhook'],
    );
  });
});
