/**
 * nightshift's configuration: `<home>/config.json` (or $NIGHTSHIFT_CONFIG), plain JSON holding
 * settings and secret *references* only. It is read once per process and validated as a whole;
 * an error names the file, the field and the fix. A missing file is an empty configuration.
 *
 * Sections: `secrets` (Vault, MCP secret servers), `channels` (alert and delivery destinations),
 * `alerts` (default channels, failure destination), `healthchecks`, `agents` (model endpoints),
 * `mcp` (the daemon's MCP endpoint and its clients), `http` (the daemon's HTTP API and dashboard),
 * `store` (a PostgreSQL store shared by several daemons; the password by reference).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../domain/errors.ts';
import { httpUrl, parseSecretsConfig, refString as ref } from '../secrets/secrets-config.ts';
import type { SecretsConfig } from '../secrets/secrets-config.ts';
import { parseChannelsConfig } from './channel-config.ts';
import type { ChannelConfig } from './channel-config.ts';
import { parseDuration } from '../domain/duration.ts';
import type { Scope } from '../domain/scope.ts';
import type { ModelEndpoint } from '../domain/chat.ts';

export interface AlertsConfig {
  /** Channels that get alerts when a job names none. */
  channels: string[];
  /** Where failure notices of delivering jobs go first (before the job's announce target). */
  failureDestination?: { channel: string; to?: string };
}

export interface AgentConfig {
  /** The chat-completions base URL (`http://127.0.0.1:11434/v1`). */
  baseUrl: string;
  model: string;
  /** Secret reference for the bearer key. */
  apiKeyRef?: string;
  kind?: 'openai' | 'ollama';
  fallbacks: ModelEndpoint[];
  systemPrompt?: string;
  /** Interval of the agent's heartbeat job (default 30 min). */
  heartbeatEveryMs: number;
}

export interface McpClientConfig {
  name: string;
  /** Secret reference to the bearer token. */
  token: string;
  scope: Scope;
}

export interface McpHttpConfig {
  /** Default 127.0.0.1: loopback unless configured otherwise. */
  host: string;
  port: number;
  clients: McpClientConfig[];
}

/** The daemon's HTTP API, dashboard and metrics (see docs/http-api.md). */
export interface HttpConfig {
  /** Default 127.0.0.1. Anything but loopback needs `allowRemote`. */
  host: string;
  /** Default 7420. */
  port: number;
  /** Set to bind a non-loopback address (put TLS in front: a reverse proxy or a tunnel). */
  allowRemote: boolean;
  /** /metrics, /healthz and /readyz need a token too (default: only when bound off loopback). */
  probesNeedToken: boolean;
  /** Bearer tokens by reference, each with a scope (the MCP rules). */
  clients: McpClientConfig[];
}

export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 7420;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface NightshiftConfig {
  /** The file it came from (for messages), or undefined when there was none. */
  file?: string;
  secrets: SecretsConfig;
  channels: ChannelConfig[];
  alerts: AlertsConfig;
  healthchecks: { baseUrl?: string };
  agents: Record<string, AgentConfig>;
  mcp: { http?: McpHttpConfig };
  /** Model prices for `nightshift cost`, by model name (as runs record it). */
  prices: Record<string, ModelPrice>;
  /** The store, when not the home's SQLite file (docs/cluster.md). */
  store?: StoreConfig;
  http?: HttpConfig;
}

/** US dollars (or any one currency) per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

export interface StoreConfig {
  /** `postgres://USER@HOST:PORT/DB[?schema=NAME]` (no password) or `sqlite:PATH`. */
  url: string;
  /** Secret reference for the database password. */
  passwordRef?: string;
}

export const DEFAULT_HEARTBEAT_EVERY_MS = 30 * 60_000;

export function configPath(homeDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.NIGHTSHIFT_CONFIG ?? join(homeDir, 'config.json');
}

const duration = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  try {
    return parseDuration(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (e.g. 30m, 2h)` });
    return z.NEVER;
  }
});
const endpoint = z
  .object({
    baseUrl: httpUrl,
    model: z.string().min(1),
    apiKeyRef: ref.optional(),
    kind: z.enum(['openai', 'ollama']).optional(),
  })
  .strict();

const client = z
  .object({
    name: z.string().min(1),
    token: ref,
    scope: z.enum(['read', 'operate', 'admin']),
  })
  .strict();

const schema = z
  .object({
    secrets: z.unknown().optional(),
    channels: z.unknown().optional(),
    alerts: z
      .object({
        channels: z.array(z.string().min(1)).optional(),
        failureDestination: z
          .object({ channel: z.string().min(1), to: z.string().optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    healthchecks: z.object({ baseUrl: httpUrl.optional() }).strict().optional(),
    agents: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'agent names use letters, digits, _ . -'),
        z
          .object({
            baseUrl: httpUrl,
            model: z.string().min(1),
            apiKeyRef: ref.optional(),
            kind: z.enum(['openai', 'ollama']).optional(),
            fallbacks: z.array(endpoint).optional(),
            systemPrompt: z.string().optional(),
            heartbeatEvery: duration.optional(),
          })
          .strict(),
      )
      .optional(),
    prices: z
      .record(
        z.string().min(1),
        z
          .object({
            input: z.number().nonnegative().describe('price per million input (prompt) tokens'),
            output: z.number().nonnegative().describe('price per million output (completion) tokens'),
          })
          .strict(),
      )
      .optional(),
    store: z
      .union([z.string().min(1), z.object({ url: z.string().min(1), password: ref.optional() }).strict()])
      .optional(),
    mcp: z
      .object({
        http: z
          .object({
            host: z.string().min(1).optional(),
            port: z.number().int().min(0).max(65535),
            clients: z.array(client).min(1),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    http: z
      .object({
        host: z.string().min(1).optional(),
        port: z.number().int().min(0).max(65535).optional(),
        allowRemote: z.boolean().optional(),
        probesNeedToken: z.boolean().optional(),
        clients: z.array(client).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Validates a parsed configuration object; `file` names it in errors. */
export function parseConfig(raw: unknown, file?: string): NightshiftConfig {
  const where = file ?? 'the configuration';
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new UserError(`invalid ${where}: ${path}: ${issue?.message ?? 'invalid'}`, {
      code: 'config_invalid',
      hint: 'fix that field; docs/configuration.md describes every section',
    });
  }
  const c = result.data;
  const channels = parseChannelsConfig(c.channels);
  const names = new Set(channels.map((ch) => ch.name));
  const alerts: AlertsConfig = { channels: c.alerts?.channels ?? [] };
  if (c.alerts?.failureDestination) alerts.failureDestination = c.alerts.failureDestination;
  for (const [i, name] of alerts.channels.entries())
    if (!names.has(name)) unknownChannel(where, `alerts.channels[${i}]`, name, names);
  if (alerts.failureDestination && !names.has(alerts.failureDestination.channel))
    unknownChannel(where, 'alerts.failureDestination.channel', alerts.failureDestination.channel, names);
  const agents: Record<string, AgentConfig> = {};
  for (const [name, a] of Object.entries(c.agents ?? {})) {
    const agent: AgentConfig = {
      baseUrl: a.baseUrl,
      model: a.model,
      fallbacks: a.fallbacks ?? [],
      heartbeatEveryMs: a.heartbeatEvery ?? DEFAULT_HEARTBEAT_EVERY_MS,
    };
    if (a.apiKeyRef !== undefined) agent.apiKeyRef = a.apiKeyRef;
    if (a.kind !== undefined) agent.kind = a.kind;
    if (a.systemPrompt !== undefined) agent.systemPrompt = a.systemPrompt;
    agents[name] = agent;
  }
  const config: NightshiftConfig = {
    secrets: parseSecretsConfig(c.secrets, `${where} (secrets)`),
    channels,
    alerts,
    healthchecks: c.healthchecks?.baseUrl ? { baseUrl: c.healthchecks.baseUrl } : {},
    agents,
    mcp: c.mcp?.http
      ? { http: { host: c.mcp.http.host ?? '127.0.0.1', port: c.mcp.http.port, clients: c.mcp.http.clients } }
      : {},
    prices: c.prices ?? {},
  };
  if (c.store !== undefined) {
    config.store =
      typeof c.store === 'string'
        ? { url: c.store }
        : { url: c.store.url, ...(c.store.password !== undefined ? { passwordRef: c.store.password } : {}) };
  }
  if (c.http) config.http = parseHttp(where, c.http);
  if (file !== undefined) config.file = file;
  return config;
}

function parseHttp(
  where: string,
  h: {
    host?: string | undefined;
    port?: number | undefined;
    allowRemote?: boolean | undefined;
    probesNeedToken?: boolean | undefined;
    clients?: McpClientConfig[] | undefined;
  },
): HttpConfig {
  const host = h.host ?? DEFAULT_HTTP_HOST;
  const allowRemote = h.allowRemote === true;
  if (!isLoopbackHost(host) && !allowRemote)
    throw new UserError(`invalid ${where}: http.host: ${host} is not a loopback address`, {
      code: 'config_invalid',
      hint: 'keep 127.0.0.1 and reach it through an SSH tunnel, or set "allowRemote": true and put a TLS reverse proxy in front (tokens travel in every request)',
    });
  const clients = h.clients ?? [];
  const names = new Set<string>();
  for (const [i, c] of clients.entries()) {
    if (names.has(c.name))
      throw new UserError(`invalid ${where}: http.clients[${i}].name: "${c.name}" is used twice`, {
        code: 'config_invalid',
        hint: 'give each client its own name (it appears in the log)',
      });
    names.add(c.name);
  }
  return {
    host,
    port: h.port ?? DEFAULT_HTTP_PORT,
    allowRemote,
    probesNeedToken: h.probesNeedToken ?? !isLoopbackHost(host),
    clients,
  };
}

function unknownChannel(where: string, field: string, name: string, names: Set<string>): never {
  throw new UserError(`invalid ${where}: ${field}: no channel named "${name}"`, {
    code: 'config_invalid',
    hint: names.size > 0 ? `configured channels: ${[...names].join(', ')}` : 'add it under "channels" first',
  });
}

/**
 * Reads and validates the configuration. The file may hold references to secrets but is still
 * refused when others can write it (they could point a reference elsewhere).
 */
/**
 * The configured store, if config.json names one. Only then is the configuration read at open
 * (validated as a whole): commands that need no configuration keep working on a home without it.
 */
export function configuredStore(
  homeDir: string,
  env: NodeJS.ProcessEnv = process.env,
): StoreConfig | undefined {
  const file = configPath(homeDir, env);
  if (!existsSync(file)) return undefined;
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (raw === null || typeof raw !== 'object' || !('store' in raw)) return undefined;
  } catch {
    return undefined;
  }
  return loadConfig(homeDir, env).store;
}

export function loadConfig(homeDir: string, env: NodeJS.ProcessEnv = process.env): NightshiftConfig {
  const file = configPath(homeDir, env);
  if (!existsSync(file)) return parseConfig({});
  const st = statSync(file);
  if ((st.mode & 0o022) !== 0)
    throw new UserError(`the configuration ${file} is writable by others`, {
      code: 'config_invalid',
      hint: `chmod 600 ${file}`,
    });
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read the configuration ${file}: ${(err as Error).message}`, {
      code: 'config_invalid',
      hint: 'it must be a JSON object; see docs/configuration.md',
    });
  }
  return parseConfig(raw, file);
}
