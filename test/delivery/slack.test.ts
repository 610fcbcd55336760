import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

const HOOK_PATH = '/services/T0001/B0002/XyZsecretPart123';

describe('slack channel', () => {
  test('POSTs {text, blocks} to the incoming-webhook URL', async () => {
    const server = await startRecorder([{ status: 200, body: 'ok' }]);
    try {
      const channel = createChannel(
        parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
        {
          resolveSecret: secrets({ 'env:SLACK_URL': server.url + HOOK_PATH }),
        },
      );
      assert.equal(channel.kind, 'slack');
      assert.equal(channel.name, 'team');
      const result = await channel.send({
        title: 'backup <prod> failed',
        text: 'disk full & no space left',
        severity: 'error',
        jobName: 'nightly',
        runId: 'run_7',
        status: 'error',
        url: 'https://ns.example/runs/run_7',
      });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, HOOK_PATH);
      assert.equal(req.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(req.body), {
        text: '🔴 backup <prod> failed',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: '🔴 backup <prod> failed', emoji: true } },
          { type: 'section', text: { type: 'mrkdwn', text: 'disk full &amp; no space left' } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: '*job*\nnightly' },
              { type: 'mrkdwn', text: '*run*\nrun_7' },
              { type: 'mrkdwn', text: '*status*\nerror' },
            ],
          },
          {
            type: 'context',
            elements: [{ type: 'mrkdwn', text: '<https://ns.example/runs/run_7|Details>' }],
          },
        ],
      });
    } finally {
      await server.close();
    }
  });

  test('a revoked webhook (404 no_service) fails at once without showing the URL', async () => {
    const server = await startRecorder([{ status: 404, body: 'no_service' }]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
        {
          resolveSecret: secrets({ 'env:SLACK_URL': server.url + HOOK_PATH }),
          sleep,
        },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'warning' });
      assert.equal(result.ok, false);
      assert.equal(result.status, 404);
      assert.deepEqual(waits, []);
      assert.equal(result.error, 'slack webhook env:SLACK_URL answered HTTP 404: no_service');
    } finally {
      await server.close();
    }
  });

  test('429 from Slack waits for Retry-After and retries', async () => {
    const server = await startRecorder([
      { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' },
      { status: 200, body: 'ok' },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
        {
          resolveSecret: secrets({ 'env:SLACK_URL': server.url + HOOK_PATH }),
          sleep,
        },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'info' });
      assert.equal(result.ok, true);
      assert.equal(result.attempts, 2);
      assert.deepEqual(waits, [2000]);
    } finally {
      await server.close();
    }
  });
  test('a reference that does not hold a URL fails before sending, without showing the value', async () => {
    const channel = createChannel(
      parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
      {
        resolveSecret: secrets({ 'env:SLACK_URL': 'xoxb-not-a-url-0123456789' }),
        fetch: async () => {
          throw new Error('must not be called');
        },
      },
    );
    const result = await channel.send({ title: 't', text: 'x', severity: 'info' });
    assert.equal(result.ok, false);
    assert.equal(result.attempts, 0);
    assert.equal(
      result.error,
      'cannot prepare slack channel team: the value of env:SLACK_URL is not an http(s) URL',
    );
  });

  test('a thread id (--thread-id) replies in that thread: thread_ts in the body', async () => {
    const server = await startRecorder([{ status: 200, body: 'ok' }]);
    try {
      const channel = createChannel(
        parseChannelConfig({ kind: 'slack', webhookUrl: 'env:SLACK_URL' }, 'team'),
        {
          resolveSecret: secrets({ 'env:SLACK_URL': server.url + HOOK_PATH }),
        },
      );
      const result = await channel.send({
        title: 't',
        text: 'x',
        severity: 'info',
        threadId: '1712345678.123456',
      });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      assert.equal(req.path, HOOK_PATH);
      const body = JSON.parse(req.body) as Record<string, unknown>;
      assert.equal(body.thread_ts, '1712345678.123456');
      assert.ok(Array.isArray(body.blocks), 'the message itself is unchanged');
    } finally {
      await server.close();
    }
  });
});
