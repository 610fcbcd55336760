import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../../src/app/app.ts';
import { createMcpServer, whenRunsSettled } from '../../../src/interfaces/mcp/server.ts';
import { DaemonProcess, tempHome } from '../cli/cli-harness.ts';

test(
  'with a daemon running, job_run queues the run for it and waits for its result',
  { timeout: 120_000 },
  async () => {
    const h = tempHome();
    const daemon = new DaemonProcess(h.home);
    try {
      await daemon.ready(60_000);
      const app = await openApp(h.home, {});
      const server = createMcpServer({ app, scope: 'admin' });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: 'test', version: '1' });
      await client.connect(clientSide);
      await client.listTools();
      const call = async (
        name: string,
        args: Record<string, unknown> = {},
      ): Promise<Record<string, unknown>> => {
        const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
        assert.equal(r.isError, undefined, JSON.stringify(r.content));
        return r.structuredContent!;
      };
      try {
        const status = await call('status');
        const d = status.daemon as { running: boolean; pid: number };
        assert.equal(d.running, true);
        assert.equal(d.pid, daemon.pid);

        await call('job_add', {
          name: 'by-daemon',
          schedule: { kind: 'cron', expr: '0 0 1 1 *', tz: 'UTC' },
          payload: { command: 'echo "run by $NIGHTSHIFT_JOB_ID"' },
        });
        const r = await call('job_run', { job: 'by-daemon', wait: true, timeoutSeconds: 90 });
        assert.equal(r.executedBy, 'daemon');
        const run = r.run as { status: string; runId: string; outputTail: string };
        assert.equal(run.status, 'ok');
        assert.equal(run.runId, r.runId);
        assert.match(run.outputTail, /run by [0-9a-f]{12}/);
        await daemon.waitFor(
          (e) => e.event === 'run.finished' && e.runId === r.runId,
          'the daemon to log the run',
        );
      } finally {
        await whenRunsSettled(server);
        await client.close();
        await server.close();
        await app.close();
      }
      daemon.kill('SIGTERM');
      await daemon.exit();
    } finally {
      await daemon.dispose();
      h.cleanup();
    }
  },
);
