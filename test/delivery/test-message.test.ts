import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/domain/errors.ts';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import { assertDelivered, sendTestMessage } from '../../src/delivery/test-message.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

describe('alert test message', () => {
  test('sends a clearly marked test notice through the channel', async () => {
    const server = await startRecorder([{ status: 200 }]);
    try {
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: server.url }, 'ops'), {
        resolveSecret: secrets({}),
      });
      const result = await sendTestMessage(channel);
      assert.equal(result.ok, true);
      assertDelivered(channel, result);
      const body = JSON.parse(server.requests[0]!.body) as {
        title: string;
        text: string;
        severity: string;
        fields: Record<string, string>;
      };
      assert.equal(body.title, 'Test message for channel ops');
      assert.equal(body.severity, 'info');
      assert.match(body.text, /This is a test from nightshift/);
      assert.match(body.text, /Nothing has failed/);
      assert.equal(body.fields.kind, 'webhook');
    } finally {
      await server.close();
    }
  });

  test('a failed test becomes a UserError with exit code 1 naming the channel and the cause', async () => {
    const server = await startRecorder([{ status: 410, body: 'channel_is_archived' }]);
    try {
      const { sleep } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
        {
          resolveSecret: secrets({ 'env:SLACK_URL': `${server.url}/services/T/B/secret0123` }),
          sleep,
        },
      );
      const result = await sendTestMessage(channel);
      assert.equal(result.ok, false);
      assert.throws(
        () => assertDelivered(channel, result),
        (err: unknown) =>
          err instanceof UserError &&
          err.exitCode === 1 &&
          /^channel team \(slack\): not delivered after 1 attempt: slack webhook env:SLACK_URL answered HTTP 410: channel_is_archived$/.test(
            err.message,
          ) &&
          !err.message.includes('secret0123'),
      );
    } finally {
      await server.close();
    }
  });
});
