import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/domain/clock.ts';
import { UserError } from '../../src/domain/errors.ts';
import { Preflight } from '../../src/agent/preflight.ts';
import { runAgentTurn } from '../../src/agent/turn.ts';
import type { AgentTurnDeps, AgentTurnInput } from '../../src/agent/turn.ts';
import type { ToolHandler } from '../../src/agent/types.ts';
import { startFakeLlmServer, unreachableBaseUrl } from './fake-llm-server.ts';
import type { FakeLlmServer } from './fake-llm-server.ts';

const KEY = 'sk-canary-7f3a9c1e5b2d4f60';

function deps(extra: Partial<AgentTurnDeps> = {}): AgentTurnDeps {
  return {
    clock: new ManualClock(Date.parse('2026-01-01T00:00:00Z')),
    resolveSecret: async (ref) => {
      if (ref === 'env:LLM_KEY') return KEY;
      throw new Error(`secret ${ref} is not set`);
    },
    toolHandlers: {},
    ...extra,
  };
}

describe('agent turns', () => {
  let llm: FakeLlmServer;
  let input: (extra?: Partial<AgentTurnInput>) => AgentTurnInput;
  before(async () => {
    llm = await startFakeLlmServer();
    input = (extra = {}) => ({
      message: 'Summarise the night.',
      model: 'test-model',
      endpoint: { baseUrl: llm.baseUrl },
      tools: [],
      timeoutMs: 20_000,
      ...extra,
    });
  });
  after(() => llm.close());

  test('a plain reply ends ok with the reply, model, endpoint and usage', async () => {
    llm.requests.length = 0;
    llm.enqueue({ content: 'All backups ran.', usage: { prompt: 12, completion: 5 } });
    const r = await runAgentTurn(input({ systemPrompt: 'You are the night operator.' }), deps());
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.reply, 'All backups ran.');
    assert.equal(r.suppressed, false);
    assert.equal(r.model, 'test-model');
    assert.equal(r.endpoint, llm.baseUrl);
    assert.deepEqual(r.usage, { promptTokens: 12, completionTokens: 5, totalTokens: 17 });
    const sent = llm.chatRequests()[0]?.body;
    assert.deepEqual(sent?.messages, [
      { role: 'system', content: 'You are the night operator.' },
      { role: 'user', content: 'Summarise the night.' },
    ]);
    assert.equal(sent?.tools, undefined, 'no tools offered when none are allowed');
    assert.deepEqual(
      r.transcript.map((m) => m.role),
      ['system', 'user', 'assistant'],
    );
  });

  test('light context leaves the session history out', async () => {
    llm.requests.length = 0;
    const history = [
      { role: 'user' as const, content: 'earlier question' },
      { role: 'assistant' as const, content: 'earlier answer' },
    ];
    llm.enqueue({ content: 'a' }, { content: 'b' });
    await runAgentTurn(input({ history }), deps());
    await runAgentTurn(input({ history, lightContext: true }), deps());
    const [full, light] = llm.chatRequests().map((r) => r.body?.messages as unknown[]);
    assert.equal(full?.length, 3);
    assert.deepEqual(light, [{ role: 'user', content: 'Summarise the night.' }]);
  });

  test('a streamed reply with tool-call deltas runs the tool and sums usage over rounds', async () => {
    llm.requests.length = 0;
    const seen: unknown[] = [];
    const status: ToolHandler = {
      definition: { name: 'status', description: 'scheduler status', parameters: { type: 'object' } },
      run: async (args) => {
        seen.push(args);
        return { result: '{"jobs":3,"failing":0}' };
      },
    };
    llm.enqueue(
      {
        toolCalls: [{ id: 'call_a', name: 'status', arguments: { verbose: true, filter: 'backup-nightly' } }],
        usage: { prompt: 20, completion: 7 },
      },
      { content: 'Three jobs, none failing.', usage: { prompt: 40, completion: 6 } },
    );
    const r = await runAgentTurn(
      input({ tools: ['status'], stream: true }),
      deps({ toolHandlers: { status } }),
    );
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.reply, 'Three jobs, none failing.');
    assert.deepEqual(seen, [{ verbose: true, filter: 'backup-nightly' }]);
    assert.deepEqual(r.toolCalls, [
      {
        name: 'status',
        args: { verbose: true, filter: 'backup-nightly' },
        allowed: true,
        result: '{"jobs":3,"failing":0}',
      },
    ]);
    assert.deepEqual(r.usage, { promptTokens: 60, completionTokens: 13, totalTokens: 73 });
    const [first, second] = llm.chatRequests().map((q) => q.body);
    assert.equal(first?.stream, true);
    assert.deepEqual(first?.stream_options, { include_usage: true });
    assert.equal((first?.tools as { function: { name: string } }[])[0]?.function.name, 'status');
    // The tool result goes back as a role:"tool" message tied to the call id.
    const msgs = second?.messages as Record<string, unknown>[];
    assert.deepEqual(msgs.at(-1), {
      role: 'tool',
      tool_call_id: 'call_a',
      content: '{"jobs":3,"failing":0}',
    });
    assert.equal((msgs.at(-2)?.tool_calls as { id: string }[])[0]?.id, 'call_a');
  });

  test('an allowed exec call runs a real process and its output goes back to the model', async () => {
    llm.requests.length = 0;
    llm.enqueue(
      { toolCalls: [{ name: 'exec', arguments: { argv: ['echo', 'disk', 'is', 'fine'] } }] },
      { content: 'The disk is fine.' },
    );
    const r = await runAgentTurn(input({ tools: ['exec'], execAllowlist: [['echo']] }), deps());
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.toolCalls.length, 1);
    const call = r.toolCalls[0];
    assert.equal(call?.allowed, true);
    assert.deepEqual(JSON.parse(call?.result ?? '{}'), { exitCode: 0, output: 'disk is fine\n' });
    const back = (llm.chatRequests()[1]?.body?.messages as { role: string; content: string }[]).at(-1);
    assert.equal(back?.role, 'tool');
    assert.match(back?.content ?? '', /disk is fine/);
  });

  test('a tool outside the allowlist is denied: error, structured record, nothing runs', async () => {
    let ran = false;
    const backupRun: ToolHandler = {
      definition: { name: 'backup_run', description: 'run a backup', parameters: { type: 'object' } },
      run: async () => {
        ran = true;
        return { result: 'started' };
      },
    };
    llm.enqueue({
      toolCalls: [
        { name: 'status', arguments: {} },
        { name: 'job_remove', arguments: { job: 'backup-nightly' } },
      ],
    });
    const r = await runAgentTurn(
      input({ tools: ['status'] }),
      deps({
        toolHandlers: {
          status: { ...backupRun, definition: { ...backupRun.definition, name: 'status' } },
          backup_run: backupRun,
        },
      }),
    );
    assert.equal(r.status, 'error');
    assert.equal(r.reason, 'denied: tool job_remove is not allowed for this job');
    assert.equal(ran, false, 'no call of a batch with a denied call runs');
    assert.deepEqual(r.toolCalls[1], {
      name: 'job_remove',
      args: { job: 'backup-nightly' },
      allowed: false,
      denial: 'tool job_remove is not allowed for this job',
    });
    assert.equal(r.toolCalls[0]?.allowed, true);
  });

  test('exec of an argv outside the exec allowlist is denied and runs nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    try {
      const target = path.join(dir, 'made-by-the-model');
      llm.enqueue({ toolCalls: [{ name: 'exec', arguments: { argv: ['touch', target] } }] });
      const r = await runAgentTurn(
        input({
          tools: ['exec'],
          execAllowlist: [
            ['git', 'status'],
            ['touch', path.join(dir, 'allowed')],
          ],
        }),
        deps(),
      );
      assert.equal(r.status, 'error');
      assert.match(r.reason ?? '', /^denied: exec of "touch" .*not allowed for this job/);
      assert.equal(r.toolCalls.length, 1);
      assert.equal(r.toolCalls[0]?.allowed, false);
      assert.deepEqual(r.toolCalls[0]?.args, { argv: ['touch', target] });
      assert.match(r.toolCalls[0]?.denial ?? '', /not allowed/);
      assert.equal(fs.existsSync(target), false, 'the denied command did not run');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('falls back to the next endpoint when the first is down and records who answered', async () => {
    const down = await unreachableBaseUrl();
    llm.requests.length = 0;
    llm.enqueue({ content: 'from the fallback', usage: { prompt: 3, completion: 2 } });
    const r = await runAgentTurn(
      input({
        model: 'big-model',
        endpoint: { baseUrl: down },
        fallbacks: [{ baseUrl: llm.baseUrl, model: 'small-model' }],
      }),
      deps(),
    );
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.reply, 'from the fallback');
    assert.equal(r.model, 'small-model');
    assert.equal(r.endpoint, llm.baseUrl);
    assert.equal(llm.chatRequests()[0]?.body?.model, 'small-model');
  });

  test('falls back on a 500 from the primary model', async () => {
    llm.requests.length = 0;
    llm.enqueue(
      { status: 500, body: '{"error":{"message":"model crashed"}}' },
      { content: 'second model here' },
    );
    const r = await runAgentTurn(
      input({ model: 'primary', fallbacks: [{ baseUrl: llm.baseUrl, model: 'secondary' }] }),
      deps(),
    );
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.model, 'secondary');
    assert.deepEqual(
      llm.chatRequests().map((q) => q.body?.model),
      ['primary', 'secondary'],
    );
  });

  test('a malformed reply or a 401 ends the turn as error without trying fallbacks', async () => {
    llm.requests.length = 0;
    llm.enqueue({ raw: '<html>login page</html>' }, { status: 401, body: 'unauthorized' });
    const chain = { model: 'primary', fallbacks: [{ baseUrl: llm.baseUrl, model: 'secondary' }] };
    const malformed = await runAgentTurn(input(chain), deps());
    const unauthorized = await runAgentTurn(input(chain), deps());
    assert.equal(malformed.status, 'error');
    assert.match(malformed.reason ?? '', /not JSON/);
    assert.equal(unauthorized.status, 'error');
    assert.match(unauthorized.reason ?? '', /HTTP 401/);
    assert.deepEqual(
      llm.chatRequests().map((q) => q.body?.model),
      ['primary', 'primary'],
    );
  });

  test('falls back when the primary does not answer within the request timeout', async () => {
    llm.enqueue({ content: 'too late', delayMs: 20_000 }, { content: 'quick answer' });
    const r = await runAgentTurn(
      input({ model: 'slow', requestTimeoutMs: 1500, fallbacks: [{ baseUrl: llm.baseUrl, model: 'fast' }] }),
      deps(),
    );
    assert.equal(r.status, 'ok', r.reason);
    assert.equal(r.reply, 'quick answer');
    assert.equal(r.model, 'fast');
  });

  test('a turn that runs past its timeout ends as timeout', async () => {
    llm.enqueue({ content: 'too late', delayMs: 10_000 });
    const started = Date.now();
    const r = await runAgentTurn(input({ timeoutMs: 400 }), deps());
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /timed out after 0.4s/);
    assert.ok(Date.now() - started < 8000, 'the turn does not wait for the slow server');
  });

  test('a turn timeout while exec runs ends the process and the turn as timeout', async () => {
    llm.enqueue({ toolCalls: [{ name: 'exec', arguments: { argv: ['sleep', '60'] } }] });
    const started = Date.now();
    const r = await runAgentTurn(
      input({ tools: ['exec'], execAllowlist: [['sleep']], timeoutMs: 2000 }),
      deps(),
    );
    assert.equal(r.status, 'timeout');
    assert.equal(r.toolCalls[0]?.name, 'exec');
    assert.equal(r.toolCalls[0]?.result, 'stopped: the turn ended');
    assert.ok(Date.now() - started < 15_000, 'sleep 60 was not waited for');
  });

  test('shutdown interrupts a turn', async () => {
    llm.enqueue({ content: 'late', delayMs: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await runAgentTurn(input(), deps({ signal: ac.signal }));
    assert.equal(r.status, 'interrupted');
    assert.match(r.reason ?? '', /shutting down/);
  });

  test('when every endpoint is down the turn is skipped, and preflight answers are cached for 5 minutes', async () => {
    const down = await unreachableBaseUrl();
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const preflight = new Preflight({ clock });
    llm.requests.length = 0;
    llm.probeStatus = 503;
    try {
      const turnInput = input({
        endpoint: { baseUrl: down, kind: 'ollama' },
        fallbacks: [{ baseUrl: llm.baseUrl, model: 'other' }],
      });
      const first = await runAgentTurn(turnInput, deps({ clock, preflight }));
      assert.equal(first.status, 'skipped');
      assert.match(first.reason ?? '', /^all model endpoints unreachable: /);
      assert.match(first.reason ?? '', /ECONNREFUSED/);
      assert.match(first.reason ?? '', /HTTP 503/);
      assert.equal(llm.requests.length, 1);
      assert.equal(llm.chatRequests().length, 0, 'no model call when all are down');

      llm.probeStatus = 200;
      await clock.advance(4 * 60 * 1000);
      const second = await runAgentTurn(turnInput, deps({ clock, preflight }));
      assert.equal(second.status, 'skipped', 'the cached answer still says down');
      assert.equal(llm.requests.length, 1, 'no request within 5 minutes');

      await clock.advance(61 * 1000);
      llm.enqueue({ content: 'back up' });
      const third = await runAgentTurn(turnInput, deps({ clock, preflight }));
      assert.equal(third.status, 'ok', third.reason);
      assert.equal(third.model, 'other');
      assert.deepEqual(
        llm.requests.map((q) => `${q.method} ${q.path}`),
        ['GET /v1/models', 'GET /v1/models', 'POST /v1/chat/completions'],
      );
    } finally {
      llm.probeStatus = 200;
    }
  });

  test('a final reply of exactly NO_REPLY is suppressed; other replies are not', async () => {
    llm.enqueue({ content: '  NO_REPLY\n' }, { content: 'NO_REPLY, nothing new' });
    const quiet = await runAgentTurn(input(), deps());
    assert.equal(quiet.status, 'ok');
    assert.equal(quiet.suppressed, true);
    const loud = await runAgentTurn(input(), deps());
    assert.equal(loud.suppressed, false);
  });

  test('the API key goes into the Authorization header and nowhere in results or errors', async () => {
    llm.requests.length = 0;
    llm.enqueue({ content: `echo: ${KEY}` }, { status: 401, body: `{"error":{"message":"bad key ${KEY}"}}` });
    const ok = await runAgentTurn(
      input({ endpoint: { baseUrl: llm.baseUrl, apiKeyRef: 'env:LLM_KEY' } }),
      deps(),
    );
    const failed = await runAgentTurn(
      input({ endpoint: { baseUrl: llm.baseUrl, apiKeyRef: 'env:LLM_KEY' } }),
      deps(),
    );
    for (const q of llm.requests)
      assert.equal(q.headers.authorization, `Bearer ${KEY}`, `${q.method} ${q.path}`);
    assert.equal(ok.status, 'ok');
    assert.equal(failed.status, 'error');
    assert.match(failed.reason ?? '', /HTTP 401/);
    assert.match(failed.reason ?? '', /bad key \[REDACTED\]/);
    for (const r of [ok, failed]) assert.ok(!JSON.stringify(r).includes(KEY), 'key leaked into the result');
  });

  test('an unresolvable key makes that endpoint unusable without naming a value', async () => {
    const r = await runAgentTurn(
      input({ endpoint: { baseUrl: llm.baseUrl, apiKeyRef: 'env:MISSING' } }),
      deps(),
    );
    assert.equal(r.status, 'skipped');
    assert.match(r.reason ?? '', /API key env:MISSING could not be resolved/);
  });

  test('bad configuration is a UserError naming the field', async () => {
    await assert.rejects(runAgentTurn(input({ message: ' ' }), deps()), UserError);
    await assert.rejects(
      runAgentTurn(input({ endpoint: { baseUrl: 'not a url' } }), deps()),
      (e: unknown) => e instanceof UserError && /invalid base URL/.test(e.message),
    );
    await assert.rejects(
      runAgentTurn(input({ endpoint: { baseUrl: 'http://u:p@127.0.0.1/v1' } }), deps()),
      (e: unknown) => e instanceof UserError && /credentials/.test(e.message),
    );
    await assert.rejects(
      runAgentTurn(input({ tools: ['exec'], execAllowlist: [[]] }), deps()),
      (e: unknown) => e instanceof UserError && /allowlist/.test(e.message),
    );
  });

  test('an allowed tool this host cannot provide fails the turn before any model call', async () => {
    llm.requests.length = 0;
    const r = await runAgentTurn(input({ tools: ['message'] }), deps());
    assert.equal(r.status, 'error');
    assert.match(r.reason ?? '', /tool message is allowed for this job but not available/);
    assert.equal(llm.requests.length, 0);
  });

  test('a model that keeps calling tools is stopped after maxToolRounds', async () => {
    const ping: ToolHandler = {
      definition: { name: 'ping', description: 'ping', parameters: { type: 'object' } },
      run: async () => ({ result: 'pong' }),
    };
    llm.enqueue(
      { toolCalls: [{ name: 'ping', arguments: {} }] },
      { toolCalls: [{ name: 'ping', arguments: {} }] },
      { toolCalls: [{ name: 'ping', arguments: {} }] },
    );
    const r = await runAgentTurn(
      input({ tools: ['ping'], maxToolRounds: 2 }),
      deps({ toolHandlers: { ping } }),
    );
    assert.equal(r.status, 'error');
    assert.match(r.reason ?? '', /after 2 rounds/);
    assert.equal(r.toolCalls.length, 2);
  });
});
