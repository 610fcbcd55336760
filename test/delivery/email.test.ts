import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelConfig } from '../../src/config/channel-config.ts';
import type { Notification } from '../../src/delivery/channel.ts';
import { recordingSleep, secrets } from './http-recorder.ts';

const CERT = fileURLToPath(new URL('./fixtures/smtp-cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('./fixtures/smtp-key.pem', import.meta.url));
const PASSWORD = 'smtp-pass-Q7w8e9r0';

interface Received {
  auth: Array<{ method: string; username?: string; password?: string }>;
  mails: Array<{ from: string; to: string[]; raw: string; secure: boolean }>;
}

/** A real SMTP server (smtp-server) on 127.0.0.1 that records logins and messages. */
async function startSmtp(
  opts: Partial<SMTPServerOptions> & { rejectData?: Array<number | undefined> } = {},
): Promise<{ port: number; received: Received; close: () => Promise<void> }> {
  const received: Received = { auth: [], mails: [] };
  const { rejectData = [], ...serverOpts } = opts;
  let dataCalls = 0;
  const server = new SMTPServer({
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    key: readFileSync(KEY),
    cert: readFileSync(CERT),
    onAuth(auth, _session, cb) {
      received.auth.push({
        method: auth.method,
        username: auth.username ?? undefined,
        password: auth.password ?? undefined,
      });
      if (auth.username === 'alerts' && auth.password === PASSWORD) cb(null, { user: 'alerts' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const code = rejectData[dataCalls++];
        if (code !== undefined) {
          const err = Object.assign(new Error('Try again later'), { responseCode: code });
          cb(err);
          return;
        }
        received.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
        });
        cb();
      });
    },
    ...serverOpts,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Header lookup in a raw RFC 5322 message (unfolding continuation lines). */
function parseMessage(raw: string): { headers: Map<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return { headers, body: raw.slice(split + 4) };
}

const alert: Notification = {
  title: 'nightly backup failed',
  text: 'repository locked by another process',
  severity: 'error',
  jobId: 'job_01',
  jobName: 'nightly',
  runId: 'run_42',
  status: 'error',
};

describe('email channel', () => {
  test('logs in with the resolved password and delivers the message with its headers', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'] });
    try {
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            security: 'none',
            user: 'alerts',
            password: 'env:SMTP_PASSWORD',
            from: 'nightshift <alerts@example.com>',
            to: ['ops@example.com', 'oncall@example.com'],
          },
          'mail',
        ),
        { resolveSecret: secrets({ 'env:SMTP_PASSWORD': PASSWORD }) },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, true, result.error);
      assert.equal(result.attempts, 1);
      assert.equal(result.status, 250);
      assert.equal(smtp.received.auth.length, 1);
      assert.equal(smtp.received.auth[0]!.username, 'alerts');
      assert.equal(smtp.received.auth[0]!.password, PASSWORD);
      assert.equal(smtp.received.mails.length, 1);
      const mail = smtp.received.mails[0]!;
      assert.equal(mail.from, 'alerts@example.com');
      assert.deepEqual(mail.to, ['ops@example.com', 'oncall@example.com']);
      const { headers, body } = parseMessage(mail.raw);
      assert.equal(headers.get('subject'), '[nightshift] [ERROR] nightly backup failed');
      assert.equal(headers.get('from'), 'nightshift <alerts@example.com>');
      assert.equal(headers.get('to'), 'ops@example.com, oncall@example.com');
      assert.equal(headers.get('x-nightshift-severity'), 'error');
      assert.equal(headers.get('x-nightshift-job'), 'job_01');
      assert.equal(headers.get('x-nightshift-run'), 'run_42');
      assert.match(headers.get('content-type') ?? '', /^text\/plain; charset=utf-8/);
      assert.equal(
        body.replace(/\r\n/g, '\n').trim(),
        'repository locked by another process\n\njob: nightly (job_01)\nrun: run_42\nstatus: error',
      );
      assert.ok(!mail.raw.includes(PASSWORD));
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS upgrades the connection, trusting the configured CA file', async () => {
    const smtp = await startSmtp();
    try {
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: 'localhost',
            port: smtp.port,
            security: 'starttls',
            caFile: CERT,
            user: 'alerts',
            password: 'env:SMTP_PASSWORD',
            from: 'alerts@example.com',
            to: 'ops@example.com',
            subjectPrefix: '',
          },
          'mail',
        ),
        { resolveSecret: secrets({ 'env:SMTP_PASSWORD': PASSWORD }) },
      );
      const result = await channel.send({
        title: 'weekly drill passed',
        text: 'all 20 files match',
        severity: 'info',
      });
      assert.equal(result.ok, true, result.error);
      assert.equal(smtp.received.mails.length, 1);
      assert.equal(smtp.received.mails[0]!.secure, true, 'the message travelled over TLS');
      assert.equal(
        parseMessage(smtp.received.mails[0]!.raw).headers.get('subject'),
        '[INFO] weekly drill passed',
      );
    } finally {
      await smtp.close();
    }
  });

  test('STARTTLS is required: a server without it gets nothing, not even the login', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'] });
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            user: 'alerts',
            password: 'env:SMTP_PASSWORD',
            from: 'alerts@example.com',
            to: 'ops@example.com',
          },
          'mail',
        ),
        { resolveSecret: secrets({ 'env:SMTP_PASSWORD': PASSWORD }), sleep },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.deepEqual(waits, []);
      assert.equal(smtp.received.auth.length, 0);
      assert.equal(smtp.received.mails.length, 0);
      assert.match(result.error ?? '', /SMTP server 127\.0\.0\.1:\d+ does not support STARTTLS/);
    } finally {
      await smtp.close();
    }
  });

  test('an untrusted certificate stops the send before the login', async () => {
    const smtp = await startSmtp();
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: 'localhost',
            port: smtp.port,
            user: 'alerts',
            password: 'env:SMTP_PASSWORD',
            from: 'alerts@example.com',
            to: 'ops@example.com',
          },
          'mail',
        ),
        { resolveSecret: secrets({ 'env:SMTP_PASSWORD': PASSWORD }), sleep },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.deepEqual(waits, []);
      assert.match(result.error ?? '', /^TLS with SMTP server localhost:\d+ failed: .*self[- ]signed/);
      assert.equal(smtp.received.auth.length, 0);
      assert.equal(smtp.received.mails.length, 0);
    } finally {
      await smtp.close();
    }
  });

  test('a rejected login (535) is not retried and the password is not in the error', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'] });
    try {
      const { sleep, waits } = recordingSleep();
      const wrong = 'wrong-pass-Z1x2c3v4';
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            security: 'none',
            user: 'alerts',
            password: 'env:SMTP_PASSWORD',
            from: 'alerts@example.com',
            to: 'ops@example.com',
          },
          'mail',
        ),
        { resolveSecret: secrets({ 'env:SMTP_PASSWORD': wrong }), sleep },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 1);
      assert.equal(result.status, 535);
      assert.deepEqual(waits, []);
      assert.match(result.error ?? '', /refused the login \(535\)/);
      assert.ok(!JSON.stringify(result).includes(wrong));
      assert.equal(smtp.received.mails.length, 0);
    } finally {
      await smtp.close();
    }
  });

  test('a temporary 451 reply is retried and the message then goes through once', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'], authOptional: true, rejectData: [451] });
    try {
      const { sleep, waits } = recordingSleep();
      const channel = createChannel(
        parseChannelConfig(
          {
            kind: 'email',
            host: '127.0.0.1',
            port: smtp.port,
            security: 'none',
            from: 'alerts@example.com',
            to: 'ops@example.com',
          },
          'mail',
        ),
        { resolveSecret: secrets({}), sleep },
      );
      const result = await channel.send(alert);
      assert.equal(result.ok, true, result.error);
      assert.equal(result.attempts, 2);
      assert.deepEqual(waits, [1000]);
      assert.equal(smtp.received.mails.length, 1);
      assert.equal(smtp.received.auth.length, 0, 'no user configured, so no login');
    } finally {
      await smtp.close();
    }
  });
});
