import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentTurnPayload } from '../../src/domain/job.ts';
import { startHarness, LLM_KEY } from './agent-harness.ts';
import type { Harness } from './agent-harness.ts';
import { startFakeLlmServer, unreachableBaseUrl } from './fake-llm-server.ts';
import type { FakeLlmServer } from './fake-llm-server.ts';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';

function turn(message: string, extra: Partial<AgentTurnPayload> = {}): AgentTurnPayload {
  return { kind: 'agentTurn', message, session: 'isolated', timeoutSeconds: 60, ...extra };
}

describe('agent-turn jobs', () => {
  let h: Harness;
  let spare: FakeLlmServer;
  let hook: Recorder;
  before(async () => {
    spare = await startFakeLlmServer();
    hook = await startRecorder();
    h = await startHarness({
      config: (llm) => ({
        agents: {
          default: {
            baseUrl: llm.baseUrl,
            model: 'test-model',
            apiKeyRef: 'env:LLM_KEY',
            systemPrompt: 'You are the night operator.',
          },
          spare: { baseUrl: spare.baseUrl, model: 'spare-model' },
        },
        channels: { ops: { kind: 'webhook', url: hook.url + '/ops' } },
      }),
    });
  });
  after(async () => {
    await h.close();
    await spare.close();
    await hook.close();
  });

  test('an ok turn records model, endpoint, usage and reply, and keeps an isolated transcript', async () => {
    h.llm.requests.length = 0;
    h.llm.enqueue({ content: 'All 3 backups verified.', usage: { prompt: 40, completion: 7 } });
    await h.addJob('summary', turn('Summarise the night.'));
    const run = await h.run('summary');
    assert.equal(run.status, 'ok', run.error);
    assert.equal(run.outputTail, 'All 3 backups verified.');
    const agent = run.details?.agent;
    assert.equal(agent?.agent, 'default');
    assert.equal(agent?.model, 'test-model');
    assert.equal(agent?.endpoint, h.llm.baseUrl);
    assert.deepEqual(agent?.usage, { promptTokens: 40, completionTokens: 7, totalTokens: 47 });
    assert.equal(agent?.reply, 'All 3 backups verified.');
    assert.equal(agent?.sessionId, `isolated:${run.runId}`);
    // The key is resolved from its reference and sent only as the bearer token.
    const chat = h.llm.chatRequests()[0];
    assert.equal(chat?.headers.authorization, `Bearer ${LLM_KEY}`);
    assert.doesNotMatch(JSON.stringify(run), new RegExp(LLM_KEY));
    // The session transcript holds this turn without the system prompt.
    const transcript = await h.app.store.sessions.transcript(`isolated:${run.runId}`);
    assert.deepEqual(transcript, [
      { role: 'user', content: 'Summarise the night.' },
      { role: 'assistant', content: 'All 3 backups verified.' },
    ]);
    const session = await h.app.store.sessions.get(`isolated:${run.runId}`);
    assert.equal(session?.kind, 'isolated');
  });

  test('the main session carries history between runs; lightContext leaves it out', async () => {
    await h.addJob('main-a', turn('Remember: the NAS is called vault7.', { session: 'main' }));
    await h.addJob('main-b', turn('What is the NAS called?', { session: 'main' }));
    await h.addJob('main-light', turn('Quick check.', { session: 'main', lightContext: true }));
    h.llm.enqueue({ content: 'Noted.' }, { content: 'vault7' }, { content: 'fine' });
    h.llm.requests.length = 0;
    assert.equal((await h.run('main-a')).status, 'ok');
    const b = await h.run('main-b');
    assert.equal(b.status, 'ok');
    assert.equal(b.details?.agent?.sessionId, 'main:default');
    await h.run('main-light');
    const [, second, light] = h.llm.chatRequests().map((r) => r.body?.messages as { content: string }[]);
    assert.deepEqual(
      second?.map((m) => m.content),
      [
        'You are the night operator.',
        'Remember: the NAS is called vault7.',
        'Noted.',
        'What is the NAS called?',
      ],
    );
    assert.deepEqual(
      light?.map((m) => m.content),
      ['You are the night operator.', 'Quick check.'],
    );
    const transcript = await h.app.store.sessions.transcript('main:default');
    assert.equal(transcript.length, 6, 'all three turns are kept in the main session');
  });

  test('a streamed reply with an allowed exec call ends ok and records the tool call', async () => {
    const s = await startHarness({ stream: true });
    try {
      s.llm.enqueue(
        {
          toolCalls: [{ name: 'exec', arguments: { argv: ['echo', 'disk', 'ok'] } }],
          usage: { prompt: 5, completion: 2 },
        },
        { content: 'The disk is ok.', usage: { prompt: 9, completion: 4 } },
      );
      await s.addJob('disk', turn('Check the disk.', { tools: ['exec'], execAllowlist: [['echo']] }));
      const run = await s.run('disk');
      assert.equal(run.status, 'ok', run.error);
      assert.equal(run.outputTail, 'The disk is ok.');
      assert.deepEqual(run.details?.agent?.toolCalls, [{ name: 'exec', allowed: true }]);
      assert.deepEqual(run.details?.agent?.usage, { promptTokens: 14, completionTokens: 6, totalTokens: 20 });
      const chats = s.llm.chatRequests();
      assert.equal(chats[0]?.body?.stream, true, 'the turn asked for a streamed reply');
      // The tool's real output went back to the model.
      const toolMsg = (chats[1]?.body?.messages as { role: string; content: string }[]).find(
        (m) => m.role === 'tool',
      );
      assert.match(toolMsg?.content ?? '', /disk ok/);
    } finally {
      await s.close();
    }
  });

  test('a tool call outside the allowlist ends error "denied" and the session stays a valid conversation', async () => {
    h.llm.enqueue({ toolCalls: [{ id: 'call_x', name: 'backup_run', arguments: { profile: 'all' } }] });
    await h.addJob('denied', turn('Back everything up.', { session: 'session:ops' }));
    const run = await h.run('denied');
    assert.equal(run.status, 'error');
    assert.match(run.error ?? '', /^denied: tool backup_run is not allowed/);
    assert.deepEqual(run.details?.agent?.toolCalls, [
      { name: 'backup_run', allowed: false, denial: 'tool backup_run is not allowed for this job' },
    ]);
    const transcript = await h.app.store.sessions.transcript('session:ops');
    assert.deepEqual(
      transcript.map((m) => m.role),
      ['user', 'assistant', 'tool'],
    );
    assert.match((transcript[2] as { content: string }).content, /^not run: denied/);
  });

  test('an exec argv outside the exec allowlist is denied and runs nothing', async () => {
    const target = path.join(h.dir, 'should-not-exist');
    h.llm.enqueue({ toolCalls: [{ name: 'exec', arguments: { argv: ['touch', target] } }] });
    await h.addJob('exec-denied', turn('Touch it.', { tools: ['exec'], execAllowlist: [['echo']] }));
    const run = await h.run('exec-denied');
    assert.equal(run.status, 'error');
    assert.match(run.error ?? '', /^denied: exec of "touch"/);
    assert.equal(fs.existsSync(target), false);
  });

  test('a failing primary model falls back to a model on the same endpoint', async () => {
    h.llm.requests.length = 0;
    h.llm.enqueue({ status: 503, body: '{"error":{"message":"overloaded"}}' }, { content: 'from backup' });
    await h.addJob('fallback', turn('Hello?', { fallbacks: ['backup-model'] }));
    const run = await h.run('fallback');
    assert.equal(run.status, 'ok', run.error);
    assert.equal(run.details?.agent?.model, 'backup-model');
    assert.deepEqual(
      h.llm.chatRequests().map((r) => r.body?.model),
      ['test-model', 'backup-model'],
    );
  });

  test('an "agent/model" fallback uses that agent’s endpoint when the primary is down', async () => {
    const down = await unreachableBaseUrl();
    const s = await startHarness({
      config: () => ({
        agents: {
          default: { baseUrl: down, model: 'primary' },
          spare: { baseUrl: spare.baseUrl, model: 'spare-model' },
        },
      }),
    });
    try {
      spare.requests.length = 0;
      spare.enqueue({ content: 'spare here' });
      await s.addJob('cross', turn('Hello?', { fallbacks: ['spare/big-model'] }));
      const run = await s.run('cross');
      assert.equal(run.status, 'ok', run.error);
      assert.equal(run.details?.agent?.model, 'big-model');
      assert.equal(run.details?.agent?.endpoint, spare.baseUrl);
      assert.equal(spare.chatRequests()[0]?.body?.model, 'big-model');
    } finally {
      await s.close();
    }
  });

  test('all endpoints down: skipped by preflight, no model call, nothing written to the session', async () => {
    const down = await unreachableBaseUrl();
    const s = await startHarness({ config: () => ({ agents: { default: { baseUrl: down, model: 'm' } } }) });
    try {
      await s.addJob('offline', turn('Anyone there?', { session: 'main' }));
      const run = await s.run('offline');
      assert.equal(run.status, 'skipped');
      assert.match(run.error ?? '', /^all model endpoints unreachable: /);
      assert.deepEqual(await s.app.store.sessions.transcript('main:default'), []);
    } finally {
      await s.close();
    }
  });

  test('a turn that outlasts its timeout ends timeout', async () => {
    h.llm.enqueue({ content: 'too late', delayMs: 10_000 });
    await h.addJob('slow', turn('Think hard.', { timeoutSeconds: 1 }));
    const run = await h.run('slow');
    assert.equal(run.status, 'timeout');
    assert.match(run.error ?? '', /timed out after 1s/);
  });

  test('NO_REPLY ends ok but nothing is announced', async () => {
    hook.requests.length = 0;
    h.llm.enqueue({ content: '  NO_REPLY\n' });
    await h.addJob('quiet', turn('Anything to report?'), { mode: 'announce', channel: 'ops' });
    const run = await h.run('quiet');
    assert.equal(run.status, 'ok');
    assert.equal(run.details?.agent?.suppressed, true);
    assert.equal(hook.requests.length, 0, 'the channel got nothing');
    assert.deepEqual(
      run.details?.delivery?.map((d) => [d.purpose, d.resolved, d.delivered]),
      [['announce', 'none: the agent answered NO_REPLY', false]],
    );
  });

  test('a reply is announced to the job’s channel', async () => {
    hook.requests.length = 0;
    h.llm.enqueue({ content: 'Backups fine.' });
    await h.addJob('loud', turn('Report.'), { mode: 'announce', channel: 'ops' });
    const run = await h.run('loud');
    assert.equal(run.status, 'ok');
    assert.equal(hook.requests.length, 1);
    const body = JSON.parse(hook.requests[0]?.body ?? '{}') as { text: string; run: { status: string } };
    assert.equal(body.text, 'Backups fine.');
    assert.equal(body.run.status, 'ok');
    assert.equal(run.details?.delivery?.[0]?.delivered, true);
  });

  test('an unknown agent fails the run with the configured names, and creates no session', async () => {
    await h.addJob('ghost', turn('Hi', { agent: 'ghost', session: 'session:ghost' }));
    const run = await h.run('ghost');
    assert.equal(run.status, 'error');
    assert.match(run.error ?? '', /no agent named "ghost".*configured agents: default, spare/);
    assert.equal(await h.app.store.sessions.get('session:ghost'), undefined);
  });
});
