/**
 * Email over SMTP (nodemailer): implicit TLS (`tls`, port 465), STARTTLS required (`starttls`,
 * port 587, the default) or no encryption (`none`, for a local relay). The password is a secret
 * reference resolved per send. SMTP's own reply classes decide retries: 4xx replies and
 * connection trouble are temporary, 5xx replies (bad login, unknown recipient) are not.
 */
import { readFile } from 'node:fs/promises';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';
import type { EmailChannelConfig, EmailSecurity } from '../config/channel-config.ts';
import { resolveDeps } from './deps.ts';
import type { ChannelDeps, ResolvedDeps } from './deps.ts';
import { plainBody, subjectLine } from './plain-text.ts';
import { Scrubber, formatMs } from './http.ts';
import { withRetry } from './retry.ts';
import type { AttemptOutcome } from './retry.ts';

const DEFAULT_PORT: Record<EmailSecurity, number> = { tls: 465, starttls: 587, none: 25 };

export interface EmailMessage {
  subject: string;
  text: string;
  headers: Record<string, string>;
}

export function emailMessage(n: Notification, subjectPrefix = '[nightshift]'): EmailMessage {
  const headers: Record<string, string> = { 'X-Nightshift-Severity': n.severity };
  if (n.jobId !== undefined) headers['X-Nightshift-Job'] = n.jobId;
  if (n.runId !== undefined) headers['X-Nightshift-Run'] = n.runId;
  const subject = subjectPrefix === '' ? subjectLine(n) : `${subjectPrefix} ${subjectLine(n)}`;
  return { subject, text: plainBody(n) + '\n', headers };
}

interface SmtpError extends Error {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
}

/** The SMTP connection settings of a channel (shared by sending and `doctor`'s dry connection). */
export function smtpOptions(
  c: EmailChannelConfig,
  o: { password?: string | undefined; ca?: Buffer | undefined; timeoutMs: number },
): SMTPTransport.Options {
  const security = c.security ?? 'starttls';
  const options: SMTPTransport.Options = {
    host: c.host,
    port: c.port ?? DEFAULT_PORT[security],
    secure: security === 'tls',
    requireTLS: security === 'starttls',
    ignoreTLS: security === 'none',
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.timeoutMs,
    logger: false,
    debug: false,
  };
  if (o.ca !== undefined) options.tls = { ca: o.ca };
  if (c.user !== undefined)
    options.auth = o.password === undefined ? { user: c.user } : { user: c.user, pass: o.password };
  return options;
}

export class EmailChannel implements Channel {
  readonly kind = 'email';
  readonly name: string;
  private readonly deps: ResolvedDeps;

  constructor(
    private readonly config: EmailChannelConfig,
    deps: ChannelDeps,
  ) {
    this.name = config.name;
    this.deps = resolveDeps(config, deps);
  }

  async send(n: Notification, opts?: SendOptions): Promise<DeliveryResult> {
    const c = this.config;
    const started = this.deps.now();
    const scrubber = new Scrubber();
    const security = c.security ?? 'starttls';
    const port = c.port ?? DEFAULT_PORT[security];
    const display = `SMTP server ${c.host}:${port}`;
    const fail = (error: string): DeliveryResult => ({
      ok: false,
      attempts: 0,
      error: scrubber.scrub(error),
      durationMs: Math.max(0, this.deps.now() - started),
    });

    let password: string | undefined;
    if (c.password !== undefined) {
      try {
        password = await this.deps.resolveSecret(c.password);
      } catch (err) {
        return fail(
          `cannot resolve secret ${c.password} for email channel ${c.name}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      scrubber.add(password);
    }
    let ca: Buffer | undefined;
    if (c.caFile !== undefined) {
      try {
        ca = await readFile(c.caFile);
      } catch (err) {
        return fail(`cannot read caFile ${c.caFile} for email channel ${c.name}: ${(err as Error).message}`);
      }
    }

    const options = smtpOptions(c, { password, ca, timeoutMs: this.deps.timeoutMs });
    const message = emailMessage(n, c.subjectPrefix);

    // Loaded on first use: nodemailer is ~15 MiB of memory that commands without email never need.
    const { default: nodemailer } = await import('nodemailer');
    const result = await withRetry(
      async () => {
        const transport = nodemailer.createTransport(options);
        const onAbort = (): void => transport.close();
        opts?.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const info = await transport.sendMail({
            from: c.from,
            // `--to` sends to that address instead of the channel's list.
            to: n.to !== undefined ? [n.to] : c.to,
            subject: message.subject,
            text: message.text,
            headers: message.headers,
          });
          return { ok: true, status: replyCode(info.response) ?? 250 } satisfies AttemptOutcome;
        } catch (err) {
          return smtpOutcome(err as SmtpError, display, this.deps.timeoutMs, opts?.signal);
        } finally {
          opts?.signal?.removeEventListener('abort', onAbort);
          transport.close();
        }
      },
      {
        policy: this.deps.policy,
        sleep: this.deps.sleep,
        now: this.deps.now,
        ...(opts?.signal && { signal: opts.signal }),
      },
    );
    if (result.error !== undefined) result.error = scrubber.scrub(result.error);
    result.durationMs = Math.max(0, this.deps.now() - started);
    return result;
  }
}

function replyCode(response: string | undefined): number | undefined {
  const m = /^(\d{3})/.exec(response ?? '');
  return m ? Number(m[1]) : undefined;
}

function smtpOutcome(
  err: SmtpError,
  display: string,
  timeoutMs: number,
  signal?: AbortSignal,
): AttemptOutcome {
  if (signal?.aborted) return { ok: false, error: `cancelled sending to ${display}`, retryable: false };
  const code = err.responseCode;
  const reply = err.response ? `: ${err.response.replace(/\s+/g, ' ').trim().slice(0, 200)}` : '';
  // A certificate problem or a server without STARTTLS will not go away by itself; nothing
  // (not even the login) was sent in clear.
  if (err.code === 'ETLS' && err.command === 'STARTTLS' && code !== undefined)
    return {
      ok: false,
      status: code,
      error: `${display} does not support STARTTLS, which security "starttls" requires (reply ${code}${reply}); nothing was sent`,
      retryable: false,
    };
  if (err.code === 'ETLS' || /certificate|self[- ]signed/i.test(err.message))
    return { ok: false, error: `TLS with ${display} failed: ${err.message}`, retryable: false };
  if (code !== undefined) {
    const what = err.code === 'EAUTH' ? 'refused the login' : 'refused the message';
    return {
      ok: false,
      status: code,
      error: `${display} ${what} (${code})${reply}`,
      // 4xx replies are temporary by definition (RFC 5321 4.2.1); 5xx are permanent.
      retryable: code >= 400 && code < 500,
    };
  }
  if (err.code === 'ETIMEDOUT')
    return { ok: false, error: `no answer from ${display} within ${formatMs(timeoutMs)}`, retryable: true };
  if (err.code === 'EAUTH') return { ok: false, error: `${display}: ${err.message}`, retryable: false };
  return { ok: false, error: `cannot send through ${display}: ${err.message}`, retryable: true };
}
