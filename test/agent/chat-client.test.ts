import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, ChatError } from '../../src/agent/chat-client.ts';
import { startFakeLlmServer, unreachableBaseUrl } from './fake-llm-server.ts';
import type { FakeLlmServer } from './fake-llm-server.ts';

const KEY = 'sk-client-canary-91b2c3d4';

describe('chat-completions client', () => {
  let llm: FakeLlmServer;
  before(async () => {
    llm = await startFakeLlmServer();
  });
  after(() => llm.close());

  const ask = (client: ChatClient, stream = false) =>
    client.complete(
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream },
      { timeoutMs: 10_000 },
    );

  test('a non-streamed reply gives content, usage and the reported model', async () => {
    llm.enqueue({ content: 'hello there', usage: { prompt: 4, completion: 2 }, model: 'm-2025' });
    const r = await ask(new ChatClient({ baseUrl: `${llm.baseUrl}/` }));
    assert.deepEqual(r.message, { role: 'assistant', content: 'hello there' });
    assert.deepEqual(r.usage, { promptTokens: 4, completionTokens: 2, totalTokens: 6 });
    assert.equal(r.model, 'm-2025');
    assert.equal(r.finishReason, 'stop');
  });

  test('a streamed reply is assembled from content deltas and tool-call deltas by index', async () => {
    llm.enqueue({
      content: 'Checking both.',
      toolCalls: [
        { id: 'call_1', name: 'exec', arguments: { argv: ['df', '-h'] } },
        { id: 'call_2', name: 'status', arguments: '{"job":"backup-nightly"}' },
      ],
      usage: { prompt: 30, completion: 12 },
    });
    const r = await ask(new ChatClient({ baseUrl: llm.baseUrl }), true);
    assert.equal(r.message.content, 'Checking both.');
    assert.deepEqual(r.message.tool_calls, [
      { id: 'call_1', type: 'function', function: { name: 'exec', arguments: '{"argv":["df","-h"]}' } },
      { id: 'call_2', type: 'function', function: { name: 'status', arguments: '{"job":"backup-nightly"}' } },
    ]);
    assert.deepEqual(r.usage, { promptTokens: 30, completionTokens: 12, totalTokens: 42 });
    assert.equal(r.finishReason, 'tool_calls');
  });

  test('tools and tool_choice are sent in the protocol shape', async () => {
    llm.requests.length = 0;
    llm.enqueue({ content: 'ok' });
    await new ChatClient({ baseUrl: llm.baseUrl }).complete({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'status', description: 'scheduler status', parameters: { type: 'object' } }],
      toolChoice: { name: 'status' },
    });
    const body = llm.chatRequests()[0]?.body;
    assert.deepEqual(body?.tools, [
      {
        type: 'function',
        function: { name: 'status', description: 'scheduler status', parameters: { type: 'object' } },
      },
    ]);
    assert.deepEqual(body?.tool_choice, { type: 'function', function: { name: 'status' } });
    assert.equal(llm.chatRequests()[0]?.headers.authorization, undefined, 'no header without a key');
  });

  test('an HTTP error names the status and a body excerpt with the key redacted', async () => {
    llm.enqueue({ status: 401, body: `{"error":{"message":"invalid key ${KEY}"}}` });
    const err = await ask(new ChatClient({ baseUrl: llm.baseUrl, apiKey: KEY })).catch((e: unknown) => e);
    assert.ok(err instanceof ChatError);
    assert.equal(err.kind, 'http');
    assert.equal(err.status, 401);
    assert.equal(err.retryable, false);
    assert.match(
      err.message,
      /^HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: .*invalid key \[REDACTED\]/,
    );
    assert.ok(!err.message.includes(KEY));
  });

  test('a 5xx is retryable; a malformed reply is not', async () => {
    llm.enqueue(
      { status: 502, body: 'bad gateway' },
      { raw: '{"id":"x","object":"chat.completion"}' },
      { raw: '<html>' },
    );
    const client = new ChatClient({ baseUrl: llm.baseUrl });
    const e502 = await ask(client).catch((e: unknown) => e);
    assert.ok(e502 instanceof ChatError && e502.retryable && e502.status === 502);
    const noChoices = await ask(client).catch((e: unknown) => e);
    assert.ok(noChoices instanceof ChatError && noChoices.kind === 'malformed' && !noChoices.retryable);
    assert.match(noChoices.message, /without choices\[0\]\.message/);
    const html = await ask(client).catch((e: unknown) => e);
    assert.ok(html instanceof ChatError && html.kind === 'malformed');
    assert.match(html.message, /not JSON/);
  });

  test('a stream that breaks off before it is complete is a connection error', async () => {
    llm.enqueue({
      raw: 'data: {"choices":[{"index":0,"delta":{"content":"half"},"finish_reason":null}]}\n\n',
      contentType: 'text/event-stream',
    });
    const err = await ask(new ChatClient({ baseUrl: llm.baseUrl }), true).catch((e: unknown) => e);
    assert.ok(err instanceof ChatError && err.kind === 'connection' && err.retryable, String(err));
  });

  test('an unreachable server and a slow one give connection and timeout errors', async () => {
    const down = await ask(new ChatClient({ baseUrl: await unreachableBaseUrl() })).catch((e: unknown) => e);
    assert.ok(down instanceof ChatError && down.kind === 'connection', String(down));
    assert.match(down.message, /ECONNREFUSED/);

    llm.enqueue({ content: 'late', delayMs: 10_000 });
    const slow = await new ChatClient({ baseUrl: llm.baseUrl })
      .complete({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    assert.ok(slow instanceof ChatError && slow.kind === 'timeout' && slow.retryable, String(slow));
  });

  test('a caller abort is reported as aborted, not as a server failure', async () => {
    llm.enqueue({ content: 'late', delayMs: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await new ChatClient({ baseUrl: llm.baseUrl })
      .complete(
        { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
        { signal: ac.signal, timeoutMs: 10_000 },
      )
      .catch((e: unknown) => e);
    assert.ok(err instanceof ChatError && err.kind === 'aborted' && !err.retryable, String(err));
  });
});
