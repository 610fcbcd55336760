/**
 * `vault:<mount>/<path>#<field>`: one field of a HashiCorp Vault KV version 2 secret, read with
 * `GET {address}/v1/{mount}/data/{path}` and the `X-Vault-Token` header. The token is itself a
 * secret reference (`secrets.vault.token`), resolved through the same resolver.
 */
import { EXIT } from '../../domain/errors.ts';
import { DEFAULT_VAULT_TIMEOUT_MS } from '../secrets-config.ts';
import { resolveNested, SecretError } from '../provider.ts';
import type { ResolveContext, SecretProvider } from '../provider.ts';
import type { SecretRef, VaultRef } from '../secret-ref.ts';

export const vaultProvider: SecretProvider = {
  scheme: 'vault',
  async resolve(ref: SecretRef, ctx: ResolveContext): Promise<string> {
    if (ref.scheme !== 'vault') throw new Error(`vault provider got a ${ref.scheme}: reference`);
    const cfg = ctx.config.vault;
    if (!cfg)
      throw new SecretError(ref.text, 'Vault is not configured', {
        hint: 'set secrets.vault = { address: "https://vault:8200", token: "file:~/.vault-token" } (see docs/secrets.md)',
        exitCode: EXIT.usage,
      });
    const token = await resolveNested(ctx, ref.text, 'the Vault token', cfg.token);
    const address = cfg.address.replace(/\/+$/, '');
    const apiPath = `${encodeURIComponent(ref.mount)}/data/${ref.path.split('/').map(encodeURIComponent).join('/')}`;
    const url = `${address}/v1/${apiPath}`;
    const timeoutMs = cfg.timeoutMs ?? DEFAULT_VAULT_TIMEOUT_MS;
    const headers: Record<string, string> = { 'X-Vault-Token': token.reveal(), Accept: 'application/json' };
    if (cfg.namespace) headers['X-Vault-Namespace'] = cfg.namespace;

    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new SecretError(ref.text, `cannot reach Vault at ${address} (${why})`, {
        hint: 'check secrets.vault.address and that Vault is up: curl -s $ADDRESS/v1/sys/health',
      });
    }
    const body = await readJson(res);
    const vaultErrors = errorsOf(body);
    const where = `${ref.mount}/${ref.path}`;
    if (res.status === 403)
      throw new SecretError(
        ref.text,
        `Vault refused the token for ${where} (403 ${vaultErrors || 'permission denied'})`,
        {
          hint: `check that the token from ${cfg.token} is valid and that its policy grants "read" on ${ref.mount}/data/${ref.path}`,
          exitCode: EXIT.auth,
        },
      );
    if (res.status === 404)
      throw new SecretError(ref.text, `Vault has no secret at ${where} (404)`, {
        hint: `check the mount and path: vault kv get -mount=${ref.mount} ${ref.path}`,
        exitCode: EXIT.notFound,
      });
    if (!res.ok)
      throw new SecretError(
        ref.text,
        `Vault answered HTTP ${res.status}${vaultErrors ? `: ${vaultErrors}` : ''}`,
        {
          hint:
            res.status === 503
              ? 'Vault is sealed or in standby: unseal it or point at the active node'
              : undefined,
        },
      );
    return pickField(ref, body);
  },
};

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

function errorsOf(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.filter((e) => typeof e === 'string').join('; ') : '';
}

function pickField(ref: VaultRef, body: unknown): string {
  const data = (body as { data?: { data?: unknown } } | undefined)?.data?.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new SecretError(ref.text, `Vault's answer for ${ref.mount}/${ref.path} has no data.data object`, {
      hint: `is ${ref.mount} a KV version 2 mount? (vault secrets list -detailed); a deleted version also reads empty`,
    });
  const fields = data as Record<string, unknown>;
  if (!(ref.field in fields)) {
    const names = Object.keys(fields);
    throw new SecretError(ref.text, `the secret ${ref.mount}/${ref.path} has no field "${ref.field}"`, {
      hint: names.length > 0 ? `its fields are: ${names.join(', ')}` : 'the secret has no fields',
      exitCode: EXIT.notFound,
    });
  }
  const value = fields[ref.field];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SecretError(
    ref.text,
    `the field "${ref.field}" is not a string (it is ${value === null ? 'null' : typeof value})`,
    {
      hint: 'point the reference at a field holding a string',
    },
  );
}
