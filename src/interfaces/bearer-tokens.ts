/**
 * Bearer tokens for the daemon's network interfaces (the MCP endpoint and the HTTP API): client
 * token references resolved once at start and kept only in memory, and the lookup of a request's
 * `Authorization: Bearer TOKEN` header to its scope. Tokens are compared by their SHA-256 digests
 * in constant time, so timing says nothing about a token, and no message ever carries one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { App } from '../app/app.ts';
import type { McpClientConfig } from '../config/config.ts';
import { UserError } from '../domain/errors.ts';
import type { Scope } from '../domain/scope.ts';
import { parseScope } from '../domain/scope.ts';

export const MIN_TOKEN_LENGTH = 16;

export interface TokenEntry {
  digest: Buffer;
  scope: Scope;
  /** The client's name from the configuration (for the log), when known. */
  client?: string;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Digests of the given tokens with their scopes; refuses short tokens (naming the entry, never the value). */
export function tokenTable(
  tokens: Array<{ token: string; scope: Scope; client?: string }>,
  where: string,
): TokenEntry[] {
  return tokens.map(({ token, scope, client }, i) => {
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new UserError(
        `${where}: token #${i + 1}${client ? ` (${client})` : ''} is shorter than ${MIN_TOKEN_LENGTH} characters`,
        { hint: 'use a long random token, e.g. `openssl rand -hex 32`' },
      );
    }
    return {
      digest: sha256(token),
      scope: parseScope(scope, `${where}: scope of token #${i + 1}`),
      ...(client !== undefined ? { client } : {}),
    };
  });
}

/** The entry an Authorization header's bearer token matches, or why there is none. */
export function bearerLookup(
  header: string | undefined,
  table: TokenEntry[],
): TokenEntry | 'missing' | 'unknown' {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return 'missing';
  const digest = sha256(m[1]!);
  let found: TokenEntry | undefined;
  for (const entry of table) if (timingSafeEqual(entry.digest, digest)) found = entry;
  return found ?? 'unknown';
}

/**
 * Resolves each configured client's token reference through the secret providers. `section`
 * names the configuration section in errors (`mcp.http`, `http`).
 */
export async function resolveClientTokens(
  app: App,
  clients: McpClientConfig[],
  section: string,
): Promise<Array<{ token: string; scope: Scope; client: string }>> {
  const out: Array<{ token: string; scope: Scope; client: string }> = [];
  const seen = new Set<string>();
  for (const [i, client] of clients.entries()) {
    const field = `${section}.clients[${i}] (${client.name}).token`;
    let token: string;
    try {
      token = (await app.secrets().resolve(client.token)).reveal();
    } catch (err) {
      // The resolver's messages are already redacted; they name the reference, not a value.
      const e = err instanceof UserError ? err : new UserError(String(err));
      throw new UserError(`${field}: ${e.message}`, {
        hint: e.hint ?? 'set the variable or file the reference points to',
        code: 'config_invalid',
      });
    }
    if (seen.has(token))
      throw new UserError(`${field}: the same token as another client`, {
        hint: 'give each client its own token (`openssl rand -hex 32`), so each has its own scope',
        code: 'config_invalid',
      });
    seen.add(token);
    out.push({ token, scope: client.scope, client: client.name });
  }
  return out;
}
