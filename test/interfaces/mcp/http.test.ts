import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../../src/app/app.ts';
import type { App } from '../../../src/app/app.ts';
import { startMcpHttp } from '../../../src/interfaces/mcp/http.ts';
import type { McpHttpLogEvent, McpHttpServer } from '../../../src/interfaces/mcp/http.ts';
import { UserError } from '../../../src/domain/errors.ts';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const READ_TOKEN = 'read-token-0123456789abcdef';

async function connect(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'http-test', version: '1' });
  await client.connect(transport);
  await client.listTools();
  return client;
}

describe('MCP over streamable HTTP', () => {
  let dir: string;
  let app: App;
  let http: McpHttpServer;
  const events: McpHttpLogEvent[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    app = await openApp(path.join(dir, 'home'), {});
    http = await startMcpHttp({
      app,
      port: 0,
      tokens: { [ADMIN_TOKEN]: 'admin', [READ_TOKEN]: 'read' },
      log: (e) => events.push(e),
    });
  });

  after(async () => {
    await http.close();
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the token decides the scope: admin adds and runs, read is denied', { timeout: 60_000 }, async () => {
    assert.match(http.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const admin = await connect(http.url, ADMIN_TOKEN);
    try {
      const added = (await admin.callTool({
        name: 'job_add',
        arguments: {
          name: 'http-job',
          schedule: { kind: 'every', everyMs: '1h' },
          payload: { command: 'echo over-http' },
        },
      })) as CallToolResult;
      assert.equal(added.isError, undefined);
      const ran = (await admin.callTool({
        name: 'job_run',
        arguments: { job: 'http-job', wait: true, timeoutSeconds: 50 },
      })) as CallToolResult;
      assert.equal((ran.structuredContent as { run: { status: string } }).run.status, 'ok');
    } finally {
      await admin.close();
    }

    const reader = await connect(http.url, READ_TOKEN);
    try {
      const denied = (await reader.callTool({
        name: 'job_remove',
        arguments: { job: 'http-job' },
      })) as CallToolResult;
      assert.deepEqual(denied.structuredContent, {
        denied: true,
        tool: 'job_remove',
        scope: 'read',
        required: 'admin',
      });
      const shown = (await reader.callTool({
        name: 'job_show',
        arguments: { job: 'http-job' },
      })) as CallToolResult;
      assert.equal(shown.isError, undefined);
    } finally {
      await reader.close();
    }
  });

  test('requests without a valid bearer token get 401 and are logged without the token', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await fetch(http.url, { method: 'POST', headers, body });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await fetch(http.url, {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer not-a-real-token-123456' },
      body,
    });
    assert.equal(wrong.status, 401);
    assert.match(await wrong.text(), /unknown bearer token/);
    const reasons = events
      .filter((e) => e.event === 'mcp.http.unauthorized')
      .map((e) => 'reason' in e && e.reason);
    assert.deepEqual(reasons.slice(-2), ['missing', 'unknown']);
    assert.ok(!JSON.stringify(events).includes('not-a-real-token'));
    assert.ok(!JSON.stringify(events).includes(ADMIN_TOKEN));
  });

  test('refuses a non-loopback bind, short tokens and no tokens', async () => {
    await assert.rejects(
      startMcpHttp({ app, host: '0.0.0.0', port: 0, tokens: { [ADMIN_TOKEN]: 'admin' } }),
      (err: unknown) => err instanceof UserError && /not a loopback address/.test(err.message),
    );
    await assert.rejects(
      startMcpHttp({ app, port: 0, tokens: { 'tiny-tok': 'read' } }),
      (err: unknown) =>
        err instanceof UserError && /shorter than 16/.test(err.message) && !err.message.includes('tiny-tok'),
    );
    await assert.rejects(
      startMcpHttp({ app, port: 0, tokens: {} }),
      (err: unknown) => err instanceof UserError && /no tokens/.test(err.message),
    );
  });
});
