/**
 * The MCP doctor tool: the same report as `nightshift doctor --json`, read-only, for a read-scope
 * client, with no secret value in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../../src/app/app.ts';
import { addJob, newJob } from '../../../src/app/jobs.ts';
import { createMcpServer } from '../../../src/interfaces/mcp/server.ts';

interface Finding {
  check: string;
  level: string;
  message: string;
  fix?: string;
  fixable: boolean;
}

test('doctor over MCP names a missing program and an unset secret, narrows to one job, and reveals no value', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(
    path.join(home, 'config.json'),
    JSON.stringify({
      channels: {
        ops: { kind: 'slack', webhookUrl: 'env:NS_MCP_DOCTOR_UNSET' },
        bot: {
          kind: 'telegram',
          botToken: 'env:NS_MCP_DOCTOR_TOKEN',
          chatId: '1',
          apiBase: 'http://127.0.0.1:9',
        },
      },
    }),
  );
  const canary = 'mcp-doctor-canary-5521';
  const app = await openApp(home, { NS_MCP_DOCTOR_TOKEN: canary, PATH: process.env.PATH });
  const server = createMcpServer({ app, scope: 'read', version: '0.1.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(clientSide);
  await client.listTools();
  try {
    await addJob(
      app,
      newJob({
        name: 'report',
        schedule: { kind: 'every', everyMs: 3_600_000 },
        payload: { kind: 'command', command: 'no-such-report-tool --all' },
      }),
    );
    await addJob(
      app,
      newJob({
        name: 'fine',
        schedule: { kind: 'every', everyMs: 3_600_000 },
        payload: { kind: 'command', argv: ['true'] },
      }),
    );

    const all = (await client.callTool({ name: 'doctor', arguments: {} })) as CallToolResult;
    assert.equal(all.isError ?? false, false, JSON.stringify(all.content));
    const report = all.structuredContent as { findings: Finding[]; exitCode: number };
    assert.equal(report.exitCode, 1);
    assert.ok(
      report.findings.some(
        (f) =>
          f.level === 'fail' &&
          /report: its program "no-such-report-tool" is not on the PATH/.test(f.message),
      ),
    );
    assert.ok(
      report.findings.some(
        (f) =>
          f.check === 'secrets' &&
          f.level === 'fail' &&
          /env:NS_MCP_DOCTOR_UNSET does not resolve/.test(f.message),
      ),
    );
    assert.ok(
      report.findings.some(
        (f) =>
          f.check === 'secrets' && f.level === 'ok' && /env:NS_MCP_DOCTOR_TOKEN resolves/.test(f.message),
      ),
    );
    assert.doesNotMatch(JSON.stringify(all), new RegExp(canary));

    const one = (await client.callTool({ name: 'doctor', arguments: { job: 'fine' } })) as CallToolResult;
    const findings = (one.structuredContent as { findings: Finding[] }).findings;
    assert.ok(
      findings.every((f) => !/report:/.test(f.message)),
      'only the job asked about',
    );

    const missing = (await client.callTool({ name: 'doctor', arguments: { job: 'nope' } })) as CallToolResult;
    assert.equal(missing.isError, true);
    assert.match(JSON.stringify(missing.structuredContent), /not_found/);
  } finally {
    await client.close();
    await server.close();
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
