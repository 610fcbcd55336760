import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

describe('ntfy channel', () => {
  test('POSTs to {server}/{topic} with Title, Priority, Tags, Click and a bearer token', async () => {
    const server = await startRecorder([{ status: 200, body: '{"id":"abc","event":"message"}' }]);
    try {
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'ntfy', server: server.url, topic: 'ns-alerts', token: 'env:NTFY_TOKEN' },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:NTFY_TOKEN': 'tk_abcdefghijklmnop' }) },
      );
      const result = await channel.send({
        title: 'nightly backup failed',
        text: 'repository locked',
        severity: 'error',
        jobName: 'nightly',
        runId: 'run_1',
        url: 'https://ns.example/runs/run_1',
      });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, '/ns-alerts');
      assert.equal(req.headers.title, 'ERROR: nightly backup failed');
      assert.equal(req.headers.priority, '5');
      assert.equal(req.headers.tags, 'rotating_light,nightshift');
      assert.equal(req.headers.click, 'https://ns.example/runs/run_1');
      assert.equal(req.headers.authorization, 'Bearer tk_abcdefghijklmnop');
      assert.equal(
        req.body,
        'repository locked\n\njob: nightly\nrun: run_1\n\nhttps://ns.example/runs/run_1',
      );
    } finally {
      await server.close();
    }
  });

  test('a title outside ASCII is sent RFC 2047 encoded; no token means no Authorization', async () => {
    const server = await startRecorder([{ status: 200 }]);
    try {
      const channel = createChannel(
        parseChannelConfig({ kind: 'ntfy', server: server.url, topic: 'ns' }, 'phone'),
        {
          resolveSecret: secrets({}),
        },
      );
      const result = await channel.send({ title: 'Sauvegarde réussie ✓', text: 'ok', severity: 'recovery' });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      const m = /^=\?UTF-8\?B\?(.+)\?=$/.exec(String(req.headers.title));
      assert.ok(m, 'encoded title');
      assert.equal(Buffer.from(m[1]!, 'base64').toString('utf8'), 'RECOVERED: Sauvegarde réussie ✓');
      assert.equal(req.headers.priority, '3');
      assert.equal(req.headers.tags, 'white_check_mark,nightshift');
      assert.equal(req.headers.authorization, undefined);
    } finally {
      await server.close();
    }
  });

  test('a wrong token (403) is not retried and not shown', async () => {
    const server = await startRecorder([
      { status: 403, body: '{"code":40301,"http":403,"error":"forbidden"}' },
    ]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'ntfy', server: server.url, topic: 'ns', token: 'env:NTFY_TOKEN' },
          'phone',
        ),
        { resolveSecret: secrets({ 'env:NTFY_TOKEN': 'tk_abcdefghijklmnop' }), sleep },
      );
      const result = await channel.send({ title: 't', text: 'x', severity: 'warning' });
      assert.equal(result.ok, false);
      assert.equal(result.status, 403);
      assert.deepEqual(waits, []);
      assert.match(result.error ?? '', /^ntfy http:\/\/127\.0\.0\.1:\d+\/ns answered HTTP 403/);
      assert.ok(!JSON.stringify(result).includes('tk_abcdefghijklmnop'));
    } finally {
      await server.close();
    }
  });
});
