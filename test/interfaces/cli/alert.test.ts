import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startRecorder } from '../../delivery/http-recorder.ts';
import type { Recorder } from '../../delivery/http-recorder.ts';
import { tempHome } from './cli-harness.ts';
import type { CliResult, TempHome } from './cli-harness.ts';
import { cleanEnv, commandJob, writeConfig, HOUR, T0 } from '../../alerts/helpers.ts';
import { openApp } from '../../../src/app/app.ts';

const ENTRY = fileURLToPath(new URL('../../alerts/cli-entry.ts', import.meta.url));

/** `nightshift --home HOME ...args` as a child process (see test/alerts/cli-entry.ts). */
function nightshift(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env };
    delete childEnv.NIGHTSHIFT_HOME;
    delete childEnv.NIGHTSHIFT_CONFIG;
    delete childEnv.NODE_OPTIONS;
    delete childEnv.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, '--home', home, ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let hook: Recorder;
let gone: Recorder;
let h: TempHome;
before(async () => {
  hook = await startRecorder([{ status: 200, body: 'ok' }]);
  gone = await startRecorder([{ status: 404, body: 'no such hook' }]);
  h = tempHome();
  mkdirSync(h.home, { recursive: true, mode: 0o700 });
  writeConfig(h.home, {
    channels: {
      hook: { kind: 'webhook', url: `${hook.url}/in`, secret: 'env:HOOK_KEY' },
      gone: { kind: 'webhook', url: `${gone.url}/in`, retry: { attempts: 1 } },
      phone: { kind: 'ntfy', server: hook.url, topic: 'nightshift-ops' },
    },
    alerts: { channels: ['hook', 'phone'] },
    healthchecks: { baseUrl: 'https://hc-ping.com/pingkey' },
  });
});
after(async () => {
  await hook.close();
  await gone.close();
  h.cleanup();
});

describe('nightshift alert', () => {
  test('alert test CHANNEL delivers a signed test notice and exits 0', async () => {
    const r = await nightshift(h.home, ['alert', 'test', 'hook'], { HOOK_KEY: 'k3y-value-abc' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /delivered a test message through webhook channel "hook" \(1 attempt/);
    const req = hook.requests.at(-1)!;
    assert.equal(req.path, '/in');
    const body = JSON.parse(req.body) as { severity: string; title: string; text: string };
    assert.equal(body.severity, 'info');
    assert.equal(body.title, 'Test message for channel hook');
    assert.match(body.text, /Nothing has failed/);
    assert.match(String(req.headers['x-nightshift-signature']), /^sha256=[0-9a-f]{64}$/);
    assert.ok(!r.stdout.includes('k3y-value-abc') && !r.stderr.includes('k3y-value-abc'));
  });

  test('alert test --json reports the delivery', async () => {
    const r = await nightshift(h.home, ['alert', 'test', 'phone', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.channel, 'phone');
    assert.equal(out.kind, 'ntfy');
    assert.equal(out.delivered, true);
    assert.equal(out.attempts, 1);
    assert.equal(out.status, 200);
    assert.equal(hook.requests.at(-1)?.path, '/nightshift-ops');
  });

  test('a channel answering 404 exits 1 with the reason', async () => {
    const r = await nightshift(h.home, ['alert', 'test', 'gone']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /channel gone \(webhook\): not delivered after 1 attempt: .*404/);
    assert.match(r.stderr, /hint: /);
    const j = await nightshift(h.home, ['alert', 'test', 'gone', '--json']);
    assert.equal(j.code, 1);
    const out = JSON.parse(j.stdout) as { delivered: boolean; status: number; error: string };
    assert.equal(out.delivered, false);
    assert.equal(out.status, 404);
    const err = JSON.parse(j.stderr) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'delivery_failed');
  });

  test('an unresolvable secret fails the test without a request, naming the reference', async () => {
    const before = hook.requests.length;
    const r = await nightshift(h.home, ['alert', 'test', 'hook']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HOOK_KEY/);
    assert.equal(hook.requests.length, before, 'nothing was sent unsigned');
  });

  test('an unknown channel is a usage error listing the configured ones', async () => {
    const r = await nightshift(h.home, ['alert', 'test', 'pager']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no channel named "pager"/);
    assert.match(r.stderr, /configured channels: hook, gone, phone/);
  });

  test('alert list shows kinds and defaults', async () => {
    const r = await nightshift(h.home, ['alert', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+KIND\s+DEFAULT$/m);
    assert.match(r.stdout, /^hook\s+webhook\s+yes$/m);
    assert.match(r.stdout, /^gone\s+webhook$/m);
    assert.match(r.stdout, /^phone\s+ntfy\s+yes$/m);
    const j = await nightshift(h.home, ['alert', 'list', '--json']);
    const out = JSON.parse(j.stdout) as { channels: unknown[]; defaults: string[] };
    assert.deepEqual(out.channels, [
      { name: 'hook', kind: 'webhook', default: true },
      { name: 'gone', kind: 'webhook', default: false },
      { name: 'phone', kind: 'ntfy', default: true },
    ]);
    assert.deepEqual(out.defaults, ['hook', 'phone']);
  });

  test('alert status shows the policy and what the alerting remembers', async () => {
    const app = await openApp(h.home, cleanEnv());
    try {
      await app.store.insertJob(
        commandJob('b1', '', { name: 'nightly', payload: { kind: 'backup', profile: 'home' } }),
      );
      await app.store.insertJob(commandJob('c1', 'true', { name: 'plain' }));
      await app.store.insertJob(
        commandJob('c2', 'true', {
          name: 'watched',
          alerts: { afterFailures: 0, cooldownMs: HOUR, recovery: true, ifNoSuccessWithinMs: 26 * HOUR },
        }),
      );
      await app.store.alertState.put('b1', { alerting: true, failures: 3, lastOkAtMs: T0 });
    } finally {
      await app.close();
    }
    const r = await nightshift(h.home, ['alert', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nightly\s+1 failure\(s\)\s+-\s+3\s+yes\s+2027-01-04T00:00:00.000Z$/m);
    assert.match(r.stdout, /^watched\s+off\s+1d2h\s+0\s+no\s+-$/m);
    assert.doesNotMatch(r.stdout, /plain/, 'a job without alerting is left out');
    const j = await nightshift(h.home, ['alert', 'status', 'plain', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { jobs: Array<{ name: string; policy: { afterFailures: number } }> };
    assert.deepEqual(
      out.jobs.map((x) => [x.name, x.policy.afterFailures]),
      [['plain', 0]],
    );
    const missing = await nightshift(h.home, ['alert', 'status', 'nope']);
    assert.equal(missing.code, 3);
  });
});
