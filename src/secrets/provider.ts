/**
 * The provider port: one provider per reference scheme. A provider turns a parsed reference into
 * its value, or throws a SecretError naming the reference and the fix (never the value).
 */
import { EXIT, UserError } from '../domain/errors.ts';
import type { ExitCode } from '../domain/errors.ts';
import type { SecretsConfig } from './secrets-config.ts';
import type { Redactor } from './redact.ts';
import type { Secret } from './secret.ts';
import type { SecretRef } from './secret-ref.ts';

export interface ResolveContext {
  readonly config: SecretsConfig;
  /** The environment `env:` reads and commands/servers inherit. */
  readonly env: NodeJS.ProcessEnv;
  /** Holds every value resolved so far; providers redact what they put into error messages. */
  readonly redactor: Redactor;
  /** Resolves a nested reference (the Vault token, an MCP server's API key). */
  resolve(ref: string | SecretRef): Promise<Secret>;
}

export interface SecretProvider {
  readonly scheme: string;
  /** Returns the value, or throws (preferably a SecretError) naming the reference and the fix. */
  resolve(ref: SecretRef, ctx: ResolveContext): Promise<string>;
}

/** A reference that could not be resolved. The message names the reference, never the value. */
export class SecretError extends UserError {
  readonly ref: string;

  constructor(ref: string, problem: string, opts: { hint?: string; exitCode?: ExitCode } = {}) {
    super(`cannot resolve secret ${ref}: ${problem}`, {
      code: 'secret_unresolved',
      exitCode: opts.exitCode ?? EXIT.failed,
      ...(opts.hint !== undefined ? { hint: opts.hint } : {}),
    });
    this.name = 'SecretError';
    this.ref = ref;
  }
}

/**
 * Wraps the failure of a nested reference (a Vault token, a server credential) so the message
 * says what it was needed for, e.g. "cannot resolve secret vault:...: the Vault token (env:X)
 * cannot be resolved: environment variable X is not set".
 */
export async function resolveNested(
  ctx: ResolveContext,
  outer: string,
  what: string,
  nested: string,
): Promise<Secret> {
  try {
    return await ctx.resolve(nested);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const inner = err.message.replace(/^cannot resolve secret \S+: /, '');
    throw new SecretError(outer, `${what} (${nested}) cannot be resolved: ${inner}`, {
      ...(err.hint !== undefined ? { hint: err.hint } : {}),
      exitCode: err.exitCode,
    });
  }
}
