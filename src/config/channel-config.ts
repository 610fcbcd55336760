/**
 * Channel configuration (the `channels` of config.json): what a user writes down to name a
 * destination; delivery/ builds the channels from it. It is plain JSON and
 * holds secret *references* only (`env:SLACK_WEBHOOK_URL`, `file:~/.config/nightshift/tg-token`);
 * the values are resolved at send time. `parseChannelConfig` validates untrusted input and names
 * the field at fault.
 */
import { UserError } from '../domain/errors.ts';
import { looksLikeSecretRef, parseSecretRef } from '../secrets/secret-ref.ts';

/** How a channel retries a failed send (delivery/retry.ts applies it). */
export interface RetryPolicy {
  /** Total attempts including the first; 1 means no retry. */
  attempts: number;
  /** Wait before the first retry; doubles for each further one. */
  baseDelayMs: number;
  /** Cap on one backoff wait. */
  maxDelayMs: number;
  /**
   * A server asking to wait longer than this (Retry-After) is not retried: the send fails now
   * rather than holding up the alert queue.
   */
  maxRetryAfterMs: number;
}

export const CHANNEL_KINDS = ['webhook', 'slack', 'discord', 'telegram', 'ntfy', 'email'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A header value: a literal, or a secret reference with an optional prefix such as "Bearer ". */
export type HeaderValue = string | { secret: string; prefix?: string };

interface ChannelConfigBase {
  /** The name users refer to the channel by (`--channel ops`). */
  name: string;
  /** Per-request timeout; default 10 s (email: per SMTP step). */
  timeoutMs?: number;
  /** Overrides of the retry policy for this channel. */
  retry?: Partial<RetryPolicy>;
}

export interface WebhookChannelConfig extends ChannelConfigBase {
  kind: 'webhook';
  /** An http(s) URL, or a secret reference to one when the URL itself carries a token. */
  url: string;
  /** Secret reference for the HMAC-SHA256 signing key (X-Nightshift-Signature). */
  secret?: string;
  /** Extra request headers; credentials must be `{ secret: REF }`. */
  headers?: Record<string, HeaderValue>;
}

export interface SlackChannelConfig extends ChannelConfigBase {
  kind: 'slack';
  /** Secret reference to the incoming-webhook URL (it embeds the credential). */
  webhookUrl: string;
}

export interface DiscordChannelConfig extends ChannelConfigBase {
  kind: 'discord';
  /** Secret reference to the webhook URL (it embeds the credential). */
  webhookUrl: string;
  /** Overrides the webhook's display name. */
  username?: string;
}

export type TelegramParseMode = 'HTML' | 'MarkdownV2' | 'none';

export interface TelegramChannelConfig extends ChannelConfigBase {
  kind: 'telegram';
  /** Secret reference to the bot token from @BotFather. */
  botToken: string;
  /** Numeric chat id or `@channelusername`. */
  chatId: string;
  /** Default https://api.telegram.org (a local Bot API server works too). */
  apiBase?: string;
  /** Default HTML (nightshift escapes the text). */
  parseMode?: TelegramParseMode;
  /** Deliver silently (no sound) for info and recovery notices. */
  quietBelowWarning?: boolean;
}

export interface NtfyChannelConfig extends ChannelConfigBase {
  kind: 'ntfy';
  /** Default https://ntfy.sh */
  server?: string;
  topic: string;
  /** Secret reference to an access token (sent as `Authorization: Bearer`). */
  token?: string;
}

export type EmailSecurity = 'tls' | 'starttls' | 'none';

export interface EmailChannelConfig extends ChannelConfigBase {
  kind: 'email';
  host: string;
  /** Default 465 for `tls`, 587 for `starttls`, 25 for `none`. */
  port?: number;
  /**
   * `tls`: TLS from the first byte (SMTPS). `starttls` (default): plain connect, then STARTTLS,
   * which is required. `none`: no encryption (a local relay only).
   */
  security?: EmailSecurity;
  /** Path to a PEM file with the CA that signed the server certificate (private CAs). */
  caFile?: string;
  user?: string;
  /** Secret reference to the SMTP password; requires `user`. */
  password?: string;
  from: string;
  to: string[];
  /** Prepended to every subject; default "[nightshift]". */
  subjectPrefix?: string;
}

export type ChannelConfig =
  | WebhookChannelConfig
  | SlackChannelConfig
  | DiscordChannelConfig
  | TelegramChannelConfig
  | NtfyChannelConfig
  | EmailChannelConfig;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;
const NTFY_TOPIC = /^[-_A-Za-z0-9]{1,64}$/;
/** Header names that carry credentials: literal values are refused there. */
const CREDENTIAL_NAME = /authorization|cookie|token|secret|passw|api[-_]?key/i;

const COMMON_KEYS = ['name', 'kind', 'timeoutMs', 'retry'];
const KEYS: Record<ChannelKind, string[]> = {
  webhook: ['url', 'secret', 'headers'],
  slack: ['webhookUrl'],
  discord: ['webhookUrl', 'username'],
  telegram: ['botToken', 'chatId', 'apiBase', 'parseMode', 'quietBelowWarning'],
  ntfy: ['server', 'topic', 'token'],
  email: ['host', 'port', 'security', 'caFile', 'user', 'password', 'from', 'to', 'subjectPrefix'],
};
const RETRY_KEYS = ['attempts', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const;

class Fields {
  constructor(
    private readonly raw: Record<string, unknown>,
    readonly where: string,
    private readonly prefix = '',
  ) {}

  fail(field: string, problem: string, hint?: string): never {
    throw new UserError(`invalid channel ${this.where}: ${this.prefix}${field}: ${problem}`, {
      code: 'channel_config_invalid',
      hint: hint ?? 'see docs/alerts.md for how to configure each channel',
    });
  }

  has(field: string): boolean {
    return this.raw[field] !== undefined;
  }

  string(field: string, required: true): string;
  string(field: string, required?: false): string | undefined;
  string(field: string, required = false): string | undefined {
    const v = this.raw[field];
    if (v === undefined) {
      if (required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v.trim() === '') this.fail(field, 'must be a non-empty string');
    return v.trim();
  }

  /** A secret reference; a literal is refused without being echoed (it may be the secret). */
  ref(field: string, required: true, example: string): string;
  ref(field: string, required: false, example: string): string | undefined;
  ref(field: string, required: boolean, example: string): string | undefined {
    const v = this.raw[field];
    if (v === undefined) {
      if (required) this.fail(field, 'is required', `give a secret reference, e.g. ${example}`);
      return undefined;
    }
    return this.refOf(field, v, example);
  }

  /** Validates `v` as a secret reference reported under `field`. */
  refOf(field: string, v: unknown, example: string): string {
    if (typeof v !== 'string') this.fail(field, 'must be a secret reference string', `e.g. ${example}`);
    try {
      return parseSecretRef(v).text;
    } catch (err) {
      const detail = err instanceof UserError ? err.message : 'not a secret reference';
      this.fail(
        field,
        detail,
        `store where the value lives, never the value itself, e.g. ${example} (see docs/secrets.md)`,
      );
    }
  }

  url(field: string, required: true): string;
  url(field: string, required?: false): string | undefined;
  url(field: string, required = false): string | undefined {
    const v = required ? this.string(field, true) : this.string(field);
    if (v === undefined) return undefined;
    checkHttpUrl(v, (problem) => this.fail(field, problem, 'give an http:// or https:// URL'));
    return v.replace(/\/+$/, '');
  }

  int(field: string, min: number, max: number): number | undefined {
    const v = this.raw[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(field, `must be an integer from ${min} to ${max}`);
    return v;
  }

  oneOf<T extends string>(field: string, values: readonly T[]): T | undefined {
    const v = this.raw[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
      this.fail(field, `must be one of ${values.join(', ')}`);
    return v as T;
  }

  bool(field: string): boolean | undefined {
    const v = this.raw[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false');
    return v;
  }
}

function checkHttpUrl(v: string, fail: (problem: string) => never): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    fail('is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('must use http or https');
  if (u.username !== '' || u.password !== '')
    fail('must not contain a user or password (they would be stored in clear)');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates one channel. `name` may come from the surrounding map key (`channels.ops`); `where`
 * says where the input came from, for the error message.
 */
export function parseChannelConfig(raw: unknown, name?: string): ChannelConfig {
  const label = name ?? (isRecord(raw) && typeof raw.name === 'string' ? raw.name : '(unnamed)');
  if (!isRecord(raw))
    throw new UserError(`invalid channel ${label}: expected an object with "kind" and its settings`, {
      code: 'channel_config_invalid',
      hint: 'see docs/alerts.md for how to configure each channel',
    });
  const f: Fields = new Fields(raw, label);
  const kind = f.oneOf('kind', CHANNEL_KINDS);
  if (kind === undefined) f.fail('kind', `is required: one of ${CHANNEL_KINDS.join(', ')}`);
  const channelName = name ?? f.string('name', true);
  if (!NAME.test(channelName))
    f.fail('name', 'must start with a letter or digit and contain only letters, digits, _ . -');
  if (name !== undefined && raw.name !== undefined && raw.name !== name)
    f.fail('name', `differs from its key "${name}"; leave it out or make them equal`);

  const allowed = new Set([...COMMON_KEYS, ...KEYS[kind]]);
  for (const key of Object.keys(raw))
    if (!allowed.has(key))
      f.fail(key, `unknown setting for a ${kind} channel`, `known settings: ${[...allowed].join(', ')}`);

  const base: ChannelConfigBase = { name: channelName };
  const timeoutMs = f.int('timeoutMs', 100, 600_000);
  if (timeoutMs !== undefined) base.timeoutMs = timeoutMs;
  if (raw.retry !== undefined) base.retry = parseRetry(raw.retry, f);

  switch (kind) {
    case 'webhook': {
      const url = f.string('url', true);
      if (looksLikeSecretRef(url)) f.ref('url', true, 'env:ALERT_WEBHOOK_URL');
      else checkHttpUrl(url, (p) => f.fail('url', p, 'give an http(s) URL, or a secret reference to one'));
      const out: WebhookChannelConfig = { ...base, kind, url };
      const secret = f.ref('secret', false, 'env:NIGHTSHIFT_WEBHOOK_SECRET');
      if (secret !== undefined) out.secret = secret;
      if (raw.headers !== undefined) out.headers = parseHeaders(raw.headers, f);
      return out;
    }
    case 'slack':
      return { ...base, kind, webhookUrl: f.ref('webhookUrl', true, 'env:SLACK_WEBHOOK_URL') };
    case 'discord': {
      const out: DiscordChannelConfig = {
        ...base,
        kind,
        webhookUrl: f.ref('webhookUrl', true, 'env:DISCORD_WEBHOOK_URL'),
      };
      const username = f.string('username');
      if (username !== undefined) out.username = username;
      return out;
    }
    case 'telegram': {
      const chatId = raw.chatId;
      let chat: string;
      if (typeof chatId === 'number' && Number.isInteger(chatId)) chat = String(chatId);
      else if (typeof chatId === 'string' && /^(-?\d+|@[A-Za-z0-9_]{4,})$/.test(chatId.trim()))
        chat = chatId.trim();
      else
        f.fail(
          'chatId',
          chatId === undefined ? 'is required' : 'must be a numeric chat id or @channelusername',
          'message the bot, then read "chat":{"id":...} from https://api.telegram.org/bot<token>/getUpdates',
        );
      const out: TelegramChannelConfig = {
        ...base,
        kind,
        botToken: f.ref('botToken', true, 'env:TELEGRAM_BOT_TOKEN'),
        chatId: chat,
      };
      const apiBase = f.url('apiBase');
      if (apiBase !== undefined) out.apiBase = apiBase;
      const parseMode = f.oneOf('parseMode', ['HTML', 'MarkdownV2', 'none'] as const);
      if (parseMode !== undefined) out.parseMode = parseMode;
      const quiet = f.bool('quietBelowWarning');
      if (quiet !== undefined) out.quietBelowWarning = quiet;
      return out;
    }
    case 'ntfy': {
      const topic = f.string('topic', true);
      if (!NTFY_TOPIC.test(topic))
        f.fail(
          'topic',
          'must be 1-64 letters, digits, - or _',
          'ntfy topics look like nightshift-alerts-7f3k',
        );
      const out: NtfyChannelConfig = { ...base, kind, topic };
      const server = f.url('server');
      if (server !== undefined) out.server = server;
      const token = f.ref('token', false, 'env:NTFY_TOKEN');
      if (token !== undefined) out.token = token;
      return out;
    }
    case 'email': {
      const from = f.string('from', true);
      if (!EMAIL.test(from.replace(/^.*<([^>]*)>\s*$/, '$1')))
        f.fail('from', 'must be an email address', 'e.g. "nightshift <alerts@example.com>"');
      const toRaw = typeof raw.to === 'string' ? [raw.to] : raw.to;
      if (!Array.isArray(toRaw) || toRaw.length === 0)
        f.fail('to', 'is required: one address or a list of addresses');
      const to = toRaw.map((t) => {
        if (typeof t !== 'string' || !EMAIL.test(t.trim().replace(/^.*<([^>]*)>\s*$/, '$1')))
          f.fail('to', `${JSON.stringify(t)} is not an email address`);
        return t.trim();
      });
      const out: EmailChannelConfig = { ...base, kind, host: f.string('host', true), from, to };
      const port = f.int('port', 1, 65535);
      if (port !== undefined) out.port = port;
      const security = f.oneOf('security', ['tls', 'starttls', 'none'] as const);
      if (security !== undefined) out.security = security;
      const caFile = f.string('caFile');
      if (caFile !== undefined) out.caFile = caFile;
      const user = f.string('user');
      if (user !== undefined) out.user = user;
      const password = f.ref('password', false, 'file:~/.config/nightshift/smtp-password');
      if (password !== undefined) {
        if (user === undefined) f.fail('password', 'is set but user is not', 'set "user" to the SMTP login');
        out.password = password;
      }
      const prefix = raw.subjectPrefix;
      if (prefix !== undefined) {
        if (typeof prefix !== 'string') f.fail('subjectPrefix', 'must be a string');
        out.subjectPrefix = prefix;
      }
      return out;
    }
  }
}

/** Validates a map of channels keyed by name (`{ "ops": { "kind": "slack", ... } }`). */
export function parseChannelsConfig(raw: unknown): ChannelConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!isRecord(raw))
    throw new UserError('invalid channels: expected an object mapping channel names to settings', {
      code: 'channel_config_invalid',
      hint: 'e.g. { "ops": { "kind": "ntfy", "topic": "nightshift-ops" } }; see docs/alerts.md',
    });
  return Object.entries(raw).map(([name, value]) => parseChannelConfig(value, name));
}

function parseRetry(raw: unknown, f: Fields): Partial<RetryPolicy> {
  if (!isRecord(raw)) f.fail('retry', 'must be an object', `settings: ${RETRY_KEYS.join(', ')}`);
  const out: Partial<RetryPolicy> = {};
  for (const key of Object.keys(raw))
    if (!(RETRY_KEYS as readonly string[]).includes(key))
      f.fail(`retry.${key}`, 'unknown setting', `settings: ${RETRY_KEYS.join(', ')}`);
  const r: Fields = new Fields(raw, f.where, 'retry.');
  const attempts = r.int('attempts', 1, 10);
  if (attempts !== undefined) out.attempts = attempts;
  const base = r.int('baseDelayMs', 0, 3_600_000);
  if (base !== undefined) out.baseDelayMs = base;
  const max = r.int('maxDelayMs', 0, 3_600_000);
  if (max !== undefined) out.maxDelayMs = max;
  const ra = r.int('maxRetryAfterMs', 0, 3_600_000);
  if (ra !== undefined) out.maxRetryAfterMs = ra;
  return out;
}

function parseHeaders(raw: unknown, f: Fields): Record<string, HeaderValue> {
  if (!isRecord(raw)) f.fail('headers', 'must be an object of header names to values');
  const out: Record<string, HeaderValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = `headers.${key}`;
    if (!HEADER_NAME.test(key)) f.fail(field, 'is not a valid header name');
    if (typeof value === 'string') {
      if (CREDENTIAL_NAME.test(key))
        f.fail(
          field,
          'holds a literal value, but it looks like a credential (the value is not shown)',
          'store a reference instead: { "secret": "env:MY_TOKEN", "prefix": "Bearer " }',
        );
      if (/[\r\n]/.test(value)) f.fail(field, 'must be a single line');
      out[key] = value;
    } else if (isRecord(value) && typeof value.secret === 'string') {
      const extra = Object.keys(value).filter((k) => k !== 'secret' && k !== 'prefix');
      if (extra.length > 0)
        f.fail(field, `unknown setting ${extra[0]}`, 'use { "secret": REF, "prefix": "..." }');
      if (value.prefix !== undefined && typeof value.prefix !== 'string')
        f.fail(`${field}.prefix`, 'must be a string');
      const secret = f.refOf(`${field}.secret`, value.secret, 'env:MY_TOKEN');
      out[key] = value.prefix === undefined ? { secret } : { secret, prefix: value.prefix as string };
    } else {
      f.fail(field, 'must be a string or { "secret": REF, "prefix": "..." }');
    }
  }
  return out;
}
