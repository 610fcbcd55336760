/**
 * The one port for secrets: `resolve(ref)` turns a reference into a Secret by asking the provider
 * for its scheme, and registers the value with a Redactor so it cannot leak into any output.
 * Errors name the reference and what to fix, never the value.
 */
import { EXIT, UserError } from '../domain/errors.ts';
import { SecretError } from './provider.ts';
import type { ResolveContext, SecretProvider } from './provider.ts';
import type { SecretsConfig } from './secrets-config.ts';
import { defaultRedactor } from './redact.ts';
import type { Redactor } from './redact.ts';
import { Secret } from './secret.ts';
import { parseSecretRef } from './secret-ref.ts';
import type { SecretRef } from './secret-ref.ts';
import { envProvider } from './providers/env.ts';
import { fileProvider } from './providers/file.ts';
import { cmdProvider } from './providers/cmd.ts';
import { vaultProvider } from './providers/vault.ts';
import { mcpProvider } from './providers/mcp.ts';

export { SecretError } from './provider.ts';
export type { ResolveContext, SecretProvider } from './provider.ts';

export interface SecretResolverOptions {
  /** Defaults to the process-wide `defaultRedactor`. */
  redactor?: Redactor;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Extra providers, or replacements for built-in schemes. */
  providers?: SecretProvider[];
}

/** Nested references deeper than this are a loop (a Vault token fetched from Vault...). */
const MAX_DEPTH = 4;

export class SecretResolver {
  private readonly providers = new Map<string, SecretProvider>();
  private readonly redactor: Redactor;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly config: SecretsConfig = {},
    opts: SecretResolverOptions = {},
  ) {
    this.redactor = opts.redactor ?? defaultRedactor;
    this.env = opts.env ?? process.env;
    for (const p of [
      envProvider,
      fileProvider,
      cmdProvider,
      vaultProvider,
      mcpProvider,
      ...(opts.providers ?? []),
    ])
      this.providers.set(p.scheme, p);
  }

  /** Resolves a reference to a Secret; throws a SecretError (a UserError) when it cannot. */
  resolve(ref: string | SecretRef): Promise<Secret> {
    return this.resolveIn(ref, []);
  }

  private async resolveIn(input: string | SecretRef, chain: readonly string[]): Promise<Secret> {
    const ref = typeof input === 'string' ? parseSecretRef(input) : input;
    if (chain.includes(ref.text) || chain.length >= MAX_DEPTH)
      throw new SecretError(
        ref.text,
        `references loop back on themselves (${[...chain, ref.text].join(' -> ')})`,
        {
          hint: 'make the Vault token or server credential a reference to env:, file: or cmd:',
          exitCode: EXIT.usage,
        },
      );
    const provider = this.providers.get(ref.scheme);
    if (!provider)
      throw new SecretError(ref.text, `no provider for ${ref.scheme}: references`, { exitCode: EXIT.usage });
    const ctx: ResolveContext = {
      config: this.config,
      env: this.env,
      redactor: this.redactor,
      resolve: (nested) => this.resolveIn(nested, [...chain, ref.text]),
    };
    let value: string;
    try {
      value = await provider.resolve(ref, ctx);
    } catch (err) {
      throw this.cleanError(ref.text, err);
    }
    if (typeof value !== 'string' || value.length === 0)
      throw new SecretError(ref.text, 'the provider returned an empty value', {
        hint: 'check that the secret is set where the reference points',
      });
    this.redactor.add(value);
    return new Secret(ref.text, value);
  }

  /** Every error leaving the resolver is a UserError whose text went through the redactor. */
  private cleanError(ref: string, err: unknown): UserError {
    if (err instanceof SecretError) {
      const clean = new SecretError(err.ref, '', {
        exitCode: err.exitCode,
        ...(err.hint !== undefined ? { hint: this.redactor.redact(err.hint) } : {}),
      });
      clean.message = this.redactor.redact(err.message);
      return clean;
    }
    if (err instanceof UserError)
      return new UserError(this.redactor.redact(err.message), {
        code: err.code,
        exitCode: err.exitCode,
        ...(err.hint !== undefined ? { hint: this.redactor.redact(err.hint) } : {}),
      });
    const message = err instanceof Error ? err.message : String(err);
    return new SecretError(ref, this.redactor.redact(message));
  }
}
