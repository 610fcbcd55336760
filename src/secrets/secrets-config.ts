/**
 * Secrets configuration: where Vault lives and which MCP servers can hand out secrets. Like
 * everything stored by nightshift it holds references only; credentials inside it (the Vault
 * token, an MCP server's API key) are themselves secret references.
 */
import { z } from 'zod';
import { UserError } from '../domain/errors.ts';
import { parseSecretRef } from './secret-ref.ts';

/** A literal (non-secret) string, or a secret reference with an optional prefix such as "Bearer ". */
export type ValueSource = string | { secret: string; prefix?: string };

export interface VaultConfig {
  /** e.g. https://vault.example.com:8200 */
  address: string;
  /** A secret reference for the Vault token, e.g. file:~/.vault-token. */
  token: string;
  /** Vault Enterprise namespace (sent as X-Vault-Namespace). */
  namespace?: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

export interface McpStdioServerConfig {
  command: string;
  args?: string[];
  env?: Record<string, ValueSource>;
  cwd?: string;
  /** Connect + call timeout; default 30 s (a server process has to start). */
  timeoutMs?: number;
}

export interface McpHttpServerConfig {
  url: string;
  headers?: Record<string, ValueSource>;
  timeoutMs?: number;
}

export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

export interface SecretsConfig {
  vault?: VaultConfig;
  mcpServers?: Record<string, McpServerConfig>;
  cmd?: {
    /** Default 10 s. */
    timeoutMs?: number;
  };
}

export const DEFAULT_CMD_TIMEOUT_MS = 10_000;
export const DEFAULT_VAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MCP_TIMEOUT_MS = 30_000;

/** Names that say "this carries a credential": their values must be references, not literals. */
const CREDENTIAL_NAME = /authorization|cookie|token|secret|passw|passphrase|api[-_]?key|private[-_]?key/i;

/** A string that parses as a secret reference (zod). */
export const refString = z.string().refine(
  (s) => {
    try {
      parseSecretRef(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a secret reference (env:NAME, file:/path, cmd:..., vault:..., mcp:...)' },
);

const valueSource = z.union([
  z.string(),
  z.object({ secret: refString, prefix: z.string().optional() }).strict(),
]);

const timeoutMs = z.number().int().positive().max(3_600_000).optional();

/** An http(s) URL (zod). */
export const httpUrl = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
  message: 'must be an http(s) URL',
});

const schema = z
  .object({
    vault: z
      .object({ address: httpUrl, token: refString, namespace: z.string().min(1).optional(), timeoutMs })
      .strict()
      .optional(),
    mcpServers: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'server names use letters, digits, _ . -'),
        z.union([
          z
            .object({
              command: z.string().min(1),
              args: z.array(z.string()).optional(),
              env: z.record(z.string(), valueSource).optional(),
              cwd: z.string().optional(),
              timeoutMs,
            })
            .strict(),
          z
            .object({ url: httpUrl, headers: z.record(z.string(), valueSource).optional(), timeoutMs })
            .strict(),
        ]),
      )
      .optional(),
    cmd: z.object({ timeoutMs }).strict().optional(),
  })
  .strict();

/**
 * Validates secrets configuration read from a file or the state. Literal values under names that
 * carry credentials (Authorization, *_TOKEN, *API_KEY, ...) are refused: they must be references.
 */
export function parseSecretsConfig(raw: unknown, source = 'secrets configuration'): SecretsConfig {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new UserError(`invalid ${source}: ${where}: ${issue?.message ?? 'invalid'}`, {
      code: 'secrets_config_invalid',
      hint: 'see docs/secrets.md for the configuration shape',
    });
  }
  const config = result.data as SecretsConfig;
  for (const [name, server] of Object.entries(config.mcpServers ?? {})) {
    const values = 'url' in server ? server.headers : server.env;
    for (const [key, value] of Object.entries(values ?? {})) {
      if (typeof value === 'string' && CREDENTIAL_NAME.test(key)) {
        const field = 'url' in server ? 'headers' : 'env';
        throw new UserError(
          `invalid ${source}: mcpServers.${name}.${field}.${key} holds a literal value, but it looks like a credential (the value is not shown)`,
          {
            code: 'secrets_config_invalid',
            hint: `store a reference instead: { "secret": "env:MY_TOKEN"${field === 'headers' ? ', "prefix": "Bearer "' : ''} }`,
          },
        );
      }
    }
  }
  return config;
}
