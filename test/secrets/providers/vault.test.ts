import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXIT } from '../../../src/domain/errors.ts';
import type { SecretsConfig } from '../../../src/secrets/secrets-config.ts';
import { Redactor } from '../../../src/secrets/redact.ts';
import { SecretError, SecretResolver } from '../../../src/secrets/resolver.ts';

const ROOT_TOKEN = 'hvs.root-token-for-tests';
const LIMITED_TOKEN = 'hvs.limited-token';
const PASSPHRASE = 'vault-held-passphrase-9f8e';

/** KV v2 data per mount: path -> fields. */
const kv: Record<string, Record<string, Record<string, unknown>>> = {
  secret: {
    'nightshift/backup': { passphrase: PASSPHRASE, port: 5432, nested: { a: 1 } },
    other: { x: 'y' },
  },
};

/** Which token may read which API paths (like a Vault policy). */
const policies: Record<string, (apiPath: string) => boolean> = {
  [ROOT_TOKEN]: () => true,
  [LIMITED_TOKEN]: (p) => p === 'secret/data/other',
};

let server: Server;
let address: string;
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const m = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(req.url ?? '');
    const token = req.headers['x-vault-token'];
    if (req.method !== 'GET' || !m) return send(404, { errors: [] });
    const [, mount = '', path = ''] = m;
    const apiPath = `${mount}/data/${path}`;
    if (typeof token !== 'string' || !policies[token]) return send(403, { errors: ['permission denied'] });
    if (!policies[token](apiPath))
      return send(403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
    if (mount === 'sealed') return send(503, { errors: ['Vault is sealed'] });
    const fields = kv[mount]?.[decodeURIComponent(path)];
    if (!fields) return send(404, { errors: [] });
    send(200, {
      request_id: '0b7a0c2e-6a4a-4c4c-9c53-6b0f1d3b7a11',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: {
        data: fields,
        metadata: {
          created_time: '2026-11-01T03:00:00.000000Z',
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: 3,
        },
      },
      wrap_info: null,
      warnings: null,
      auth: null,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function resolverWith(vault: Partial<NonNullable<SecretsConfig['vault']>>, env: NodeJS.ProcessEnv = {}) {
  return new SecretResolver(
    { vault: { address, token: 'env:VAULT_TOKEN', ...vault } },
    { env: { VAULT_TOKEN: ROOT_TOKEN, ...env }, redactor: new Redactor() },
  );
}

async function refusal(resolver: SecretResolver, ref: string): Promise<SecretError> {
  try {
    await resolver.resolve(ref);
  } catch (err) {
    assert.ok(err instanceof SecretError, String(err));
    return err;
  }
  assert.fail(`${ref} should have failed`);
}

describe('vault: secrets (KV v2)', () => {
  test('reads a field with the token from its own reference, sending the namespace when set', async () => {
    seen.length = 0;
    const r = resolverWith({ namespace: 'team-a', address: address + '/' });
    const s = await r.resolve('vault:secret/nightshift/backup#passphrase');
    assert.equal(s.reveal(), PASSPHRASE);
    assert.equal(String(s), '[secret vault:secret/nightshift/backup#passphrase]');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, '/v1/secret/data/nightshift/backup');
    assert.equal(seen[0]?.headers['x-vault-token'], ROOT_TOKEN);
    assert.equal(seen[0]?.headers['x-vault-namespace'], 'team-a');
    assert.equal((await r.resolve('vault:secret/nightshift/backup#port')).reveal(), '5432');
  });

  test('403: the token lacks a policy, said with the token reference and the path to grant', async () => {
    const err = await refusal(
      resolverWith({}, { VAULT_TOKEN: LIMITED_TOKEN }),
      'vault:secret/nightshift/backup#passphrase',
    );
    assert.match(err.message, /Vault refused the token for secret\/nightshift\/backup \(403 /);
    assert.match(err.hint ?? '', /token from env:VAULT_TOKEN .* "read" on secret\/data\/nightshift\/backup/);
    assert.equal(err.exitCode, EXIT.auth);
    assert.ok(!`${err.message} ${err.hint}`.includes(LIMITED_TOKEN));
  });

  test('404, a missing field and a non-string field are clear, listing field names but no values', async () => {
    const r = resolverWith({});
    const missing = await refusal(r, 'vault:secret/nightshift/nothing#passphrase');
    assert.match(missing.message, /Vault has no secret at secret\/nightshift\/nothing \(404\)/);
    assert.match(missing.hint ?? '', /vault kv get -mount=secret nightshift\/nothing/);
    assert.equal(missing.exitCode, EXIT.notFound);

    const field = await refusal(r, 'vault:secret/nightshift/backup#password');
    assert.match(field.message, /has no field "password"/);
    assert.equal(field.hint, 'its fields are: passphrase, port, nested');
    assert.ok(!`${field.message} ${field.hint}`.includes(PASSPHRASE));

    assert.match(
      (await refusal(r, 'vault:secret/nightshift/backup#nested')).message,
      /is not a string \(it is object\)/,
    );
  });

  test('unreachable, sealed, unconfigured and token-unresolvable cases each say what to fix', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadAddress = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await refusal(
      resolverWith({ address: deadAddress }),
      'vault:secret/nightshift/backup#passphrase',
    );
    assert.match(down.message, new RegExp(`cannot reach Vault at ${deadAddress} \\(ECONNREFUSED\\)`));
    assert.match(down.hint ?? '', /secrets\.vault\.address/);

    const sealed = await refusal(resolverWith({}), 'vault:sealed/x#y');
    assert.match(sealed.message, /Vault answered HTTP 503: Vault is sealed/);
    assert.match(sealed.hint ?? '', /unseal/);

    const none = new SecretResolver({}, { env: {}, redactor: new Redactor() });
    const unconfigured = await refusal(none, 'vault:secret/x#y');
    assert.match(unconfigured.message, /Vault is not configured/);
    assert.match(unconfigured.hint ?? '', /secrets\.vault = \{ address/);

    const noToken = new SecretResolver(
      { vault: { address, token: 'env:NO_SUCH_TOKEN' } },
      { env: {}, redactor: new Redactor() },
    );
    const tokenless = await refusal(noToken, 'vault:secret/other#x');
    assert.equal(
      tokenless.message,
      'cannot resolve secret vault:secret/other#x: the Vault token (env:NO_SUCH_TOKEN) cannot be resolved: environment variable NO_SUCH_TOKEN is not set',
    );
    assert.match(tokenless.hint ?? '', /set NO_SUCH_TOKEN/);
  });
});
