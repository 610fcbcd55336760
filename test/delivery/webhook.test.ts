import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ManualClock } from '../../src/domain/clock.ts';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import type { Notification } from '../../src/delivery/channel.ts';
import { recordingSleep, secrets, startRecorder } from './http-recorder.ts';

const SIGNING_KEY = 'whsec-4f1c9a7e2b8d';
const alert: Notification = {
  title: 'nightly backup failed',
  text: 'exit status 1: repository locked',
  severity: 'error',
  jobId: 'job_01',
  jobName: 'nightly',
  runId: 'run_42',
  status: 'error',
  fields: { snapshot: 'none', duration: '12s' },
  url: 'http://127.0.0.1:7777/runs/run_42',
};

/** What a receiver does: recompute the HMAC over "<timestamp>.<raw body>" and compare. */
function verify(key: string, timestamp: string, rawBody: string, header: string): boolean {
  const expected = Buffer.from(
    'sha256=' + createHmac('sha256', key).update(`${timestamp}.${rawBody}`).digest('hex'),
  );
  const got = Buffer.from(header);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

describe('webhook channel', () => {
  test('POSTs the versioned JSON body with a signature the receiver can verify', async () => {
    const server = await startRecorder([{ status: 204 }]);
    try {
      const clock = new ManualClock(Date.parse('2026-11-22T03:00:00Z'));
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'webhook', url: `${server.url}/hooks/nightshift?src=1`, secret: 'env:WH_KEY' },
          'ops',
        ),
        { resolveSecret: secrets({ 'env:WH_KEY': SIGNING_KEY }), clock },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, true);
      assert.equal(result.attempts, 1);
      assert.equal(result.status, 204);
      assert.equal(server.requests.length, 1);
      const req = server.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.path, '/hooks/nightshift?src=1');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['x-nightshift-timestamp'], String(Date.parse('2026-11-22T03:00:00Z') / 1000));
      assert.match(String(req.headers['x-nightshift-delivery']), /^[0-9a-f-]{36}$/);
      assert.ok(
        verify(
          SIGNING_KEY,
          String(req.headers['x-nightshift-timestamp']),
          req.body,
          String(req.headers['x-nightshift-signature']),
        ),
        'signature verifies over timestamp and raw body',
      );
      // A replay with a later timestamp no longer matches the signature.
      assert.equal(
        verify(
          SIGNING_KEY,
          String(Number(req.headers['x-nightshift-timestamp']) + 600),
          req.body,
          String(req.headers['x-nightshift-signature']),
        ),
        false,
      );
      assert.deepEqual(JSON.parse(req.body), {
        schema: 'nightshift.notification',
        version: 1,
        id: req.headers['x-nightshift-delivery'],
        createdAt: '2026-11-22T03:00:00.000Z',
        severity: 'error',
        title: 'nightly backup failed',
        text: 'exit status 1: repository locked',
        job: { id: 'job_01', name: 'nightly' },
        run: { id: 'run_42', status: 'error' },
        fields: { snapshot: 'none', duration: '12s' },
        url: 'http://127.0.0.1:7777/runs/run_42',
      });
      assert.ok(!req.body.includes(SIGNING_KEY));
    } finally {
      await server.close();
    }
  });

  test('without a signing secret sends no signature header, and null job/run for a bare notice', async () => {
    const server = await startRecorder([{ status: 200 }]);
    try {
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: server.url }, 'plain'), {
        resolveSecret: secrets({}),
      });
      const result = await channel.send({ title: 'hello', text: 'world', severity: 'info' });
      assert.equal(result.ok, true);
      const req = server.requests[0]!;
      assert.equal(req.headers['x-nightshift-signature'], undefined);
      const body = JSON.parse(req.body) as Record<string, unknown>;
      assert.equal(body.job, null);
      assert.equal(body.run, null);
      assert.equal(body.url, null);
      assert.deepEqual(body.fields, {});
    } finally {
      await server.close();
    }
  });

  test('retries on 500 with backoff, re-signing each attempt, then succeeds', async () => {
    const server = await startRecorder([{ status: 500, body: 'boom' }, { status: 503 }, { status: 200 }]);
    try {
      const clock = new ManualClock(Date.parse('2026-11-22T03:00:00Z'));
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig({ kind: 'webhook', url: server.url, secret: 'env:WH_KEY' }, 'ops'),
        {
          resolveSecret: secrets({ 'env:WH_KEY': SIGNING_KEY }),
          clock,
          sleep: async (ms) => {
            await sleep(ms);
            await clock.advance(ms);
          },
          retry: { attempts: 4, baseDelayMs: 1000 },
        },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, true);
      assert.equal(result.attempts, 3);
      assert.deepEqual(waits, [1000, 2000]);
      assert.equal(result.durationMs, 3000);
      assert.equal(server.requests.length, 3);
      const ids = new Set(server.requests.map((r) => r.headers['x-nightshift-delivery']));
      assert.equal(ids.size, 1, 'the delivery id stays the same across retries');
      for (const r of server.requests)
        assert.ok(
          verify(
            SIGNING_KEY,
            String(r.headers['x-nightshift-timestamp']),
            r.body,
            String(r.headers['x-nightshift-signature']),
          ),
        );
      assert.notEqual(
        server.requests[0]!.headers['x-nightshift-timestamp'],
        server.requests[2]!.headers['x-nightshift-timestamp'],
      );
    } finally {
      await server.close();
    }
  });

  test('does not retry a 400 and reports the answer', async () => {
    const server = await startRecorder([{ status: 400, body: '{"error":"unknown field severity"}' }]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: `${server.url}/in` }, 'ops'), {
        resolveSecret: secrets({}),
        sleep,
      });
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 1);
      assert.equal(result.status, 400);
      assert.deepEqual(waits, []);
      assert.equal(server.requests.length, 1);
      assert.match(result.error ?? '', /HTTP 400: \{"error":"unknown field severity"\}/);
      assert.match(result.error ?? '', /webhook http:\/\/127\.0\.0\.1:\d+\/in/);
    } finally {
      await server.close();
    }
  });

  test('honours Retry-After on 429, and gives up when it asks for too long', async () => {
    const server = await startRecorder([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: server.url }, 'ops'), {
        resolveSecret: secrets({}),
        sleep,
      });
      const result = await channel.send(alert);
      assert.equal(result.ok, true);
      assert.equal(result.attempts, 2);
      assert.deepEqual(waits, [7000]);
    } finally {
      await server.close();
    }

    const slow = await startRecorder([{ status: 429, headers: { 'retry-after': '3600' } }]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: slow.url }, 'ops'), {
        resolveSecret: secrets({}),
        sleep,
      });
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 1);
      assert.deepEqual(waits, []);
      assert.match(result.error ?? '', /asked to wait 3600s/);
    } finally {
      await slow.close();
    }
  });

  test('a server that never answers times out, is retried, and the result says so', async () => {
    const server = await startRecorder([{ status: 200, hang: true }]);
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          { kind: 'webhook', url: server.url, timeoutMs: 500, retry: { attempts: 2 } },
          'ops',
        ),
        { resolveSecret: secrets({}), sleep },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 2);
      assert.equal(server.requests.length, 2);
      assert.deepEqual(waits, [1000]);
      assert.match(result.error ?? '', /no answer from webhook .* within 500ms \(after 2 attempts\)/);
    } finally {
      await server.close();
    }
  });

  test('a URL given as a secret reference and secret headers never show up in errors', async () => {
    const server = await startRecorder([{ status: 404, body: 'no such hook' }]);
    const hookUrl = `${server.url}/hooks/T0KEN-abcdef123456`;
    try {
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'webhook',
            url: 'env:HOOK_URL',
            headers: { Authorization: { secret: 'env:HOOK_TOKEN', prefix: 'Bearer ' }, 'X-Team': 'ops' },
          },
          'ops',
        ),
        { resolveSecret: secrets({ 'env:HOOK_URL': hookUrl, 'env:HOOK_TOKEN': 'tok-9f8e7d6c5b4a' }) },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(server.requests[0]!.path, '/hooks/T0KEN-abcdef123456');
      assert.equal(server.requests[0]!.headers.authorization, 'Bearer tok-9f8e7d6c5b4a');
      assert.equal(server.requests[0]!.headers['x-team'], 'ops');
      assert.match(result.error ?? '', /webhook env:HOOK_URL answered HTTP 404/);
      assert.ok(!(result.error ?? '').includes('T0KEN-abcdef123456'));
      assert.ok(!JSON.stringify(result).includes('tok-9f8e7d6c5b4a'));
    } finally {
      await server.close();
    }
  });

  test('an unresolvable secret fails before any request, naming the reference', async () => {
    const server = await startRecorder();
    try {
      const channel = createChannel(
        parseChannelConfig({ kind: 'webhook', url: server.url, secret: 'env:MISSING_KEY' }, 'ops'),
        { resolveSecret: secrets({}) },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 0);
      assert.match(result.error ?? '', /cannot resolve secret env:MISSING_KEY for webhook channel ops/);
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  test('an abort stops the wait between retries', async () => {
    const server = await startRecorder([{ status: 500 }]);
    try {
      const controller = new AbortController();
      const clock = new ManualClock(0);
      const channel = createChannel(parseChannelConfig({ kind: 'webhook', url: server.url }, 'ops'), {
        resolveSecret: secrets({}),
        clock,
      });
      const pending = channel.send(alert, { signal: controller.signal });
      // The first attempt fails with 500; the channel then waits on the clock for its backoff.
      for (let i = 0; i < 1000 && clock.pendingTimers() === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(clock.pendingTimers(), 1);
      controller.abort();
      const result = await pending;
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 1);
      assert.match(result.error ?? '', /cancelled while waiting to retry/);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });
});
