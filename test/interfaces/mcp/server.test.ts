import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openApp } from '../../../src/app/app.ts';
import { quickstart } from '../../../src/app/backup-profiles.ts';
import { proveFirstBackup } from '../../../src/app/first-backup.ts';
import type { App } from '../../../src/app/app.ts';
import { createMcpServer, whenRunsSettled } from '../../../src/interfaces/mcp/server.ts';
import type { McpLogEvent } from '../../../src/interfaces/mcp/server.ts';
import type { Scope } from '../../../src/domain/scope.ts';

interface Connected {
  client: Client;
  events: McpLogEvent[];
  close(): Promise<void>;
}

async function connect(app: App, scope: Scope): Promise<Connected> {
  const events: McpLogEvent[] = [];
  const server = createMcpServer({ app, scope, log: (e) => events.push(e) });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(clientSide);
  // As real clients do: listing caches the output schemas, so every result below is checked against them.
  await client.listTools();
  return {
    client,
    events,
    close: async () => {
      await whenRunsSettled(server);
      await client.close();
      await server.close();
    },
  };
}

async function call(c: Connected, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await c.client.callTool({ name, arguments: args })) as CallToolResult;
}

function data(r: CallToolResult): Record<string, unknown> {
  assert.ok(r.structuredContent, 'structured content');
  return r.structuredContent;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

const CANARY = 'canary-value-9f3e1c';

describe('MCP scheduler tools', () => {
  let dir: string;
  let app: App;
  let admin: Connected;
  let operate: Connected;
  let read: Connected;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    app = await openApp(path.join(dir, 'home'), {});
    admin = await connect(app, 'admin');
    operate = await connect(app, 'operate');
    read = await connect(app, 'read');
  });

  after(async () => {
    await admin.close();
    await operate.close();
    await read.close();
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('lists every tool, with input and output schemas, whatever the scope', async () => {
    const { tools } = await read.client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, [
      'backup_check',
      'backup_run',
      'doctor',
      'drill_run',
      'job_add',
      'job_edit',
      'job_remove',
      'job_run',
      'job_show',
      'jobs_list',
      'run_get',
      'runs_list',
      'snapshots_list',
      'status',
    ]);
    for (const t of tools) {
      assert.ok(t.outputSchema, `${t.name} has an output schema`);
      assert.match(t.description ?? '', /Needs scope "(read|operate|admin)"/);
    }
  });

  test('job_add and job_edit return the warnings the CLI prints: alerts with no channel to deliver them', async () => {
    const plain = data(
      await call(admin, 'job_add', {
        name: 'warn-plain',
        schedule: { kind: 'every', everyMs: '1h' },
        payload: { command: 'true' },
      }),
    );
    assert.deepEqual(plain.warnings, []);
    const edited = await call(admin, 'job_edit', { job: 'warn-plain', alerts: { afterFailures: 1 } });
    assert.equal(edited.isError, undefined, text(edited));
    const w = data(edited).warnings as string[];
    assert.equal(w.length, 1);
    assert.match(w[0]!, /alerts will not be delivered: no channel is configured/);
    const added = data(
      await call(admin, 'job_add', {
        name: 'warn-alerts',
        schedule: { kind: 'every', everyMs: '1h' },
        payload: { command: 'true' },
        alerts: { afterFailures: 2 },
      }),
    );
    assert.deepEqual(added.warnings, w);
    // job_show says the same of the stored job.
    const shown = data(await call(read, 'job_show', { job: 'warn-alerts' }));
    assert.match(
      (shown.contract as string[]).join('\n'),
      /alerts: none will be delivered \(no channel configured\)/,
    );
    await call(admin, 'job_remove', { job: 'warn-plain' });
    await call(admin, 'job_remove', { job: 'warn-alerts' });
  });

  test('drill_run of a repository with identityRef (no profile) restores byte-exact; a drill job of it can be added', async () => {
    // The repository and its first snapshot come from quickstart and its proof (the same use cases as the CLI).
    const src = path.join(dir, 'qs-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, 'b.txt'), 'beta\n');
    const setup = await quickstart(app, {
      name: 'qs',
      paths: [src],
      repository: path.join(dir, 'qs-repo'),
      dailyAt: { hh: 3, mm: 0 },
      retention: { last: 7 },
    });
    const proof = await proveFirstBackup(app, setup);
    assert.equal(proof.ok, true, JSON.stringify(proof.failed));
    assert.equal(proof.drill?.snapshotId, proof.backup?.snapshotId);
    assert.deepEqual([proof.drill?.sampled, proof.drill?.verified, proof.drill?.matchedLive], [2, 2, 2]);

    const identityRef = `file:${setup.identityFile}`;
    const r = await call(operate, 'drill_run', {
      repository: setup.repository,
      identityRef,
      tag: 'profile:qs',
    });
    assert.equal(r.isError, undefined, text(r));
    const out = data(r) as {
      ok: boolean;
      drill: { repository: string; verified: number; snapshotId: string };
    };
    assert.equal(out.ok, true);
    assert.equal(out.drill.repository, setup.repository);
    assert.equal(out.drill.verified, 2);
    assert.equal(out.drill.snapshotId, proof.backup?.snapshotId);
    const secret = fs.readFileSync(setup.identityFile, 'utf8').match(/AGE-SECRET-KEY-1\w+/)![0];
    assert.ok(!JSON.stringify(r).includes(secret));

    // The identity itself, offered in place of its reference, is refused and never echoed.
    const literal = await call(operate, 'drill_run', { repository: setup.repository, identityRef: secret });
    assert.equal(literal.isError, true);
    assert.ok(!JSON.stringify(literal).includes(secret));
    const missing = await call(operate, 'drill_run', { repository: setup.repository });
    assert.match(
      text(missing),
      /identityRef: a drill of a repository needs the reference to its age identity/,
    );
    const both = await call(operate, 'drill_run', {
      profile: 'qs',
      repository: setup.repository,
      identityRef,
    });
    assert.match(text(both), /give one of job, profile, or repository with identityRef/);

    // A drill job of the repository (for the host holding the identity): a reference passes the guard.
    const added = await call(admin, 'job_add', {
      name: 'qs-offsite-drill',
      schedule: { kind: 'cron', expr: '0 5 * * 0' },
      payload: { kind: 'drill', repository: setup.repository, identityRef, sampleFiles: 2 },
    });
    assert.equal(added.isError, undefined, text(added));
    const shown = data(await call(read, 'job_show', { job: 'qs-offsite-drill' }));
    assert.match(
      (shown.contract as string[]).join('\n'),
      new RegExp(`Key: the age identity from ${identityRef}`),
    );
    await call(admin, 'job_remove', { job: 'qs-offsite-drill' });
    await call(admin, 'job_remove', { job: 'qs' });
  });

  test('an admin adds a job; it is listed and shown with its contract and without env values', async () => {
    const added = await call(admin, 'job_add', {
      name: 'nightly-report',
      schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Berlin' },
      payload: { command: 'echo report', env: { REPORT_KEY: CANARY } },
      evidence: { expectOutput: 'report' },
    });
    assert.equal(added.isError, undefined, text(added));
    const job = data(added).job as Record<string, unknown>;
    assert.equal(job.name, 'nightly-report');
    assert.deepEqual((job.payload as Record<string, unknown>).envKeys, ['REPORT_KEY']);
    assert.ok(!JSON.stringify(added).includes(CANARY), 'job_add result holds no env value');

    const list = data(await call(read, 'jobs_list'));
    const names = (list.jobs as { name: string }[]).map((j) => j.name);
    assert.ok(names.includes('nightly-report'));
    assert.ok(!JSON.stringify(list).includes(CANARY));

    for (const ref of ['nightly-report', job.id as string]) {
      const shown = await call(read, 'job_show', { job: ref });
      const s = data(shown);
      const contract = (s.contract as string[]).join('\n');
      assert.match(contract, /Runs: \/bin\/sh -c 'echo report'/);
      assert.match(contract, /REPORT_KEY \(values not shown\)/);
      assert.match(contract, /output \(stdout and stderr\) matches \/report\//);
      assert.equal((s.nextRuns as string[]).length, 5);
      assert.equal(s.timeZone, 'Europe/Berlin');
      assert.ok(!JSON.stringify(shown).includes(CANARY), 'job_show holds no env value');
    }
  });

  test('job_run with wait returns ok for a passing command and error with the reason for a failing one', async () => {
    await call(admin, 'job_add', {
      name: 'passes',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { command: 'echo all-good' },
    });
    await call(admin, 'job_add', {
      name: 'fails',
      schedule: { kind: 'every', everyMs: 3_600_000 },
      payload: { command: 'echo broken >&2; exit 3' },
    });

    const ok = data(await call(operate, 'job_run', { job: 'passes', wait: true, timeoutSeconds: 120 }));
    assert.equal(ok.ok, true);
    assert.equal(ok.enqueued, true);
    assert.equal(ok.executedBy, 'this-process');
    const okRun = ok.run as Record<string, unknown>;
    assert.equal(okRun.runId, ok.runId);
    assert.equal(okRun.status, 'ok');
    assert.match(String(okRun.outputTail), /all-good/);

    const bad = data(await call(operate, 'job_run', { job: 'fails', wait: true, timeoutSeconds: 120 }));
    const badRun = bad.run as Record<string, unknown>;
    assert.equal(badRun.status, 'error');
    assert.equal(badRun.exitCode, 3);
    assert.match(String(badRun.error), /3/);

    const detail = data(await call(read, 'run_get', { runId: bad.runId }));
    assert.equal(detail.status, 'error');
    assert.equal(detail.jobName, 'fails');
    assert.match(String(detail.outputTail), /broken/);
    assert.ok(Array.isArray(detail.evidence));

    // runs_list: the `cron runs --json` entry shape, newest first, with filters.
    const page = data(await call(read, 'runs_list', { job: 'fails' }));
    assert.equal(page.total, 1);
    assert.equal(page.hasMore, false);
    const entry = (page.entries as Record<string, unknown>[])[0]!;
    assert.deepEqual(Object.keys(entry).sort(), [
      'attempt',
      'details',
      'durationMs',
      'error',
      'evidence',
      'exitCode',
      'finishedAtMs',
      'jobId',
      'outputTail',
      'runId',
      'slotMs',
      'startedAtMs',
      'status',
      'trigger',
    ]);
    assert.equal(entry.runId, bad.runId);
    assert.equal(entry.trigger, 'manual');
    const okOnly = data(await call(read, 'runs_list', { status: 'ok' }));
    assert.ok((okOnly.entries as { status: string }[]).every((r) => r.status === 'ok'));
    assert.ok((okOnly.entries as { runId: string }[]).some((r) => r.runId === ok.runId));
    const paged = data(await call(read, 'runs_list', { limit: 1, offset: 0 }));
    assert.equal((paged.entries as unknown[]).length, 1);
    assert.equal(paged.hasMore, true);

    const status = data(await call(read, 'status'));
    assert.equal((status.daemon as { running: boolean }).running, false);
    assert.equal(status.scope, 'read');
    assert.ok((status.failing as { name: string }[]).some((f) => f.name === 'fails'));
  });

  test('job_run without wait returns the run id at once; the run finishes in the background', async () => {
    await call(admin, 'job_add', {
      name: 'background',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { argv: ['sh', '-c', 'sleep 0.3; echo done'] },
    });
    const r = data(await call(operate, 'job_run', { job: 'background' }));
    assert.equal(r.enqueued, true);
    assert.equal(typeof r.runId, 'string');
    assert.equal(r.run, undefined);
    let run: Record<string, unknown> = {};
    for (let i = 0; i < 150; i++) {
      run = data(await call(read, 'run_get', { runId: r.runId }));
      if (run.status !== 'queued' && run.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(run.status, 'ok');
  });

  test('job_run waits no longer than timeoutSeconds; a second run is refused while one is going', async () => {
    await call(admin, 'job_add', {
      name: 'slow',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { command: 'sleep 5; echo slow-done' },
    });
    const started = Date.now();
    const first = data(await call(operate, 'job_run', { job: 'slow', wait: true, timeoutSeconds: 1 }));
    assert.ok(Date.now() - started < 4_500, 'returned before the run ended');
    assert.equal(first.enqueued, true);
    assert.match((first.run as { status: string }).status, /^(queued|running)$/);

    // The job's overlap policy (skip) refuses a second manual run while the first is going.
    const second = data(await call(operate, 'job_run', { job: 'slow' }));
    assert.equal(second.ok, false);
    assert.equal(second.enqueued, false);
    assert.equal(second.runId, null);
    assert.equal(typeof second.reason, 'string');

    let run: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) {
      run = data(await call(read, 'run_get', { runId: first.runId }));
      if (run.status !== 'queued' && run.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(run.status, 'ok', 'the run went on after the wait ran out');
    assert.match(String(run.outputTail), /slow-done/);

    const misuse = await call(operate, 'job_run', { job: 'slow', timeoutSeconds: 5 });
    assert.equal(misuse.isError, true);
    assert.match(text(misuse), /^timeoutSeconds: only applies with wait=true/);
    const tooLong = await call(operate, 'job_run', { job: 'slow', wait: true, timeoutSeconds: 3600 });
    assert.equal(tooLong.isError, true);
    assert.match(text(tooLong), /timeoutSeconds/);
  });

  test('each scope is held to its grants, with a structured and logged denial', async () => {
    const cases: [Connected, Scope, string, Record<string, unknown>, Scope][] = [
      [read, 'read', 'job_run', { job: 'passes' }, 'operate'],
      [
        read,
        'read',
        'job_add',
        { name: 'x', schedule: { kind: 'every', everyMs: 60000 }, payload: { command: 'true' } },
        'admin',
      ],
      [
        operate,
        'operate',
        'job_add',
        { name: 'y', schedule: { kind: 'every', everyMs: 60000 }, payload: { command: 'true' } },
        'admin',
      ],
      [operate, 'operate', 'job_edit', { job: 'passes', enabled: false }, 'admin'],
      [operate, 'operate', 'job_remove', { job: 'passes' }, 'admin'],
    ];
    for (const [c, scope, tool, args, required] of cases) {
      const r = await call(c, tool, args);
      assert.equal(r.isError, true, `${scope} calling ${tool}`);
      assert.deepEqual(r.structuredContent, { denied: true, tool, scope, required });
      assert.match(text(r), new RegExp(`${tool} needs scope "${required}"`));
      assert.ok(
        c.events.some((e) => e.event === 'mcp.denied' && e.tool === tool),
        `denial of ${tool} is logged`,
      );
    }
    // Nothing was changed by the denied calls.
    const list = data(await call(read, 'jobs_list', { all: true }));
    const names = (list.jobs as { name: string; enabled: boolean }[]).map((j) => j.name);
    assert.ok(!names.includes('x') && !names.includes('y'));
    assert.ok(names.includes('passes'));
    assert.equal(data(await call(read, 'job_show', { job: 'passes' })).job && true, true);
  });

  test('an unknown job is a tool error naming it', async () => {
    for (const [tool, c] of [
      ['job_show', read],
      ['job_run', operate],
      ['job_remove', admin],
      ['runs_list', read],
    ] as const) {
      const r = await call(c, tool, { job: 'no-such-job' });
      assert.equal(r.isError, true, tool);
      assert.match(text(r), /no job with id or name "no-such-job"/);
      assert.match(text(r), /hint: list the jobs with the jobs_list tool/);
      assert.equal((data(r).error as { code: string }).code, 'not_found');
    }
    const run = await call(read, 'run_get', { runId: 'nope' });
    assert.equal(run.isError, true);
    assert.match(text(run), /no run with id "nope"/);
  });

  test('bad input is a tool error naming the field, and nothing is written', async () => {
    const before = (data(await call(read, 'jobs_list', { all: true })).jobs as unknown[]).length;
    const badCron = await call(admin, 'job_add', {
      name: 'bad-cron',
      schedule: { kind: 'cron', expr: '61 * * * *' },
      payload: { command: 'true' },
    });
    assert.equal(badCron.isError, true);
    assert.match(text(badCron), /^schedule\.expr: /);
    assert.match(text(badCron), /hint: /);

    const badTz = await call(admin, 'job_add', {
      name: 'bad-tz',
      schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Mars/Olympus' },
      payload: { command: 'true' },
    });
    assert.match(text(badTz), /schedule\.tz: unknown time zone/);

    const badCwd = await call(admin, 'job_edit', { job: 'passes', payload: { cwd: 'relative/dir' } });
    assert.equal(badCwd.isError, true);
    assert.match(text(badCwd), /payload\.cwd: must be an absolute path/);

    const taken = await call(admin, 'job_add', {
      name: 'passes',
      schedule: { kind: 'every', everyMs: 60000 },
      payload: { command: 'true' },
    });
    assert.match(text(taken), /a job named "passes" already exists/);

    const nothing = await call(admin, 'job_edit', { job: 'passes' });
    assert.match(text(nothing), /nothing to change/);

    // Schema-level errors (wrong type) also come back as tool errors, naming the argument.
    const wrongType = await call(read, 'runs_list', { limit: 'ten' });
    assert.equal(wrongType.isError, true);
    assert.match(text(wrongType), /limit/);

    const after = (data(await call(read, 'jobs_list', { all: true })).jobs as unknown[]).length;
    assert.equal(after, before);
  });

  test('secret-bearing fields are refused without echoing the value, and logged', async () => {
    const r = await call(admin, 'job_add', {
      name: 'with-secret',
      schedule: { kind: 'every', everyMs: 60000 },
      payload: { command: 'true', password: CANARY },
    });
    assert.equal(r.isError, true);
    assert.match(text(r), /^payload\.password: secret values are not accepted/);
    assert.match(text(r), /env:NAME/);
    assert.ok(!JSON.stringify(r).includes(CANARY));
    const logged = admin.events.filter((e) => e.event === 'mcp.secret_refused');
    assert.deepEqual(logged.at(-1), {
      event: 'mcp.secret_refused',
      tool: 'job_add',
      field: 'payload.password',
    });
    assert.ok(!JSON.stringify(admin.events).includes(CANARY), 'the log holds no secret value');
    const edit = await call(admin, 'job_edit', { job: 'passes', passphrase: CANARY });
    assert.match(text(edit), /^passphrase: secret values are not accepted/);
    assert.equal(data(await call(read, 'job_show', { job: 'with-secret' })).error !== undefined, true);
  });

  test('chains: job_add and job_edit take after/withinMs like the CLI and files; job_remove of a predecessor is refused', async () => {
    const cmd = { command: 'true' };
    // Only this test's jobs: the other tests' jobs may still be finishing runs in the background.
    const chainJobs = async () =>
      JSON.stringify((await app.store.listJobs()).filter((j) => j.name.startsWith('c-')));
    await call(admin, 'job_add', {
      name: 'c-prep',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: cmd,
    });
    const added = data(
      await call(admin, 'job_add', {
        name: 'c-reset',
        schedule: { kind: 'after', after: 'c-prep', withinMs: '30m' },
        payload: cmd,
      }),
    );
    assert.deepEqual((added.job as { schedule: unknown }).schedule, {
      kind: 'after',
      after: [{ job: 'c-prep', on: 'success' }],
      withinMs: 1_800_000,
    });
    const shown = data(await call(read, 'job_show', { job: 'c-reset' }));
    assert.ok((shown.contract as string[]).some((l) => l.includes('runs after c-prep succeeds')));
    const before = await chainJobs();

    const unknown = await call(admin, 'job_add', {
      name: 'c-lost',
      schedule: { kind: 'after', after: [{ job: 'c-prpe', on: 'failure' }] },
      payload: cmd,
    });
    assert.equal(unknown.isError, true);
    assert.match(
      text(unknown),
      /c-lost runs after c-prpe, and there is no job named c-prpe \(known: .*c-prep/,
    );
    const cycle = await call(admin, 'job_edit', {
      job: 'c-prep',
      schedule: { kind: 'after', after: 'c-reset' },
    });
    assert.equal(cycle.isError, true);
    assert.match(text(cycle), /chain cycle: c-prep -> c-reset -> c-prep/);
    assert.equal(await chainJobs(), before, 'a refused call changed the store');
    const within = data(
      await call(admin, 'job_edit', {
        job: 'c-reset',
        schedule: { kind: 'after', after: [{ job: 'c-prep', on: 'always' }], within: '45m' },
      }),
    );
    assert.deepEqual((within.job as { schedule: unknown }).schedule, {
      kind: 'after',
      after: [{ job: 'c-prep', on: 'always' }],
      withinMs: 2_700_000,
    });
    const badOn = await call(admin, 'job_edit', {
      job: 'c-reset',
      schedule: { kind: 'after', after: [{ job: 'c-prep', on: 'sometimes' }] },
    });
    assert.equal(badOn.isError, true);

    assert.equal(badOn.isError, true);
    const beforeRemove = await chainJobs();
    const blocked = await call(admin, 'job_remove', { job: 'c-prep' });
    assert.equal(blocked.isError, true);
    assert.match(text(blocked), /c-prep cannot be removed: c-reset runs after it/);
    assert.match(text(blocked), /force: true/);
    assert.equal(await chainJobs(), beforeRemove, 'a refused call changed the store');

    const forced = data(await call(admin, 'job_remove', { job: 'c-prep', force: true }));
    assert.deepEqual(forced.alsoRemoved, ['c-reset']);
    assert.equal(await app.store.findJob('c-reset'), undefined);
  });

  test('an admin edits and removes a job', async () => {
    const edited = data(
      await call(admin, 'job_edit', { job: 'background', enabled: false, description: 'paused for now' }),
    );
    const job = edited.job as Record<string, unknown>;
    assert.equal(job.enabled, false);
    assert.equal(job.nextRunAtMs, null);
    assert.equal(job.description, 'paused for now');
    const listed = data(await call(read, 'jobs_list'));
    assert.ok(!(listed.jobs as { name: string }[]).some((j) => j.name === 'background'), 'disabled: hidden');

    const removed = data(await call(admin, 'job_remove', { job: 'background' }));
    assert.deepEqual(
      { ok: removed.ok, removed: removed.removed, name: removed.name },
      {
        ok: true,
        removed: true,
        name: 'background',
      },
    );
    const gone = await call(read, 'job_show', { job: 'background' });
    assert.equal(gone.isError, true);
  });
  test('job_add and job_show cover agent turns, system events, backups and drills', async () => {
    const turn = data(
      await call(admin, 'job_add', {
        name: 'morning-brief',
        schedule: { kind: 'cron', expr: '0 7 * * *', tz: 'UTC' },
        payload: {
          kind: 'agentTurn',
          message: 'Summarise the night.',
          model: 'llama3.1:8b',
          lightContext: true,
        },
        delivery: { mode: 'webhook', url: 'https://hooks.example.com/brief' },
      }),
    ).job as { payload: Record<string, unknown>; delivery: unknown };
    assert.equal(turn.payload.kind, 'agentTurn');
    assert.equal(turn.payload.session, 'isolated');
    assert.deepEqual(turn.delivery, { mode: 'webhook', url: 'https://hooks.example.com/brief' });
    const event = data(
      await call(admin, 'job_add', {
        name: 'nudge',
        schedule: { kind: 'every', everyMs: '2h' },
        payload: { kind: 'systemEvent', text: 'Check the backups.', wake: 'now' },
      }),
    ).job as { payload: Record<string, unknown> };
    assert.deepEqual(
      { session: event.payload.session, wake: event.payload.wake },
      { session: 'main', wake: 'now' },
    );
    for (const [name, payload] of [
      ['nightly-backup', { kind: 'backup', profile: 'state' }],
      ['weekly-drill', { kind: 'drill', profile: 'state', sampleFiles: 5 }],
    ] as const) {
      const r = await call(admin, 'job_add', {
        name,
        schedule: { kind: 'cron', expr: '0 3 * * *' },
        payload,
      });
      assert.equal(r.isError, undefined, text(r));
    }
    for (const name of ['morning-brief', 'nudge', 'nightly-backup', 'weekly-drill']) {
      const shown = data(await call(read, 'job_show', { job: name }));
      assert.ok((shown.contract as string[]).length > 0, `${name} has a contract`);
      assert.equal((shown.nextRuns as string[]).length, 5);
    }
    const wrong = await call(admin, 'job_add', {
      name: 'isolated-event',
      schedule: { kind: 'every', everyMs: '1h' },
      payload: { kind: 'systemEvent', text: 'x', session: 'isolated' },
    });
    assert.match(text(wrong), /payload\.session: a system event cannot target an isolated session/);
    for (const name of ['morning-brief', 'nudge', 'nightly-backup', 'weekly-drill'])
      await call(admin, 'job_remove', { job: name });
  });
});
