import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

const TOKEN = '7012345678:AAHk3-Secret_TokenValue0123456789abcd';

describe('telegram channel', () => {
  test('calls sendMessage on the bot URL with chat_id, escaped HTML text and parse_mode', async () => {
    const server = await startRecorder([
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{"ok":true,"result":{"message_id":5}}',
      },
    ]);
    try {
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: -1001234567890, apiBase: server.url },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }) },
      );
      const result = await channel.send({
        title: 'backup <nightly> failed',
        text: 'exit 1 & "locked"',
        severity: 'error',
        runId: 'run_3',
        url: 'https://ns.example/runs/run_3?a=1&b=2',
      });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, `/bot${TOKEN}/sendMessage`);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(req.body), {
        chat_id: -1001234567890,
        text:
          '<b>🔴 backup &lt;nightly&gt; failed</b>\n\nexit 1 &amp; &quot;locked&quot;\n\n<b>run</b>: run_3\n\n' +
          '<a href="https://ns.example/runs/run_3?a=1&amp;b=2">Details</a>',
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
      });
    } finally {
      await server.close();
    }
  });

  test('MarkdownV2 escapes reserved characters; quiet mode silences info notices', async () => {
    const server = await startRecorder([{ status: 200, body: '{"ok":true,"result":{}}' }]);
    try {
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'telegram',
            botToken: 'env:TG_TOKEN',
            chatId: '@ops_alerts',
            apiBase: server.url,
            parseMode: 'MarkdownV2',
            quietBelowWarning: true,
          },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }) },
      );
      assert.equal(
        (await channel.send({ title: 'v1.2 done!', text: 'took 3-4 min', severity: 'info' })).ok,
        true,
      );
      const body = JSON.parse(server.requests[0]!.body) as Record<string, unknown>;
      assert.equal(body.chat_id, '@ops_alerts');
      assert.equal(body.parse_mode, 'MarkdownV2');
      assert.equal(body.text, '*ℹ️ v1\\.2 done\\!*\n\ntook 3\\-4 min');
      assert.equal(body.disable_notification, true);
    } finally {
      await server.close();
    }
  });

  test('a Bot API error shows its description but never the token', async () => {
    const server = await startRecorder([
      { status: 400, body: '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}' },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: 42, apiBase: server.url },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }), sleep },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'error' });
      assert.equal(result.ok, false);
      assert.deepEqual(waits, []);
      assert.equal(
        result.error,
        `telegram ${server.url} (chat 42) answered HTTP 400: Bad Request: chat not found`,
      );
    } finally {
      await server.close();
    }
  });

  test('429 waits for parameters.retry_after', async () => {
    const server = await startRecorder([
      {
        status: 429,
        body: '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}',
      },
      { status: 200, body: '{"ok":true,"result":{}}' },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: 42, apiBase: server.url },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }), sleep },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'warning' });
      assert.equal(result.ok, true);
      assert.deepEqual(waits, [3000]);
    } finally {
      await server.close();
    }
  });

  test('network failures and errors thrown by fetch never carry the token', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const { sleep } = recordingSleep();
    const refused = createChannel(
      parseChannelConfig(
        {
          kind: 'telegram',
          botToken: 'env:TG_TOKEN',
          chatId: 42,
          apiBase: `http://127.0.0.1:${port}`,
          retry: { attempts: 2 },
        },
        'phone',
      ),
      { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }), sleep },
    );
    const result = await refused.send({ title: 't', text: 'x', severity: 'error' });
    assert.equal(result.ok, false);
    assert.equal(result.attempts, 2);
    assert.match(result.error ?? '', /cannot reach telegram/);
    assert.ok(!JSON.stringify(result).includes(TOKEN));
    assert.ok(!JSON.stringify(result).includes('AAHk3-Secret'));

    // A fetch that quotes the whole URL in its error (as proxies and some runtimes do).
    const leaky = createChannel(
      parseChannelConfig(
        { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: 42, retry: { attempts: 1 } },
        'phone',
      ),
      {
        resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }),
        fetch: async (input) => {
          throw new TypeError('fetch failed', {
            cause: new Error(`request to ${String(input)} failed, reason: EHOSTUNREACH`),
          });
        },
      },
    );
    const leak = await leaky.send({ title: 't', text: 'x', severity: 'error' });
    assert.equal(leak.ok, false);
    assert.match(
      leak.error ?? '',
      /request to https:\/\/api\.telegram\.org\/bot\[REDACTED\]\/sendMessage failed/,
    );
    assert.ok(!(leak.error ?? '').includes(TOKEN));
  });

  test('a thread id (--thread-id) posts into that forum topic: message_thread_id', async () => {
    const server = await startRecorder([{ status: 200, body: '{"ok":true,"result":{"message_id":6}}' }]);
    try {
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: -100123, apiBase: server.url },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:TG_TOKEN': TOKEN }) },
      );
      const result = await channel.send({
        title: 't',
        text: 'x',
        severity: 'info',
        to: '-100777',
        threadId: '42',
      });
      assert.equal(result.ok, true);
      const body = JSON.parse(server.requests[0]!.body) as Record<string, unknown>;
      assert.equal(body.chat_id, -100777);
      assert.equal(body.message_thread_id, 42);
    } finally {
      await server.close();
    }
  });
});
