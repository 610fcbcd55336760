import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/domain/errors.ts';
import { parseSecretsConfig } from '../../src/secrets/secrets-config.ts';

function refusal(raw: unknown): UserError {
  try {
    parseSecretsConfig(raw);
  } catch (err) {
    assert.ok(err instanceof UserError);
    return err;
  }
  assert.fail('expected the configuration to be refused');
}

describe('parseSecretsConfig', () => {
  test('accepts Vault and both kinds of MCP server, with credentials as references', () => {
    const raw = {
      vault: { address: 'https://vault.internal:8200', token: 'file:~/.vault-token', namespace: 'ops' },
      mcpServers: {
        'secure-backup': {
          command: 'node',
          args: ['/opt/key-server.js'],
          env: { VAULT_TOKEN: { secret: 'env:GATEWAY_TOKEN' }, LOG_LEVEL: 'info' },
        },
        keys: {
          url: 'https://keys.internal/mcp',
          headers: { Authorization: { secret: 'env:KEYS', prefix: 'Bearer ' } },
        },
      },
      cmd: { timeoutMs: 20_000 },
    };
    assert.deepEqual(parseSecretsConfig(raw), raw);
    assert.deepEqual(parseSecretsConfig(undefined), {});
  });

  test('refuses a literal Vault token and names the field', () => {
    const err = refusal({ vault: { address: 'https://v:8200', token: 'hvs.CAESIJ-literal-token' } });
    assert.match(err.message, /vault\.token: must be a secret reference/);
    assert.ok(!err.message.includes('hvs.CAESIJ'));
  });

  test('refuses literal credentials in MCP headers and env, without showing them', () => {
    const header = refusal({
      mcpServers: { keys: { url: 'https://k/mcp', headers: { Authorization: 'Bearer abc123xyz' } } },
    });
    assert.match(header.message, /mcpServers\.keys\.headers\.Authorization holds a literal value/);
    assert.match(header.hint ?? '', /"secret": "env:MY_TOKEN", "prefix": "Bearer "/);
    assert.ok(!header.message.includes('abc123xyz'));
    const env = refusal({ mcpServers: { s: { command: 'x', env: { OPENAI_API_KEY: 'sk-live-123' } } } });
    assert.match(env.message, /mcpServers\.s\.env\.OPENAI_API_KEY holds a literal value/);
  });

  test('refuses unknown fields, bad URLs and bad timeouts with the path to the problem', () => {
    assert.match(
      refusal({ vault: { address: 'vault:8200', token: 'env:T' } }).message,
      /vault\.address: must be an http\(s\) URL/,
    );
    assert.match(refusal({ valut: {} }).message, /invalid secrets configuration/);
    assert.match(refusal({ cmd: { timeoutMs: -1 } }).message, /cmd\.timeoutMs/);
    assert.match(refusal({ mcpServers: { 'bad name': { command: 'x' } } }).message, /mcpServers/);
  });
});
