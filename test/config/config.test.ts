import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/config.ts';
import { UserError } from '../../src/domain/errors.ts';

const dirs: string[] = [];
function home(): string {
  const d = mkdtempSync(join(tmpdir(), 'ns-config-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function refused(fn: () => unknown, message: RegExp, hint?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, message);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

describe('configuration', () => {
  test('no file is an empty configuration', () => {
    const c = loadConfig(home(), {});
    assert.deepEqual(c.channels, []);
    assert.deepEqual(c.alerts, { channels: [] });
    assert.deepEqual(c.agents, {});
    assert.equal(c.mcp.http, undefined);
  });

  test('a full file is read with defaults filled in', () => {
    const h = home();
    writeFileSync(
      join(h, 'config.json'),
      JSON.stringify({
        channels: { ops: { kind: 'ntfy', topic: 'ns-ops' } },
        alerts: { channels: ['ops'] },
        agents: { default: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3', heartbeatEvery: '10m' } },
        mcp: { http: { port: 0, clients: [{ name: 'a', token: 'env:TOKEN_A', scope: 'read' }] } },
      }),
      { mode: 0o600 },
    );
    const c = loadConfig(h, {});
    assert.equal(c.channels[0]?.name, 'ops');
    assert.equal(c.agents.default?.heartbeatEveryMs, 600_000);
    assert.deepEqual(c.agents.default?.fallbacks, []);
    assert.equal(c.mcp.http?.host, '127.0.0.1');
    assert.equal(c.file, join(h, 'config.json'));
  });

  test('bad input names the file, the field and the fix', () => {
    refused(
      () => parseConfig({ alerts: { channels: ['nowhere'] } }, '/x/config.json'),
      /^invalid \/x\/config.json: alerts.channels\[0\]: no channel named "nowhere"/,
      /add it under "channels"/,
    );
    refused(
      () =>
        parseConfig({
          mcp: { http: { port: 1, clients: [{ name: 'a', token: 'hunter2-literal', scope: 'read' }] } },
        }),
      /mcp.http.clients.0.token: must be a secret reference/,
    );
    refused(
      () => parseConfig({ agents: { default: { baseUrl: 'http://x', model: 'm', heartbeatEvery: 'soon' } } }),
      /"soon" is not a duration/,
    );
    refused(() => parseConfig({ chanels: {} }), /Unrecognized key/);
  });

  test('a file others can write is refused, and malformed JSON is named', () => {
    const h = home();
    const file = join(h, 'config.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o666);
    refused(() => loadConfig(h, {}), /is writable by others/, /chmod 600/);
    chmodSync(file, 0o600);
    writeFileSync(file, '{ "channels": ');
    refused(() => loadConfig(h, {}), /cannot read the configuration .*config.json/);
  });
});
