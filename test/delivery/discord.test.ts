import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

const HOOK_PATH = '/api/webhooks/1234567890/aBcDeFgHiJkLmNoP-token';

describe('discord channel', () => {
  test('POSTs {content, embeds} with mentions disabled', async () => {
    const server = await startRecorder([{ status: 204 }]);
    try {
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'discord', webhookUrl: 'env:DISCORD_URL', username: 'nightshift' },
          'chat',
        ),
        { resolveSecret: secrets({ 'env:DISCORD_URL': server.url + HOOK_PATH }) },
      );
      const result = await channel.send({
        title: 'backup recovered @everyone',
        text: 'the nightly backup succeeded again',
        severity: 'recovery',
        jobName: 'nightly',
        fields: { snapshot: '3f2a9c' },
        url: 'https://ns.example/runs/9',
      });
      assert.equal(result.ok, true);
      assert.equal(result.status, 204);
      const req = server.requests[0]!;
      assert.equal(req.path, HOOK_PATH);
      assert.equal(req.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(req.body), {
        content: '✅ **RECOVERED**: backup recovered @everyone',
        username: 'nightshift',
        embeds: [
          {
            title: 'backup recovered @everyone',
            color: 0x16a34a,
            description: 'the nightly backup succeeded again',
            fields: [
              { name: 'job', value: 'nightly', inline: true },
              { name: 'snapshot', value: '3f2a9c', inline: true },
            ],
            url: 'https://ns.example/runs/9',
          },
        ],
        allowed_mentions: { parse: [] },
      });
    } finally {
      await server.close();
    }
  });

  test('429 waits for the retry_after in the JSON body, then succeeds', async () => {
    const server = await startRecorder([
      {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '2' },
        body: JSON.stringify({ message: 'You are being rate limited.', retry_after: 1.25, global: false }),
      },
      { status: 204 },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'discord', webhookUrl: 'env:DISCORD_URL' }, 'chat'),
        {
          resolveSecret: secrets({ 'env:DISCORD_URL': server.url + HOOK_PATH }),
          sleep,
        },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'error' });
      assert.equal(result.ok, true);
      assert.equal(result.attempts, 2);
      assert.deepEqual(waits, [1250]);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  test('an invalid webhook token is not retried and not shown', async () => {
    const server = await startRecorder([
      { status: 401, body: '{"message": "Invalid Webhook Token", "code": 50027}' },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'discord', webhookUrl: 'env:DISCORD_URL' }, 'chat'),
        {
          resolveSecret: secrets({ 'env:DISCORD_URL': server.url + HOOK_PATH }),
          sleep,
        },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'error' });
      assert.equal(result.ok, false);
      assert.deepEqual(waits, []);
      assert.match(
        result.error ?? '',
        /^discord webhook env:DISCORD_URL answered HTTP 401: .*Invalid Webhook Token/,
      );
      assert.ok(!(result.error ?? '').includes('aBcDeFgHiJkLmNoP-token'));
    } finally {
      await server.close();
    }
  });

  test('a thread id (--thread-id) posts into that thread: ?thread_id= on the webhook URL', async () => {
    const server = await startRecorder([{ status: 204 }]);
    try {
      const channel = createChannel(
        parseChannelConfig({ kind: 'discord', webhookUrl: 'env:DISCORD_URL' }, 'chat'),
        {
          resolveSecret: secrets({ 'env:DISCORD_URL': server.url + HOOK_PATH }),
        },
      );
      const result = await channel.send({
        title: 't',
        text: 'x',
        severity: 'info',
        threadId: '1181234567890',
      });
      assert.equal(result.ok, true);
      assert.equal(server.requests[0]!.path, `${HOOK_PATH}?thread_id=1181234567890`);
      assert.equal(result.error, undefined);
    } finally {
      await server.close();
    }
  });
});
