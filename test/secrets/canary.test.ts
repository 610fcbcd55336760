import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SecretsConfig } from '../../src/secrets/secrets-config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DRIVER = fileURLToPath(new URL('./fixtures/canary-driver.ts', import.meta.url));
const KEY_SERVER = fileURLToPath(new URL('./fixtures/key-server.mjs', import.meta.url));
const CANARY = `CANARY-${randomBytes(12).toString('hex')}`;
const VAULT_TOKEN = `hvs.${randomBytes(8).toString('hex')}`;

const dir = mkdtempSync(join(tmpdir(), 'ns-'));
let vault: Server;

before(async () => {
  vault = createServer((req, res) => {
    const ok = req.headers['x-vault-token'] === VAULT_TOKEN && req.url === '/v1/secret/data/app';
    res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        ok
          ? {
              data: {
                data: { passphrase: CANARY },
                metadata: { version: 1, destroyed: false, deletion_time: '' },
              },
            }
          : { errors: ['permission denied'] },
      ),
    );
  });
  await new Promise<void>((resolve) => vault.listen(0, '127.0.0.1', resolve));
});
after(() => {
  vault.closeAllConnections();
  vault.close();
  rmSync(dir, { recursive: true, force: true });
});

function snapshotProcessArgs(): Promise<string> {
  return new Promise((resolve) => execFile('ps', ['-eww', '-o', 'args='], (_err, stdout) => resolve(stdout)));
}

test(
  'a canary resolved through every provider never shows up in printed output, errors or the process list',
  { timeout: 180_000 },
  async () => {
    const keyFile = join(dir, 'backup.key');
    writeFileSync(keyFile, CANARY + '\n');
    chmodSync(keyFile, 0o600);
    const tokenFile = join(dir, 'vault-token');
    writeFileSync(tokenFile, VAULT_TOKEN);
    chmodSync(tokenFile, 0o600);
    const openFile = join(dir, 'open.key');
    writeFileSync(openFile, CANARY);
    chmodSync(openFile, 0o644);

    const config: SecretsConfig = {
      vault: {
        address: `http://127.0.0.1:${(vault.address() as AddressInfo).port}`,
        token: `file:${tokenFile}`,
      },
      mcpServers: {
        keys: {
          command: process.execPath,
          args: [KEY_SERVER],
          env: { KEY_SERVER_SECRET: { secret: 'env:CANARY_ENV' } },
          timeoutMs: 60_000,
        },
      },
    };
    const refs = [
      'env:CANARY_ENV',
      `file:${keyFile}`,
      'cmd:printf "%s" "$CANARY_ENV"',
      `cmd:["cat","${keyFile}"]`,
      'vault:secret/app#passphrase',
      'mcp:keys/get_secret',
    ];
    const failing = [
      'cmd:printf "auth failed for %s" "$CANARY_ENV" >&2; exit 1',
      'mcp:keys/refuse',
      'mcp:keys/crash',
      'vault:secret/app#missing_field',
      `file:${openFile}`,
      'env:UNSET_VARIABLE',
      CANARY,
    ];
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ config, refs, failing }));

    const child = spawn(process.execPath, ['--import', 'tsx', DRIVER, configPath], {
      cwd: ROOT,
      env: { ...process.env, CANARY_ENV: CANARY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

    // Watch the process list while commands and servers run.
    const snapshots: string[] = [];
    let running = true;
    const watcher = (async () => {
      while (running) {
        snapshots.push(await snapshotProcessArgs());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const code = await exited;
    running = false;
    await watcher;

    assert.equal(code, 0, stderr);
    // The canary really was resolved everywhere and the failures really happened...
    const digest = createHash('sha256').update(CANARY).digest('hex');
    for (const ref of refs)
      assert.ok(stdout.includes(`resolved ${ref} sha256=${digest}`), `${ref} resolved:\n${stdout}`);
    assert.match(stdout, /job says: \[REDACTED\]/);
    assert.match(stderr, /\[log\] env:CANARY_ENV -> \[REDACTED\] \(b64 \[REDACTED\]\)/);
    assert.match(stderr, /exited with status 1: auth failed for \[REDACTED\]/);
    assert.match(stderr, /reported an error: vault gateway said no \(token \[REDACTED\]\)/);
    assert.match(stderr, /server stderr: fatal: lost connection to vault while holding \[REDACTED\]/);
    assert.match(stderr, /has no field "missing_field"/);
    assert.match(stderr, /has mode 0644/);
    assert.match(stderr, /not a secret reference/);
    assert.match(stdout, /secret: \[secret env:CANARY_ENV\]/);
    assert.ok(snapshots.length > 0);
    // ...and it is nowhere in what was printed or in any process's arguments.
    const b64 = Buffer.from(CANARY).toString('base64').replace(/=+$/, '');
    for (const [name, text] of [
      ['stdout', stdout],
      ['stderr', stderr],
      ['process list', snapshots.join('\n')],
    ] as const) {
      assert.ok(!text.includes(CANARY), `canary found in ${name}`);
      assert.ok(!text.includes(b64), `base64 canary found in ${name}`);
      assert.ok(!text.includes(VAULT_TOKEN), `vault token found in ${name}`);
    }
  },
);
