import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../../src/domain/errors.ts';
import type { McpServerConfig } from '../../../src/secrets/secrets-config.ts';
import { Redactor } from '../../../src/secrets/redact.ts';
import { SecretError, SecretResolver } from '../../../src/secrets/resolver.ts';
import { startHttpServer } from '../fixtures/key-server.mjs';

const SERVER_SCRIPT = fileURLToPath(new URL('../fixtures/key-server.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const KEY = 'key-from-the-vault-gateway-7c1d';
const BEARER = 'mcp-http-bearer-token-55aa';

/** Starting a server process takes a while on a loaded machine. */
const TIMEOUT_MS = 60_000;

function stdioServer(): McpServerConfig {
  return {
    command: process.execPath,
    args: [SERVER_SCRIPT],
    cwd: ROOT,
    env: { KEY_SERVER_SECRET: { secret: 'env:KEY' }, KEY_SERVER_SECRET_ARCHIVE: 'archive-key-0001' },
    timeoutMs: TIMEOUT_MS,
  };
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

describe('mcp: secrets over stdio', { timeout: 4 * TIMEOUT_MS }, () => {
  const resolver = new SecretResolver(
    { mcpServers: { 'secure-backup': stdioServer() } },
    { env: { KEY }, redactor: new Redactor() },
  );

  test('calls the tool on a real server process and takes its text content, trimmed', async () => {
    const s = await resolver.resolve('mcp:secure-backup/get_secret');
    assert.equal(s.reveal(), KEY);
    assert.equal(String(s), '[secret mcp:secure-backup/get_secret]');
    assert.equal(
      (await resolver.resolve('mcp:secure-backup/get_secret?name=archive')).reveal(),
      'archive-key-0001',
    );
  });

  test('tool errors, empty results, unknown tools and crashes are clear and redacted', async () => {
    const refused = await refusal(resolver, 'mcp:secure-backup/refuse');
    assert.match(
      refused.message,
      /tool "refuse" on MCP server "secure-backup" reported an error: vault gateway said no \(token \[REDACTED\]\)/,
    );
    assert.ok(!refused.message.includes(KEY));

    assert.match((await refusal(resolver, 'mcp:secure-backup/empty')).message, /returned no text content/);
    assert.match(
      (await refusal(resolver, 'mcp:secure-backup/get_secret?name=nope')).message,
      /reported an error: no secret named nope/,
    );
    const unknown = await refusal(resolver, 'mcp:secure-backup/no_such_tool');
    assert.match(unknown.message, /no_such_tool/);

    const crash = await refusal(resolver, 'mcp:secure-backup/crash');
    assert.match(crash.message, /calling tool "crash" on MCP server "secure-backup" failed/);
    assert.ok(!crash.message.includes(KEY), crash.message);
  });

  test('an unknown server name or a server that cannot start is a clear error', async () => {
    const unknown = await refusal(resolver, 'mcp:other/get_secret');
    assert.match(unknown.message, /no MCP server named "other" is configured/);
    assert.equal(unknown.hint, 'configured servers: secure-backup');
    assert.equal(unknown.exitCode, EXIT.usage);

    const broken = new SecretResolver(
      { mcpServers: { gone: { command: '/nonexistent/mcp-server', timeoutMs: TIMEOUT_MS } } },
      { env: {}, redactor: new Redactor() },
    );
    assert.match(
      (await refusal(broken, 'mcp:gone/get_secret')).message,
      /cannot connect to MCP server "gone"/,
    );
  });
});

describe('mcp: secrets over streamable HTTP', { timeout: 2 * TIMEOUT_MS }, () => {
  let http: Awaited<ReturnType<typeof startHttpServer>>;
  let server: Server;
  before(async () => {
    http = await startHttpServer({ KEY_SERVER_SECRET: KEY }, BEARER);
    server = http.server;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('sends the bearer header from its own reference and returns the tool text', async () => {
    const resolver = new SecretResolver(
      {
        mcpServers: {
          keys: { url: http.url, headers: { Authorization: { secret: 'env:MCP_TOKEN', prefix: 'Bearer ' } } },
        },
      },
      { env: { MCP_TOKEN: BEARER }, redactor: new Redactor() },
    );
    assert.equal((await resolver.resolve('mcp:keys/get_secret')).reveal(), KEY);
    assert.ok(http.requests.length > 0);
    assert.ok(http.requests.every((r) => r.authorization === `Bearer ${BEARER}`));
  });

  test('a wrong credential or unreachable URL fails without showing the credential', async () => {
    const redactor = new Redactor();
    const resolver = new SecretResolver(
      {
        mcpServers: {
          keys: { url: http.url, headers: { Authorization: { secret: 'env:MCP_TOKEN', prefix: 'Bearer ' } } },
        },
      },
      { env: { MCP_TOKEN: 'wrong-bearer-token-1' }, redactor },
    );
    const err = await refusal(resolver, 'mcp:keys/get_secret');
    assert.match(err.message, /cannot connect to MCP server "keys": HTTP 401/);
    assert.ok(!err.message.includes('wrong-bearer-token-1'));

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/mcp`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = new SecretResolver({ mcpServers: { keys: { url: deadUrl } } }, { env: {}, redactor });
    assert.match(
      (await refusal(down, 'mcp:keys/get_secret')).message,
      /cannot connect to MCP server "keys": .*ECONNREFUSED/,
    );

    const missingCred = new SecretResolver(
      { mcpServers: { keys: { url: http.url, headers: { Authorization: { secret: 'env:MCP_TOKEN' } } } } },
      { env: {}, redactor },
    );
    assert.equal(
      (await refusal(missingCred, 'mcp:keys/get_secret')).message,
      'cannot resolve secret mcp:keys/get_secret: MCP server "keys" header Authorization (env:MCP_TOKEN) cannot be resolved: environment variable MCP_TOKEN is not set',
    );
  });
});
