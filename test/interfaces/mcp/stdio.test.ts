import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { alive, BIN, cli, cliJson, eventually, tempHome } from '../cli/cli-harness.ts';
import type { TempHome } from '../cli/cli-harness.ts';

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !['NIGHTSHIFT_HOME', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT'].includes(k)) env[k] = v;
  }
  return env;
}

async function spawnMcp(
  home: string,
  scope: string,
): Promise<{ client: Client; stderr: () => string; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, '--home', home, 'mcp', '--scope', scope],
    env: childEnv(),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'stdio-test', version: '1' });
  // Anything but protocol messages on stdout would break the session here.
  client.onerror = (err) => assert.fail(`protocol error: ${err.message}`);
  await client.connect(transport);
  return { client, stderr: () => stderr, pid: transport.pid! };
}

describe('nightshift mcp over stdio', () => {
  let h: TempHome;
  before(() => {
    h = tempHome();
  });
  after(() => h.cleanup());

  test(
    'an admin client adds a job and runs it; a read client is denied running it',
    { timeout: 120_000 },
    async () => {
      const admin = await spawnMcp(h.home, 'admin');
      try {
        const { tools } = await admin.client.listTools();
        assert.ok(tools.some((t) => t.name === 'job_run'));
        const added = (await admin.client.callTool({
          name: 'job_add',
          arguments: {
            name: 'stdio-job',
            schedule: { kind: 'cron', expr: '30 4 * * *', tz: 'UTC' },
            payload: { argv: ['sh', '-c', 'echo via-stdio'] },
          },
        })) as CallToolResult;
        assert.equal(added.isError, undefined);
        const ran = (await admin.client.callTool({
          name: 'job_run',
          arguments: { job: 'stdio-job', wait: true, timeoutSeconds: 90 },
        })) as CallToolResult;
        const r = ran.structuredContent as { run: { status: string; outputTail: string } };
        assert.equal(r.run.status, 'ok');
        assert.match(r.run.outputTail, /via-stdio/);
      } finally {
        await admin.client.close();
      }
      assert.match(admin.stderr(), /"event":"mcp.started","scope":"admin"/);

      const reader = await spawnMcp(h.home, 'read');
      try {
        const denied = (await reader.client.callTool({
          name: 'job_run',
          arguments: { job: 'stdio-job' },
        })) as CallToolResult;
        assert.equal(denied.isError, true);
        assert.deepEqual(denied.structuredContent, {
          denied: true,
          tool: 'job_run',
          scope: 'read',
          required: 'operate',
        });
        const listed = (await reader.client.callTool({ name: 'jobs_list', arguments: {} })) as CallToolResult;
        const jobs = (listed.structuredContent as { jobs: { name: string }[] }).jobs;
        assert.deepEqual(
          jobs.map((j) => j.name),
          ['stdio-job'],
        );
      } finally {
        await reader.client.close();
      }
      assert.match(
        reader.stderr(),
        /"event":"mcp.denied","tool":"job_run","scope":"read","required":"operate"/,
      );
    },
  );

  test(
    'SIGTERM ends a run the server is executing, records it, and exits',
    { timeout: 120_000 },
    async () => {
      const mcp = await spawnMcp(h.home, 'operate');
      await cli(h.home, ['cron', 'add', '--name', 'long', '--every', '1h', '--command', 'sleep 120']);
      const r = (await mcp.client.callTool({
        name: 'job_run',
        arguments: { job: 'long' },
      })) as CallToolResult;
      const runId = (r.structuredContent as { runId: string }).runId;
      await eventually(async () => {
        const { json: page } = await cliJson<{ entries: { runId: string; status: string }[] }>(h.home, [
          'cron',
          'runs',
          '--id',
          'long',
        ]);
        return page.entries.find((e) => e.runId === runId && e.status === 'running');
      }, 'the run to start');
      process.kill(mcp.pid, 'SIGTERM');
      await eventually(() => (alive(mcp.pid) ? undefined : true), 'the server to exit', 60_000);
      const { json: page } = await cliJson<{ entries: { runId: string; status: string }[] }>(h.home, [
        'cron',
        'runs',
        '--id',
        'long',
      ]);
      const run = page.entries.find((e) => e.runId === runId);
      assert.ok(
        run && run.status !== 'running' && run.status !== 'queued',
        `run ended: ${JSON.stringify(run)}`,
      );
      await mcp.client.close();
    },
  );

  test('an unknown --scope is a usage error naming the choices', { timeout: 60_000 }, async () => {
    const r = await cli(h.home, ['mcp', '--scope', 'root']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--scope: must be one of read, operate, admin, got "root"/);
  });
});
