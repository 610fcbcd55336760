/**
 * A dry check of a channel: does the destination answer, without delivering a message? Where the
 * protocol has a request that sends nothing (Telegram `getMe`, a GET of a Discord webhook, ntfy's
 * `/v1/health`, SMTP's greeting and login) it is used; a plain webhook or a Slack incoming webhook
 * has none, so only the connection is tried. Secret values are scrubbed from every error.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ChannelConfig } from '../config/channel-config.ts';
import { DEFAULT_TIMEOUT_MS } from './deps.ts';
import { smtpOptions } from './email.ts';
import { Scrubber } from './http.ts';
import { NTFY_SERVER } from './ntfy.ts';
import { TELEGRAM_API } from './telegram.ts';

export interface ProbeResult {
  ok: boolean;
  /** What was tried and what answered (never a secret). */
  detail: string;
}

export interface ProbeDeps {
  resolveSecret: (ref: string) => Promise<string>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Tries the channel's destination; never throws. */
export async function probeChannel(config: ChannelConfig, deps: ProbeDeps): Promise<ProbeResult> {
  const scrubber = new Scrubber();
  const timeoutMs = config.timeoutMs ?? deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const secret = async (ref: string): Promise<string> => {
    const value = await deps.resolveSecret(ref);
    scrubber.add(value);
    return value;
  };
  /** A URL given either literally or as a secret reference. */
  const urlOf = async (text: string): Promise<string> => (/^https?:\/\//.test(text) ? text : secret(text));
  const get = async (url: string, headers: Record<string, string> = {}): Promise<Response> =>
    doFetch(url, { method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs) });
  try {
    switch (config.kind) {
      case 'telegram': {
        const base = config.apiBase ?? TELEGRAM_API;
        const res = await get(`${base}/bot${await secret(config.botToken)}/getMe`);
        const body = (await res.json().catch(() => ({}))) as { ok?: boolean; result?: { username?: string } };
        return body.ok === true
          ? { ok: true, detail: `${base} knows the bot (@${body.result?.username ?? '?'}) (getMe)` }
          : { ok: false, detail: `${base} refused the bot token (getMe answered ${res.status})` };
      }
      case 'discord': {
        const res = await get(await urlOf(config.webhookUrl));
        return res.ok
          ? { ok: true, detail: 'the Discord webhook exists (GET of the webhook)' }
          : { ok: false, detail: `the Discord webhook answered ${res.status} (deleted, or a wrong token)` };
      }
      case 'ntfy': {
        const server = config.server ?? NTFY_SERVER;
        const res = await get(`${server}/v1/health`);
        const body = (await res.json().catch(() => ({}))) as { healthy?: boolean };
        return res.ok && body.healthy === true
          ? { ok: true, detail: `${server} is healthy (/v1/health)` }
          : { ok: false, detail: `${server}/v1/health answered ${res.status}` };
      }
      case 'email': {
        const password = config.password === undefined ? undefined : await secret(config.password);
        const ca = config.caFile === undefined ? undefined : await readFile(config.caFile);
        const { default: nodemailer } = await import('nodemailer');
        const transport = nodemailer.createTransport(smtpOptions(config, { password, ca, timeoutMs }));
        try {
          await transport.verify();
        } finally {
          transport.close();
        }
        return {
          ok: true,
          detail: `${config.host} accepted the connection${config.user ? ' and the login' : ''}`,
        };
      }
      case 'slack':
        return await connectProbe(await urlOf(config.webhookUrl), timeoutMs, 'Slack');
      case 'webhook':
        return await connectProbe(await urlOf(config.url), timeoutMs, 'webhook');
    }
  } catch (err) {
    return { ok: false, detail: scrubber.scrub(err instanceof Error ? err.message : String(err)) };
  }
}

/** Opens (and closes) a TCP or TLS connection to the URL's host: nothing is sent. */
function connectProbe(url: string, timeoutMs: number, what: string): Promise<ProbeResult> {
  const u = new URL(url);
  const tls = u.protocol === 'https:';
  const port = Number(u.port || (tls ? 443 : 80));
  const where = `${u.hostname}:${port}`;
  return new Promise((resolve) => {
    const socket = tls
      ? tlsConnect({ host: u.hostname, port, servername: u.hostname })
      : netConnect({ host: u.hostname, port });
    const done = (r: ProbeResult): void => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () =>
      done({ ok: false, detail: `no answer from ${where} within ${timeoutMs} ms` }),
    );
    socket.once(tls ? 'secureConnect' : 'connect', () =>
      done({ ok: true, detail: `${where} accepts connections (the ${what} protocol has no dry request)` }),
    );
    socket.once('error', (err) => done({ ok: false, detail: `cannot connect to ${where}: ${err.message}` }));
  });
}
