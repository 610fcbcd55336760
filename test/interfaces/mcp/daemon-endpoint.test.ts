import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../../src/app/app.ts';
import type { App } from '../../../src/app/app.ts';
import { createExecutors } from '../../../src/app/executors.ts';
import { initRepository } from '../../../src/backup/repository.ts';
import { createBackupExecutors } from '../../../src/backup-jobs/executors.ts';
import { buildProfile } from '../../../src/domain/backup-profile.ts';
import { SystemClock } from '../../../src/domain/clock.ts';
import { UserError } from '../../../src/domain/errors.ts';
import { Engine } from '../../../src/scheduler/engine.ts';
import { startMcpEndpoint } from '../../../src/interfaces/mcp/daemon-endpoint.ts';
import type { McpEndpoint, McpEndpointLogEvent } from '../../../src/interfaces/mcp/daemon-endpoint.ts';
import { BIN, DaemonProcess, tempHome } from '../cli/cli-harness.ts';

const READ_TOKEN = 'read-tok-' + 'r'.repeat(24);
const ADMIN_TOKEN = 'admin-tok-' + 'a'.repeat(24);
/** The repository passphrase: planted in an env var the profile references, and nowhere else. */
const CANARY = 'canary-passphrase-5e1d0c7b9a';
const AGE_IDENTITY = 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS7A3F6K';
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

async function connect(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'endpoint-test', version: '1' });
  await client.connect(transport);
  // As real clients do: listing caches the output schemas, so results are checked against them.
  await client.listTools();
  return client;
}

/** Every response seen, to look for leaked secrets in at the end. */
const seen: string[] = [];

async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  const r = (await c.callTool({ name, arguments: args }, undefined, { timeout: 180_000 })) as CallToolResult;
  seen.push(JSON.stringify(r));
  return r;
}

function ok(r: CallToolResult): Record<string, unknown> {
  assert.equal(r.isError, undefined, JSON.stringify(r.content));
  return r.structuredContent!;
}

describe('the daemon MCP endpoint (config mcp.http) and the backup tools', () => {
  let root: string;
  let app: App;
  let engine: Engine;
  let endpoint: McpEndpoint;
  let src: string;
  let admin: Client;
  let reader: Client;
  const events: McpEndpointLogEvent[] = [];
  const env = { ...process.env, NS_MCP_READ: READ_TOKEN, NS_MCP_ADMIN: ADMIN_TOKEN, NS_BACKUP_PASS: CANARY };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'ns-mcp-'));
    const home = join(root, 'home');
    mkdirSync(home, { recursive: true });
    const config = join(home, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcp: {
          http: {
            port: 0,
            clients: [
              { name: 'watcher', token: 'env:NS_MCP_READ', scope: 'read' },
              { name: 'ops', token: 'env:NS_MCP_ADMIN', scope: 'admin' },
            ],
          },
        },
      }),
    );
    chmodSync(config, 0o600);
    app = await openApp(home, env);

    src = join(root, 'src');
    mkdirSync(join(src, 'notes'), { recursive: true });
    for (let i = 0; i < 5; i++)
      writeFileSync(join(src, 'notes', `n${i}.md`), `note ${i}\n`.repeat(200 * (i + 1)));
    const past = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < 5; i++) utimesSync(join(src, 'notes', `n${i}.md`), past, past);
    const repoDir = join(root, 'repo');
    const { repo } = await initRepository(repoDir, { password: CANARY, scrypt: FAST_SCRYPT });
    await repo.close();
    await app.store.profiles.insert(
      buildProfile(
        {
          name: 'state',
          repository: repoDir,
          key: { kind: 'passphrase', ref: 'env:NS_BACKUP_PASS' },
          paths: [src],
        },
        Date.now(),
      ),
    );

    // What the daemon does: its engine runs every payload kind; the endpoint queues runs with it.
    const clock = new SystemClock();
    const executors = createExecutors({ app, clock });
    const kinds = new Set(executors.map((e) => e.kind));
    for (const e of createBackupExecutors({ app, clock })) if (!kinds.has(e.kind)) executors.push(e);
    engine = new Engine({ store: app.store, clock, executors, changePollMs: 0 });
    await engine.start();
    const started = await startMcpEndpoint(app, engine, (e) => events.push(e));
    assert.ok(started);
    endpoint = started;
    admin = await connect(endpoint.url, ADMIN_TOKEN);
    reader = await connect(endpoint.url, READ_TOKEN);
  });

  after(async () => {
    await admin?.close();
    await reader?.close();
    await endpoint?.close();
    await engine?.stop();
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('starts on loopback with both configured clients; each token gets its scope', async () => {
    assert.match(endpoint.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const started = events.find((e) => e.event === 'mcp.http.started');
    assert.deepEqual(started && 'clients' in started ? started.clients : null, [
      { name: 'watcher', scope: 'read' },
      { name: 'ops', scope: 'admin' },
    ]);
    assert.equal((ok(await call(reader, 'status')) as { scope: string }).scope, 'read');
    assert.equal((ok(await call(admin, 'status')) as { scope: string }).scope, 'admin');

    const denied = await call(reader, 'job_add', {
      name: 'not-allowed',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { command: 'true' },
    });
    assert.equal(denied.isError, true);
    assert.deepEqual(denied.structuredContent, {
      denied: true,
      tool: 'job_add',
      scope: 'read',
      required: 'admin',
    });

    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: 'Bearer wrong-token-0123456789abcdef',
      },
      body,
    });
    assert.equal(res.status, 401);
    assert.ok(events.some((e) => e.event === 'mcp.http.unauthorized'));
    const logged = JSON.stringify(events);
    for (const secret of [READ_TOKEN, ADMIN_TOKEN, 'wrong-token-0123456789abcdef'])
      assert.ok(!logged.includes(secret), 'no token in the log');
  });

  test(
    'backup_run through the daemon, then snapshots_list, backup_check and drill_run',
    { timeout: 240_000 },
    async () => {
      ok(
        await call(admin, 'job_add', {
          name: 'state-backup',
          schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' },
          payload: { kind: 'backup', profile: 'state' },
        }),
      );
      const shown = ok(await call(reader, 'job_show', { job: 'state-backup' }));
      assert.equal((shown.job as { payload: { kind: string } }).payload.kind, 'backup');
      assert.ok((shown.contract as string[]).length > 0);

      const ran = ok(await call(admin, 'backup_run', { profile: 'state', wait: true, timeoutSeconds: 200 }));
      assert.equal(ran.executedBy, 'daemon');
      assert.equal(ran.jobName, 'state-backup');
      const run = ran.run as { status: string; error: string | null; runId: string };
      assert.equal(run.status, 'ok', run.error ?? '');
      assert.equal(run.runId, ran.runId);

      const listed = ok(await call(reader, 'snapshots_list', { profile: 'state' }));
      assert.equal(listed.total, 1);
      const snap = (listed.snapshots as { paths: string[]; pathsHidden: boolean; tags: string[] }[])[0]!;
      assert.deepEqual(snap.paths, [src]);
      assert.equal(snap.pathsHidden, false);
      assert.ok(snap.tags.includes('profile:state'));

      const deniedCheck = await call(reader, 'backup_check', { profile: 'state' });
      assert.deepEqual(deniedCheck.structuredContent, {
        denied: true,
        tool: 'backup_check',
        scope: 'read',
        required: 'operate',
      });
      const checked = ok(await call(admin, 'backup_check', { profile: 'state', readDataSubset: '100%' }));
      assert.equal(checked.ok, true);
      assert.deepEqual(checked.errors, []);
      assert.ok((checked.counts as { packsRead: number }).packsRead > 0, 'data was read back');

      const drill = ok(await call(admin, 'drill_run', { profile: 'state', sampleFiles: 3 }));
      assert.equal(drill.ok, true);
      const d = drill.drill as { sampled: number; verified: number; failures: unknown[] };
      assert.equal(d.sampled, 3);
      assert.equal(d.verified, 3);
      assert.deepEqual(d.failures, []);

      const byJob = ok(await call(admin, 'backup_run', { job: 'state-backup' }));
      assert.equal(byJob.enqueued, true);
      assert.match(String(byJob.runId), /.+/);

      const notBackup = await call(admin, 'backup_run', { job: 'nope' });
      assert.equal((notBackup.structuredContent as { error: { code: string } }).error.code, 'not_found');
      const noJob = await call(admin, 'backup_run', { profile: 'missing-profile' });
      assert.match(
        (noJob.structuredContent as { error: { message: string } }).error.message,
        /no backup profile named/,
      );
    },
  );

  test(
    'canary: every tool answers without the passphrase or a token; secret arguments are refused',
    { timeout: 240_000 },
    async () => {
      // Every tool, with arguments that work.
      const runs = ok(await call(reader, 'runs_list', { job: 'state-backup' }));
      const runId = (runs.entries as { runId: string }[])[0]!.runId;
      ok(await call(reader, 'jobs_list', { all: true }));
      ok(await call(reader, 'job_show', { job: 'state-backup' }));
      ok(await call(reader, 'run_get', { runId }));
      ok(await call(reader, 'status'));
      ok(await call(reader, 'snapshots_list', { profile: 'state' }));
      ok(
        await call(admin, 'job_add', {
          name: 'echo',
          schedule: { kind: 'every', everyMs: '1d' },
          payload: { command: 'echo hi' },
        }),
      );
      ok(await call(admin, 'job_edit', { job: 'echo', description: 'says hi' }));
      ok(await call(admin, 'job_run', { job: 'echo', wait: true, timeoutSeconds: 60 }));
      ok(await call(admin, 'backup_run', { job: 'state-backup', wait: true, timeoutSeconds: 200 }));
      ok(await call(admin, 'backup_check', { profile: 'state', readDataSubset: '50%' }));
      ok(await call(admin, 'drill_run', { profile: 'state', samplePercent: 100 }));
      ok(await call(admin, 'job_remove', { job: 'echo' }));

      // Secrets offered as arguments: refused by name or by shape, never echoed.
      const byName = await call(admin, 'backup_check', { profile: 'state', passphrase: CANARY });
      assert.equal(byName.isError, true);
      const err = (byName.structuredContent as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'secret_refused');
      assert.match(err.message, /^passphrase: secret values are not accepted/);
      const byValue = await call(admin, 'job_add', {
        name: 'smuggle',
        schedule: { kind: 'every', everyMs: '1h' },
        payload: { command: 'true', env: { AGE_KEY: AGE_IDENTITY } },
      });
      assert.equal((byValue.structuredContent as { error: { code: string } }).error.code, 'secret_refused');
      assert.match(
        (byValue.structuredContent as { error: { message: string } }).error.message,
        /^payload\.env\.AGE_KEY:/,
      );
      const identity = await call(admin, 'drill_run', { profile: 'state', identity: 'file:/tmp/id.txt' });
      assert.equal((identity.structuredContent as { error: { code: string } }).error.code, 'secret_refused');
      assert.equal(await app.store.findJob('smuggle'), undefined);

      const refusals = events
        .filter((e) => e.event === 'mcp.secret_refused')
        .map((e) => 'field' in e && e.field);
      assert.deepEqual(refusals, ['passphrase', 'payload.env.AGE_KEY', 'identity']);

      const all = seen.join('\n') + JSON.stringify(events);
      for (const secret of [CANARY, READ_TOKEN, ADMIN_TOKEN, AGE_IDENTITY])
        assert.ok(!all.includes(secret), `a response or log line holds a secret (${secret.slice(0, 6)}…)`);
    },
  );

  test(
    'the same tools over stdio (nightshift mcp): no passphrase in any answer',
    { timeout: 180_000 },
    async () => {
      const childEnv: Record<string, string> = {};
      for (const [k, v] of Object.entries(env))
        if (v !== undefined && !['NIGHTSHIFT_HOME', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT'].includes(k))
          childEnv[k] = v;
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [BIN, '--home', app.home.dir, 'mcp', '--scope', 'operate'],
        env: childEnv,
        stderr: 'pipe',
      });
      let stderr = '';
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const client = new Client({ name: 'stdio-canary', version: '1' });
      await client.connect(transport);
      try {
        await client.listTools();
        const answers: string[] = [];
        const c = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
          const r = (await client.callTool({ name, arguments: args }, undefined, {
            timeout: 150_000,
          })) as CallToolResult;
          answers.push(JSON.stringify(r));
          return r;
        };
        assert.ok((ok(await c('snapshots_list', { profile: 'state' })).total as number) >= 2);
        assert.equal(ok(await c('backup_check', { profile: 'state' })).ok, true);
        assert.equal(ok(await c('drill_run', { profile: 'state', sampleFiles: 2 })).ok, true);
        const refused = await c('snapshots_list', { profile: 'state', password: CANARY });
        assert.equal((refused.structuredContent as { error: { code: string } }).error.code, 'secret_refused');
        for (const a of answers) assert.ok(!a.includes(CANARY), 'no passphrase in a stdio answer');
      } finally {
        await client.close();
      }
      assert.match(stderr, /"event":"mcp.secret_refused","tool":"snapshots_list","field":"password"/);
      assert.ok(!stderr.includes(CANARY), 'no passphrase on stderr');
    },
  );

  test('a token reference that does not resolve stops the endpoint from starting, naming the client', async () => {
    const broken = await openApp(app.home.dir, { ...env, NS_MCP_ADMIN: undefined });
    try {
      await assert.rejects(
        startMcpEndpoint(broken, undefined, () => {}),
        (e: unknown) => e instanceof UserError && /mcp\.http\.clients\[1\] \(ops\)\.token: /.test(e.message),
      );
    } finally {
      await broken.close();
    }
  });
});

test(
  'nightshift daemon serves the configured endpoint; runs asked for over it are run by the daemon',
  { timeout: 120_000 },
  async () => {
    const h = tempHome();
    mkdirSync(h.home, { recursive: true });
    const tokenFile = join(h.work, 'operate-token');
    writeFileSync(tokenFile, ADMIN_TOKEN + '\n', { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    const config = join(h.home, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcp: { http: { port: 0, clients: [{ name: 'agent', token: `file:${tokenFile}`, scope: 'admin' }] } },
      }),
    );
    chmodSync(config, 0o600);
    const daemon = new DaemonProcess(h.home);
    try {
      const started = await daemon.waitFor((e) => e.event === 'mcp.http.started', 'the MCP endpoint', 60_000);
      assert.deepEqual(started.clients, [{ name: 'agent', scope: 'admin' }]);
      const client = await connect(String(started.url), ADMIN_TOKEN);
      try {
        ok(
          await call(client, 'job_add', {
            name: 'via-daemon',
            schedule: { kind: 'cron', expr: '0 0 1 1 *', tz: 'UTC' },
            payload: { command: 'echo served by the daemon' },
          }),
        );
        const r = ok(await call(client, 'job_run', { job: 'via-daemon', wait: true, timeoutSeconds: 90 }));
        assert.equal(r.executedBy, 'daemon');
        const run = r.run as { status: string; outputTail: string };
        assert.equal(run.status, 'ok');
        assert.match(run.outputTail, /served by the daemon/);
      } finally {
        await client.close();
      }
      assert.ok(!JSON.stringify(daemon.events).includes(ADMIN_TOKEN), 'the daemon log holds no token');
      daemon.kill('SIGTERM');
      await daemon.exit();
    } finally {
      await daemon.dispose();
      h.cleanup();
    }
  },
);
