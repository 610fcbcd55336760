/**
 * The command line and the MCP tools are two faces of the same job use cases (src/app/jobs.ts):
 * on one home, `cron add/edit/show/rm` and job_add/job_edit/job_show/job_remove give the same job
 * and refuse the same things with the same error codes and messages (MCP's leave out the home's
 * path and name its own tools in the hint).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../src/app/app.ts';
import type { App } from '../../src/app/app.ts';
import { createMcpServer } from '../../src/interfaces/mcp/server.ts';
import { cli, cliJson, tempHome } from '../interfaces/cli/cli-harness.ts';
import type { TempHome } from '../interfaces/cli/cli-harness.ts';

type Json = Record<string, unknown>;
interface ErrorBody {
  code: string;
  message: string;
  hint: string | null;
}

// Fires on 29 February only: the next fire times are the same whenever the test runs.
const CRON = '0 3 29 2 *';
const TZ = 'Europe/Berlin';

/** What a job is, leaving out what differs between any two jobs (identity and timestamps). */
function definition(job: Json): Json {
  const { id: _id, name: _name, createdAtMs: _c, updatedAtMs: _u, ...rest } = job;
  const payload = { ...(rest.payload as Json) };
  // MCP shows the shape of env and stdin instead of their values.
  delete payload.envKeys;
  delete payload.inputBytes;
  return { ...rest, payload };
}

describe('cron add/edit/show/rm through the CLI and through MCP', () => {
  let t: TempHome;
  let app: App;
  let client: Client;

  async function tool(name: string, args: Json): Promise<{ ok: boolean; body: Json }> {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    return { ok: r.isError !== true, body: r.structuredContent as Json };
  }

  async function cliError(args: string[]): Promise<{ exit: number | null; error: ErrorBody }> {
    const r = await cli(t.home, [...args, '--json']);
    assert.equal(r.stdout, '', `nothing on stdout for ${args.join(' ')}`);
    return { exit: r.code, error: (JSON.parse(r.stderr) as { error: ErrorBody }).error };
  }

  before(async () => {
    t = tempHome();
    app = await openApp(t.home, {});
    const server = createMcpServer({ app, scope: 'admin' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    client = new Client({ name: 'test', version: '1' });
    await client.connect(clientSide);
    await client.listTools();
  });

  after(async () => {
    await client.close();
    await app.close();
    t.cleanup();
  });

  test('the same input makes the same job, shown the same way', async () => {
    const byCli = await cliJson<Json>(t.home, [
      'cron',
      'add',
      '--name',
      'leap-cli',
      '--cron',
      CRON,
      '--tz',
      TZ,
      '--command',
      'echo leap',
      '--retries',
      '2',
      '--expect-output',
      'leap',
    ]);
    assert.equal(byCli.result.code, 0, byCli.result.stderr);
    const byMcp = await tool('job_add', {
      name: 'leap-mcp',
      schedule: { kind: 'cron', expr: CRON, tz: TZ },
      payload: { command: 'echo leap' },
      policy: { retries: 2 },
      evidence: { expectOutput: 'leap' },
    });
    assert.ok(byMcp.ok, JSON.stringify(byMcp.body));
    const mcpJob = byMcp.body.job as Json;
    assert.deepEqual(
      definition(mcpJob),
      definition({ ...byCli.json, status: 'idle', nextRunAtMs: mcpJob.nextRunAtMs }),
    );

    // Each face shows the job the other added: same contract, same next fire times.
    const cliShow = await cliJson<Json>(t.home, ['cron', 'show', 'leap-mcp']);
    const mcpShow = await tool('job_show', { job: 'leap-cli' });
    assert.ok(mcpShow.ok);
    assert.deepEqual(cliShow.json.contract, mcpShow.body.contract);
    assert.deepEqual(cliShow.json.nextRuns, mcpShow.body.nextRuns);
    assert.deepEqual(definition(cliShow.json), {
      ...definition(mcpShow.body.job as Json),
      contract: cliShow.json.contract,
      nextRuns: cliShow.json.nextRuns,
    });
  });

  test('a taken name is name_taken through both, and nothing is written', async () => {
    const viaCli = await cliError([
      'cron',
      'add',
      '--name',
      'leap-mcp',
      '--every',
      '1h',
      '--command',
      'true',
    ]);
    const viaMcp = await tool('job_add', {
      name: 'leap-cli',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { command: 'true' },
    });
    assert.equal(viaCli.exit, 4);
    assert.equal(viaMcp.ok, false);
    const mcpError = viaMcp.body.error as ErrorBody;
    assert.equal(viaCli.error.code, 'name_taken');
    assert.equal(mcpError.code, 'name_taken');
    assert.equal(viaCli.error.message, 'a job named "leap-mcp" already exists');
    assert.equal(mcpError.message, 'a job named "leap-cli" already exists');
    assert.match(viaCli.error.hint ?? '', /nightshift cron edit/);
    assert.match(mcpError.hint ?? '', /job_edit/);

    // A rename onto a taken name is refused the same way, and the job keeps its name.
    const renameCli = await cliError(['cron', 'edit', 'leap-cli', '--name', 'leap-mcp']);
    const renameMcp = await tool('job_edit', { job: 'leap-mcp', name: 'leap-cli' });
    assert.equal(renameCli.error.code, 'name_taken');
    assert.equal((renameMcp.body.error as ErrorBody).code, 'name_taken');
    assert.deepEqual(
      (await app.store.listJobs()).map((j) => j.name),
      ['leap-cli', 'leap-mcp'],
    );
  });

  test('an edit through either face changes the job the same way', async () => {
    const viaCli = await cliJson<Json>(t.home, ['cron', 'edit', 'leap-mcp', '--cron', '30 4 29 2 *']);
    assert.equal(viaCli.result.code, 0, viaCli.result.stderr);
    const viaMcp = await tool('job_edit', {
      job: 'leap-cli',
      schedule: { kind: 'cron', expr: '30 4 29 2 *', tz: TZ },
    });
    assert.ok(viaMcp.ok, JSON.stringify(viaMcp.body));
    const [a, b] = await Promise.all([app.store.findJob('leap-cli'), app.store.findJob('leap-mcp')]);
    assert.deepEqual(a?.schedule, { kind: 'cron', expr: '30 4 29 2 *', tz: TZ });
    assert.deepEqual(b?.schedule, a?.schedule);
    assert.deepEqual(b?.state, a?.state);

    const emptyCli = await cliError(['cron', 'edit', 'leap-cli']);
    const emptyMcp = await tool('job_edit', { job: 'leap-cli' });
    assert.equal(emptyCli.error.code, 'invalid');
    assert.equal((emptyMcp.body.error as ErrorBody).code, 'invalid');
    assert.match(emptyCli.error.message, /^nothing to change/);
    assert.match((emptyMcp.body.error as ErrorBody).message, /^nothing to change/);
  });

  test('a job one face removed is not_found through both', async () => {
    const rmCli = await cliJson<Json>(t.home, ['cron', 'rm', 'leap-mcp']);
    assert.equal(rmCli.result.code, 0, rmCli.result.stderr);
    assert.deepEqual(rmCli.json, {
      ok: true,
      removed: true,
      id: rmCli.json.id,
      name: 'leap-mcp',
      alsoRemoved: [],
    });
    const rmMcp = await tool('job_remove', { job: 'leap-cli' });
    assert.deepEqual(rmMcp.body, {
      ok: true,
      removed: true,
      id: rmMcp.body.id,
      name: 'leap-cli',
      alsoRemoved: [],
    });

    for (const name of ['leap-cli', 'leap-mcp']) {
      const viaCli = await cliError(['cron', 'show', name]);
      const viaMcp = await tool('job_show', { job: name });
      assert.equal(viaCli.exit, 3);
      assert.equal(viaCli.error.code, 'not_found');
      assert.equal((viaMcp.body.error as ErrorBody).code, 'not_found');
      assert.equal(viaCli.error.message, `no job with id or name "${name}" in ${t.home}`);
      assert.equal((viaMcp.body.error as ErrorBody).message, `no job with id or name "${name}"`);
      const again = await tool('job_remove', { job: name });
      assert.equal((again.body.error as ErrorBody).code, 'not_found');
    }
    assert.deepEqual(await app.store.listJobs(), []);
  });
});
