import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from '../agent/agent-harness.ts';
import type { Harness } from '../agent/agent-harness.ts';
import { SystemEventExecutor } from '../../src/sessions/system-event.ts';
import { resolveSessionTarget } from '../../src/sessions/resolve.ts';
import type { Job, SystemEventPayload } from '../../src/domain/job.ts';
import type { ExecutionContext } from '../../src/payloads/executor.ts';

function event(text: string, extra: Partial<SystemEventPayload> = {}): SystemEventPayload {
  return { kind: 'systemEvent', text, session: 'main', wake: 'next-heartbeat', ...extra };
}

describe('session targets', () => {
  const ctx = { agent: 'ops', runId: 'r1' };
  test('main, isolated, named and current resolve to session ids', () => {
    assert.deepEqual(resolveSessionTarget('main', ctx), { id: 'main:ops', kind: 'main', agent: 'ops' });
    assert.deepEqual(resolveSessionTarget('isolated', ctx), {
      id: 'isolated:r1',
      kind: 'isolated',
      agent: 'ops',
    });
    assert.deepEqual(resolveSessionTarget('session:deploys', ctx), {
      id: 'session:deploys',
      kind: 'named',
      agent: 'ops',
    });
    assert.deepEqual(resolveSessionTarget('current', { ...ctx, createdBySession: 'session:chat-42' }), {
      id: 'session:chat-42',
      kind: 'named',
      agent: 'ops',
    });
    const fallback = resolveSessionTarget('current', ctx);
    assert.equal(fallback.id, 'main:ops');
    assert.match(fallback.note ?? '', /no creating session, so the main session was used/);
  });
});

describe('system events', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ wake: false });
  });
  after(() => h.close());

  test('a system event ends delivered (never ok), with the session and inbox item named', async () => {
    h.llm.requests.length = 0;
    const job = await h.addJob('remind', event('rotate the API keys today'));
    const run = await h.run('remind');
    assert.equal(run.status, 'delivered');
    const items = await h.app.store.sessions.pendingInbox('main:default');
    assert.equal(items.length, 1);
    const item = items[0];
    assert.equal(item?.text, 'rotate the API keys today');
    assert.equal(item?.jobId, job.id);
    assert.equal(item?.runId, run.runId);
    assert.match(
      run.error ?? '',
      new RegExp(`inbox of session main:default as item ${item?.seq}; nothing was executed`),
    );
    assert.deepEqual(
      run.details?.delivery?.map((d) => [d.purpose, d.intended, d.resolved, d.delivered]),
      [['inbox', 'session main of agent default', `main:default inbox item ${item?.seq}`, true]],
    );
    assert.equal(h.llm.requests.length, 0, 'a system event calls no model');
  });

  test('a named session gets its own inbox; wake now without a heartbeat runner says it waits', async () => {
    await h.addJob(
      'named',
      event('deploy finished', { session: 'session:deploys', wake: 'now', agent: 'default' }),
    );
    const run = await h.run('named');
    assert.equal(run.status, 'delivered');
    assert.match(run.error ?? '', /no heartbeat runner here, it waits for the next heartbeat/);
    assert.equal((await h.app.store.sessions.pendingInbox('session:deploys')).length, 1);
    assert.equal((await h.app.store.sessions.get('session:deploys'))?.kind, 'named');
  });

  test('"current" goes to the creating session when the job carries one, else to main and says so', async () => {
    await h.addJob('cur', event('from nowhere', { session: 'current' }));
    const run = await h.run('cur');
    assert.equal(run.status, 'delivered');
    assert.match(
      run.error ?? '',
      /session "current": the job records no creating session, so the main session was used/,
    );

    const exec = new SystemEventExecutor({ sessions: h.app.store.sessions });
    const job = (await h.app.store.findJob('cur')) as Job;
    const ctx: ExecutionContext = {
      job,
      runId: 'run-current',
      slotMs: h.clock.now(),
      attempt: 1,
      signal: new AbortController().signal,
      startedAtMs: h.clock.now(),
      now: () => h.clock.now(),
    };
    const payload = { ...event('from the chat', { session: 'current' }), createdBySession: 'session:chat-7' };
    const out = await exec.execute(payload, ctx);
    assert.equal(out.status, 'delivered');
    const items = await h.app.store.sessions.pendingInbox('session:chat-7');
    assert.deepEqual(
      items.map((i) => i.text),
      ['from the chat'],
    );

    const isolated = await exec.execute(event('x', { session: 'isolated' }), ctx);
    assert.equal(isolated.status, 'error');
    assert.match(isolated.error ?? '', /cannot target an isolated session/);
  });
});
