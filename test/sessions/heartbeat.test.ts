import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startHarness } from '../agent/agent-harness.ts';
import type { Harness } from '../agent/agent-harness.ts';
import { unreachableBaseUrl } from '../agent/fake-llm-server.ts';
import { heartbeatJobName } from '../../src/sessions/heartbeat.ts';
import { ensureHeartbeatJob, ensureHeartbeatJobs } from '../../src/app/sessions.ts';
import { openApp } from '../../src/app/app.ts';
import type { SystemEventPayload } from '../../src/domain/job.ts';

function event(text: string, extra: Partial<SystemEventPayload> = {}): SystemEventPayload {
  return { kind: 'systemEvent', text, session: 'main', wake: 'next-heartbeat', ...extra };
}

describe('heartbeat', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({
      config: (llm) => ({
        agents: { default: { baseUrl: llm.baseUrl, model: 'test-model', heartbeatEvery: '15m' } },
      }),
    });
  });
  afterEach(() => h.close());

  test('a configured agent gets one visible heartbeat job that follows its configured interval', async () => {
    const job = await ensureHeartbeatJob(h.app, 'default', h.clock.now());
    assert.equal(job?.name, 'heartbeat:default');
    assert.deepEqual(job?.schedule, { kind: 'every', everyMs: 15 * 60_000 });
    assert.deepEqual(job?.payload, { kind: 'heartbeat', agent: 'default' });
    assert.equal(job?.policy.overlap, 'queue-one');
    // Idempotent: a second call returns the same job.
    const again = await ensureHeartbeatJobs(h.app, h.clock.now());
    assert.deepEqual(
      again.map((j) => j.id),
      [job?.id],
    );
    assert.equal(
      (await h.app.store.listJobs()).filter((j) => j.name === heartbeatJobName('default')).length,
      1,
    );
    assert.equal(await ensureHeartbeatJob(h.app, 'nobody', h.clock.now()), undefined);

    // A changed interval in the configuration is applied to the existing job.
    const home = h.app.home.dir;
    const file = path.join(home, 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      agents: { default: { heartbeatEvery: string } };
    };
    config.agents.default.heartbeatEvery = '1h';
    fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    const fresh = await openApp(home, { HOME: h.dir });
    try {
      const updated = await ensureHeartbeatJob(fresh, 'default', h.clock.now());
      assert.equal(updated?.id, job?.id);
      assert.deepEqual(updated?.schedule, { kind: 'every', everyMs: 3_600_000 });
    } finally {
      await fresh.close();
    }
  });

  test('an empty inbox ends skipped "inbox empty" without a single HTTP request', async () => {
    await ensureHeartbeatJob(h.app, 'default', h.clock.now());
    h.llm.requests.length = 0;
    const run = await h.run('heartbeat:default');
    assert.equal(run.status, 'skipped');
    assert.equal(run.error, 'inbox empty');
    assert.equal(h.llm.requests.length, 0, 'no preflight, no chat request');
  });

  test('waiting items make one turn on the main session and are consumed', async () => {
    await ensureHeartbeatJob(h.app, 'default', h.clock.now());
    await h.addJob('ev1', event('disk /var is 91% full'));
    await h.addJob('ev2', event('backup nightly finished: 3 snapshots'));
    assert.equal((await h.run('ev1')).status, 'delivered');
    await h.clock.advance(60_000);
    assert.equal((await h.run('ev2')).status, 'delivered');
    assert.equal((await h.app.store.sessions.pendingInbox('main:default')).length, 2);

    h.llm.requests.length = 0;
    h.llm.enqueue({
      content: 'Noted: disk nearly full, backups fine.',
      usage: { prompt: 30, completion: 9 },
    });
    const run = await h.run('heartbeat:default');
    assert.equal(run.status, 'ok', run.error);
    assert.equal(run.details?.agent?.sessionId, 'main:default');
    assert.equal(run.outputTail, 'Noted: disk nearly full, backups fine.');
    const chats = h.llm.chatRequests();
    assert.equal(chats.length, 1, 'one turn');
    const messages = chats[0]?.body?.messages as { role: string; content: string }[];
    const last = messages.at(-1)?.content ?? '';
    assert.match(last, /2 system events arrived/);
    assert.ok(
      last.indexOf('disk /var is 91% full') < last.indexOf('backup nightly finished'),
      'oldest first',
    );
    assert.deepEqual(await h.app.store.sessions.pendingInbox('main:default'), []);
    const transcript = await h.app.store.sessions.transcript('main:default');
    assert.deepEqual(
      transcript.map((m) => m.role),
      ['user', 'assistant'],
    );

    // The next heartbeat has nothing to do again, and asks no one.
    h.llm.requests.length = 0;
    const next = await h.run('heartbeat:default');
    assert.equal(next.status, 'skipped');
    assert.equal(h.llm.requests.length, 0);
  });

  test('a wake-now system event runs the heartbeat at once', async () => {
    await ensureHeartbeatJob(h.app, 'default', h.clock.now());
    await h.addJob('urgent', event('the UPS is on battery', { wake: 'now' }));
    const ev = await h.run('urgent');
    assert.equal(ev.status, 'delivered');
    assert.match(ev.error ?? '', /heartbeat of agent default requested now/);
    h.llm.enqueue({ content: 'Shutting down gracefully soon.' });
    const woken = await h.runQueued('heartbeat:default');
    assert.equal(woken.length, 1, 'one heartbeat run was queued by the event');
    assert.equal(woken[0]?.trigger, 'manual');
    assert.equal(woken[0]?.status, 'ok', woken[0]?.error);
    assert.deepEqual(await h.app.store.sessions.pendingInbox('main:default'), []);
  });

  test('with every endpoint down the heartbeat is skipped and the items stay for the next one', async () => {
    const down = await unreachableBaseUrl();
    const s = await startHarness({ config: () => ({ agents: { default: { baseUrl: down, model: 'm' } } }) });
    try {
      await ensureHeartbeatJob(s.app, 'default', s.clock.now());
      await s.addJob('ev', event('check the logs'));
      await s.run('ev');
      const run = await s.run('heartbeat:default');
      assert.equal(run.status, 'skipped');
      assert.match(
        run.error ?? '',
        /all model endpoints unreachable.*1 inbox item\(s\) left for the next heartbeat/,
      );
      assert.equal((await s.app.store.sessions.pendingInbox('main:default')).length, 1);
    } finally {
      await s.close();
    }
  });
});
