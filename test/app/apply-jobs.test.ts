import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../../src/app/app.ts';
import type { App } from '../../src/app/app.ts';
import { applyJobFiles } from '../../src/app/apply-jobs.ts';
import type { ApplyOptions } from '../../src/app/apply-jobs.ts';
import { exportJobs, fileNameFor } from '../../src/app/export-jobs.ts';
import { addJob, editJob, newJob, removeJob } from '../../src/app/jobs.ts';
import type { JobInput } from '../../src/domain/job-validation.ts';
import { renderJobFiles } from '../../src/app/job-files.ts';
import { UserError } from '../../src/domain/errors.ts';
import { jobDocumentJsonSchema } from '../../src/domain/job-file-schema.ts';

let root: string;
let dir: string;
let app: App;

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

function apply(opts: ApplyOptions = {}, paths = [dir]) {
  return applyJobFiles(app, paths, opts);
}

function add(input: JobInput) {
  return addJob(app, newJob(input));
}

/** The jobs as stored, and the bytes of the SQLite database and its write-ahead log (-shm changes on reads). */
async function snapshot(): Promise<string> {
  const files = readdirSync(join(root, 'home'))
    .filter((f) => f === 'nightshift.db' || f === 'nightshift.db-wal')
    .sort()
    .map(
      (f) =>
        `${f}:${createHash('sha256')
          .update(readFileSync(join(root, 'home', f)))
          .digest('hex')}`,
    );
  return JSON.stringify([await app.store.listJobs(), files]);
}

/** Expects the apply to be refused with exit 2 and a message containing every `parts`; the store is unchanged. */
async function refused(opts: ApplyOptions, ...parts: string[]): Promise<UserError> {
  const before = await snapshot();
  const err = await apply(opts).then(
    () => assert.fail('apply should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError, String(err));
  assert.equal(err.exitCode, 2);
  for (const p of parts) assert.ok(err.message.includes(p), `"${p}" not in:\n${err.message}`);
  assert.match(err.message, /nothing was changed/);
  assert.equal(await snapshot(), before, 'the store changed after a refused apply');
  return err;
}

const NIGHTLY = `# the nightly cycle
name: nightly-prep
description: agents write CONTINUATION.md
cron: "0 4 * * *"
tz: America/New_York
message: write your continuation packet
agent: manager
tools: [message]
retries: 2
---
name: nightly-reset
after: nightly-prep
within: 30m
command: [/bin/echo, reset]
alert-after: 1
`;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'ns-apply-'));
  dir = join(root, 'jobs');
  mkdirSync(dir);
  mkdirSync(join(root, 'home'));
  const agent = { baseUrl: 'http://127.0.0.1:9/v1', model: 'm' };
  // The agents and channel the files name; channels and agents a file names must be configured.
  writeFileSync(
    join(root, 'home', 'config.json'),
    JSON.stringify({
      channels: { ops: { kind: 'webhook', url: 'http://127.0.0.1:9/hook' } },
      agents: { manager: agent, a: agent },
    }),
    { mode: 0o600 },
  );
  app = await openApp(join(root, 'home'));
});
afterEach(async () => {
  await app.close();
  rmSync(root, { recursive: true, force: true });
});

describe('apply', () => {
  test('creates, reports in sync, names the drifted field, updates keeping state and runs', async () => {
    const file = write('nightly.yaml', NIGHTLY);
    const first = await apply();
    assert.deepEqual(
      first.created.map((c) => c.name),
      ['nightly-prep', 'nightly-reset'],
    );
    const prep = (await app.store.findJob('nightly-prep'))!;
    assert.deepEqual(prep.source, { kind: 'file', path: file });
    assert.equal(prep.policy.retries, 2);
    const reset = (await app.store.findJob('nightly-reset'))!;
    assert.deepEqual(reset.schedule, {
      kind: 'after',
      after: [{ job: 'nightly-prep', on: 'success' }],
      withinMs: 1_800_000,
    });

    const check = await apply({ check: true });
    assert.equal(check.inSync, true);
    assert.deepEqual(check.unchanged, ['nightly-prep', 'nightly-reset']);

    // Run history and state survive an update.
    await app.store.claimRun({
      runId: 'r1',
      jobId: prep.id,
      slotMs: 1000,
      attempt: 1,
      trigger: 'manual',
      status: 'running',
      startedAtMs: 1000,
    });
    await app.store.patchJobState(prep.id, { lastRunAtMs: 1000, consecutiveErrors: 3 });

    write('nightly.yaml', NIGHTLY.replace('write your continuation packet', 'write CONTINUATION.md now'));
    const drift = await apply({ check: true });
    assert.equal(drift.inSync, false);
    assert.deepEqual(
      drift.updated[0]!.drift!.map((d) => [d.path, d.file, d.store]),
      [['payload.message', 'write CONTINUATION.md now', 'write your continuation packet']],
    );
    assert.equal((await app.store.findJob('nightly-prep'))!.payload.kind, 'agentTurn');
    assert.equal(
      ((await app.store.findJob('nightly-prep'))!.payload as { message: string }).message,
      'write your continuation packet',
      'check wrote to the store',
    );

    const applied = await apply();
    assert.deepEqual(
      applied.updated.map((u) => u.name),
      ['nightly-prep'],
    );
    const after = (await app.store.findJob('nightly-prep'))!;
    assert.equal(after.id, prep.id);
    assert.equal((after.payload as { message: string }).message, 'write CONTINUATION.md now');
    assert.equal(after.state.consecutiveErrors, 3);
    assert.equal(after.state.lastRunAtMs, 1000);
    assert.equal((await app.store.listRuns({ jobId: prep.id })).total, 1);
    assert.equal((await apply({ check: true })).inSync, true);
  });

  test('a field removed from the file goes back to its default (the file is the whole definition)', async () => {
    write('nightly.yaml', NIGHTLY);
    await apply();
    write('nightly.yaml', NIGHTLY.replace('retries: 2\n', '').replace('tools: [message]\n', ''));
    const r = await apply();
    assert.deepEqual(r.updated[0]!.drift!.map((d) => d.path).sort(), ['payload.tools', 'policy.retries']);
    const prep = (await app.store.findJob('nightly-prep'))!;
    assert.equal(prep.policy.retries, 0);
    assert.equal((prep.payload as { tools?: string[] }).tools, undefined);
    assert.equal((await apply({ check: true })).inSync, true);
  });

  test('dry run writes nothing', async () => {
    write('nightly.yaml', NIGHTLY);
    const r = await apply({ dryRun: true });
    assert.equal(r.created.length, 2);
    assert.equal((await app.store.listJobs()).length, 0);
  });

  test('orphans: reported by check, kept without --prune, removed with confirmation; other jobs untouched', async () => {
    write('nightly.yaml', NIGHTLY);
    const extra = write('sub/extra.yml', 'name: extra\nevery: 1h\ncommand: "true"\n');
    await apply();
    await add({
      name: 'by-hand',
      schedule: { kind: 'every', everyMs: 60_000 },
      payload: { kind: 'command', command: 'true' },
    });
    unlinkSync(extra);
    const check = await apply({ check: true });
    assert.equal(check.inSync, false);
    assert.deepEqual(
      check.orphans.map((o) => o.name),
      ['extra'],
    );
    const kept = await apply();
    assert.deepEqual(kept.removed, []);
    assert.ok(await app.store.findJob('extra'));

    await refused({ prune: true }, 'not pruning extra');
    await refused({ prune: true, confirm: async () => false }, 'not pruning extra');

    let asked: string[] = [];
    const pruned = await apply({
      prune: true,
      confirm: async (o) => {
        asked = o.map((j) => j.name);
        return true;
      },
    });
    assert.deepEqual(asked, ['extra']);
    assert.deepEqual(pruned.removed, ['extra']);
    assert.equal(await app.store.findJob('extra'), undefined);
    assert.ok(await app.store.findJob('by-hand'), 'a job not made from files was pruned');
    assert.equal((await apply({ check: true })).inSync, true);
  });

  test('jobs from files outside the given paths are not orphans', async () => {
    write('a/one.yaml', 'name: one\nevery: 1h\ncommand: "true"\n');
    write('b/two.yaml', 'name: two\nevery: 1h\ncommand: "true"\n');
    await apply();
    const r = await apply({ check: true }, [join(dir, 'a')]);
    assert.deepEqual(r.orphans, []);
    assert.equal(r.inSync, true);
  });
});

describe('apply refuses, and the store stays as it was', () => {
  beforeEach(async () => {
    write('nightly.yaml', NIGHTLY);
    await apply();
  });

  test('YAML syntax error, with file:line', async () => {
    write('broken.yaml', 'name: broken\ncron: "0 4 * * *\ncommand: x\n');
    await refused({}, 'broken.yaml:', 'YAML');
  });

  test('unknown key, naming it and its line', async () => {
    write('typo.yaml', 'name: typo\ncron: "0 4 * * *"\ncomand: x\n');
    await refused({}, 'typo.yaml:3: comand: unknown key');
  });

  test('bad cron expression, naming the key', async () => {
    write('bad.yaml', '\nname: bad\ncron: "61 4 * * *"\ncommand: x\n');
    await refused({}, 'bad.yaml:3: cron:');
  });

  test('unknown backup profile', async () => {
    write('b.yaml', 'name: b\ncron: "0 3 * * *"\nbackup: nosuch\n');
    await refused({}, 'b.yaml:3: backup: no backup profile named "nosuch"');
  });

  test('an unknown agent or alert channel, listing the configured ones', async () => {
    write(
      'a.yaml',
      'name: a1\nevery: 1h\ncommand: x\n---\nname: a2\nevery: 1h\nmessage: hi\nagent: mangaer\n',
    );
    assert.match((await refused({}, 'unknown agent "mangaer"')).hint ?? '', /configured agents: manager, a/);
    write('a.yaml', 'name: a1\nevery: 1h\ncommand: x\nalert-after: 1\nalert-channel: opps\n');
    await refused({}, 'unknown alert channel "opps"');
  });

  test('a name declared twice', async () => {
    write('dup.yaml', 'name: nightly-prep\nevery: 1h\ncommand: x\n');
    await refused({}, 'nightly.yaml:2: name: nightly-prep is also declared at', 'dup.yaml:1');
  });

  test('a chain cycle and an unknown predecessor', async () => {
    write('cycle.yaml', 'name: c1\nafter: c2\ncommand: x\n---\nname: c2\nafter: c1\ncommand: x\n');
    await refused({}, 'chain cycle: c1 -> c2 -> c1');
    rmSync(join(dir, 'cycle.yaml'));
    write('lost.yaml', 'name: lost\nafter: nowhere\ncommand: x\n');
    await refused({}, 'lost.yaml:2: after: lost runs after nowhere, and there is no job named nowhere');
  });

  test('pruning a job that a chain still runs after', async () => {
    rmSync(join(dir, 'nightly.yaml'));
    write(
      'reset.yaml',
      'name: nightly-reset\nafter: nightly-prep\nwithin: 30m\ncommand: [/bin/echo, reset]\nalert-after: 1\n',
    );
    await refused({ prune: true, confirm: async () => true }, 'no job named nightly-prep');
  });

  test('one bad file fails the whole apply, good files included', async () => {
    write('new.yaml', 'name: fresh\nevery: 1h\ncommand: x\n');
    write('zz-bad.yaml', 'name: worse\nevery: 5\ncommand: x\n');
    await refused({}, 'zz-bad.yaml:2: every: must be a duration with a unit');
    assert.equal(await app.store.findJob('fresh'), undefined);
  });

  test('a job of the same name made elsewhere with another definition (unless --adopt)', async () => {
    await add({
      name: 'mine',
      schedule: { kind: 'every', everyMs: 60_000 },
      payload: { kind: 'command', command: 'true' },
    });
    write('mine.yaml', 'name: mine\nevery: 2m\ncommand: "true"\n');
    await refused({}, 'mine.yaml:1: name: a job named mine already exists and was not made from files');
    const r = await apply({ adopt: true });
    assert.equal(r.updated[0]!.adopted, true);
    assert.equal((await app.store.findJob('mine'))!.source?.kind, 'file');
  });

  test('a template name that is not defined', async () => {
    write('t.yaml', 'name: t\nevery: 1h\nmessage: "hello {{HUMAN_NAME}}"\n');
    await refused({}, 't.yaml:3: message: template: "HUMAN_NAME" not defined');
  });
});

describe('templates', () => {
  test('values file, vars, and a block built from the agents whose flag is true', () => {
    const values = join(root, 'values.yaml');
    writeFileSync(
      values,
      'agents:\n  bruba-main: {reset_cycle: true}\n  bruba-web: {reset_cycle: false}\n  bruba-rex: {reset_cycle: true}\n',
    );
    write(
      'prep.yaml',
      'name: prep\ncron: "0 4 * * *"\nvars: {HUMAN_NAME: Sam}\nmessage: |\n  For {{HUMAN_NAME}}:\n  {{#each (where agents "reset_cycle")}}\n  - {{name}}: write CONTINUATION.md\n  {{/each}}\n',
    );
    const [job] = renderJobFiles([dir], { valuesFile: values, nowMs: Date.now(), newId: () => 'x' });
    assert.equal(
      job!.doc.message,
      'For Sam:\n- bruba-main: write CONTINUATION.md\n- bruba-rex: write CONTINUATION.md\n',
    );
  });

  test('a JSON file may hold a list of jobs', () => {
    write(
      'jobs.json',
      JSON.stringify(
        [
          { name: 'j1', every: '1h', command: 'true' },
          { name: 'j2', cron: '0 5 * * *', 'system-event': 'check the backups' },
        ],
        null,
        2,
      ),
    );
    const jobs = renderJobFiles([dir], { nowMs: Date.now(), newId: () => 'x' });
    assert.deepEqual(
      jobs.map((j) => [j.job.name, j.job.payload.kind, j.line]),
      [
        ['j1', 'command', 2],
        ['j2', 'systemEvent', 7],
      ],
    );
  });
});

describe('export', () => {
  test('round trip: every kind of field exported and applied back reports no drift', async () => {
    const now = Date.now();
    await add({
      name: 'cmd',
      description: 'd',
      schedule: { kind: 'cron', expr: '*/5 * * * *', tz: 'Europe/Berlin' },
      payload: {
        kind: 'command',
        argv: ['/bin/echo', 'hi'],
        cwd: '/tmp',
        env: { A: '1' },
        input: 'x',
        timeoutSeconds: 30,
      },
      evidence: { expectOutput: 'hi' },
      policy: {
        overlap: 'queue-one',
        catchup: 'all',
        catchupWindowMs: 7_200_000,
        catchupMax: 3,
        retries: 2,
        retryBackoffMs: [1000, 90_000],
      },
      history: { maxRuns: 10, maxAgeMs: 86_400_000, outputTailBytes: 100 },
      alerts: {
        afterFailures: 2,
        cooldownMs: 60_000,
        recovery: false,
        ifNoSuccessWithinMs: 7_200_000,
        channels: ['ops'],
      },
      delivery: {
        mode: 'webhook',
        url: 'https://example.com/h',
        failureDestination: { channel: 'ops', to: '@me' },
      },
      healthcheck: { url: 'https://hc.example.com/x' },
    });
    await add({
      name: 'turn',
      enabled: false,
      schedule: { kind: 'every', everyMs: 5_400_000 },
      payload: {
        kind: 'agentTurn',
        message: 'hello\nworld',
        session: 'main',
        agent: 'a',
        model: 'm',
        fallbacks: ['m2'],
        tools: ['exec'],
        execAllowlist: [['git', 'status']],
        lightContext: true,
      } as never,
      delivery: { mode: 'announce', channel: 'ops', to: '#x' },
    });
    await add({
      name: 'event',
      schedule: { kind: 'at', at: new Date(now + 86_400_000).toISOString() },
      deleteAfterRun: false,
      payload: { kind: 'systemEvent', text: 'ping', session: 'main', wake: 'now' } as never,
      delivery: { mode: 'none' },
    });
    await add({
      name: 'chained',
      schedule: {
        kind: 'after',
        after: [
          { job: 'cmd', on: 'always' },
          { job: 'turn', on: 'failure' },
        ],
        withinMs: 600_000,
      },
      payload: { kind: 'command', command: 'true' },
    });
    await add({
      name: 'offsite-drill',
      schedule: { kind: 'cron', expr: '0 5 * * 0', tz: 'UTC' },
      payload: {
        kind: 'drill',
        repository: '/srv/backups',
        identityRef: 'file:/root/identity.txt',
        samplePercent: 5,
      } as never,
    });
    const exported = await exportJobs(app);
    assert.equal(exported.length, 5);
    // A drill where the identity lives: the repository and the identity reference, no profile.
    assert.match(
      exported.find((e) => e.name === 'offsite-drill')!.yaml,
      /drill-repo: \/srv\/backups\nidentity-ref: file:\/root\/identity\.txt\ndrill-sample: 5%/,
    );
    for (const e of exported) write(fileNameFor(e.name), e.yaml);
    const r = await apply({ check: true });
    assert.deepEqual(r.updated, [], JSON.stringify(r.updated, null, 1));
    assert.equal(r.inSync, true);
    // The made-elsewhere jobs are linked to their files on apply, still without a change.
    const applied = await apply();
    assert.equal(applied.relinked.length, 5);
    assert.equal((await app.store.findJob('cmd'))!.source?.kind, 'file');
    // Defaults are left out of the files.
    const chained = exported.find((e) => e.name === 'chained')!.yaml;
    assert.equal(
      chained,
      'name: chained\nafter:\n  - job: cmd\n    on: always\n  - job: turn\n    on: failure\nwithin: 10m\ncommand: "true"\n',
    );
  });
});

test('the JSON Schema lists the keys and refuses others', () => {
  const s = jobDocumentJsonSchema() as {
    properties: Record<string, unknown>;
    additionalProperties: unknown;
    required: string[];
  };
  for (const k of ['name', 'cron', 'after', 'within', 'message', 'system-event', 'retries', 'alert-after'])
    assert.ok(k in s.properties, k);
  assert.equal(s.additionalProperties, false);
  assert.deepEqual(s.required, ['name']);
});

describe('chains through the job use cases (cron add/edit --after)', () => {
  test('a missing predecessor, a cycle made by an edit, and a rename that strands a follower are refused', async () => {
    await add({
      name: 'a',
      schedule: { kind: 'every', everyMs: 60_000 },
      payload: { kind: 'command', command: 'true' },
    });
    const chainTo = (job: string) => ({ kind: 'after' as const, after: [{ job, on: 'success' as const }] });
    await assert.rejects(
      add({ name: 'b', schedule: chainTo('nope'), payload: { kind: 'command', command: 'true' } }),
      /schedule\.after: b runs after nope, and there is no job named nope/,
    );
    await add({ name: 'b', schedule: chainTo('a'), payload: { kind: 'command', command: 'true' } });
    const before = await snapshot();
    await assert.rejects(editJob(app, 'a', { schedule: chainTo('b') }), /chain cycle: a -> b -> a/);
    await assert.rejects(editJob(app, 'a', { name: 'a2' }), /b runs after a, and there is no job named a/);
    assert.equal(await snapshot(), before);
  });
});

describe('a job other jobs run after (cron rm, job_remove, DELETE, apply --prune)', () => {
  const cmd = { kind: 'command' as const, command: 'true' };
  const chainTo = (job: string) => ({ kind: 'after' as const, after: [{ job, on: 'success' as const }] });
  beforeEach(async () => {
    await add({ name: 'prep', schedule: { kind: 'every', everyMs: 60_000 }, payload: cmd });
    await add({ name: 'reset', schedule: chainTo('prep'), payload: cmd });
    await add({ name: 'continue', schedule: chainTo('reset'), payload: cmd });
  });

  test('is refused naming its successors and the fix; the store is unchanged', async () => {
    const before = await snapshot();
    const err = await removeJob(app, 'prep').then(
      () => assert.fail('removal should have been refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof UserError);
    assert.equal(err.code, 'has_successors');
    assert.equal(err.exitCode, 4);
    assert.match(err.message, /prep cannot be removed: reset, continue run after it/);
    assert.match(err.hint ?? '', /nightshift cron rm continue/);
    assert.match(err.hint ?? '', /--force` removes prep and reset, continue together/);
    assert.equal(await snapshot(), before);
  });

  test('with force, the successors go too, the furthest first; a job at the end of a chain goes alone', async () => {
    const { alsoRemoved } = await removeJob(app, 'reset', { force: true });
    assert.deepEqual(
      alsoRemoved.map((j) => j.name),
      ['continue'],
    );
    assert.deepEqual(
      (await app.store.listJobs()).map((j) => j.name),
      ['prep'],
    );
    assert.deepEqual((await removeJob(app, 'prep')).alsoRemoved, []);
  });

  test('apply --prune removes a whole orphaned chain, followers first', async () => {
    write('chain.yaml', 'name: a\nevery: 1h\ncommand: "true"\n---\nname: b\nafter: a\ncommand: "true"\n');
    await apply();
    write('chain.yaml', 'name: other\nevery: 1h\ncommand: "true"\n');
    const r = await apply({ prune: true, confirm: async () => true });
    assert.deepEqual(r.removed, ['b', 'a']);
  });
});

describe('sizes in job files take units (the one size reader of the flags)', () => {
  test('4M and "16 KiB"; a size without a readable unit is refused naming the key', async () => {
    write(
      's.yaml',
      'name: s\nevery: 1h\ncommand: "true"\nexpect-file: /tmp/x\nexpect-min-bytes: 4M\noutput-tail-bytes: 16 KiB\n',
    );
    await apply();
    const job = (await app.store.findJob('s'))!;
    assert.equal(job.evidence.expectMinBytes, 4 * 1024 ** 2);
    assert.equal(job.history.outputTailBytes, 16 * 1024);
    assert.equal((await apply({ check: true })).inSync, true);
    write('s.yaml', 'name: s\nevery: 1h\ncommand: "true"\noutput-tail-bytes: 16 kilos\n');
    await refused({}, 's.yaml:4: output-tail-bytes:');
    // A size key a command job cannot have is named at its own line.
    write('s.yaml', 'name: s\nevery: 1h\ncommand: "true"\nalert-after: 1\nalert-max-repo-bytes: 500 GB\n');
    await refused({}, 's.yaml:5: alert-max-repo-bytes: anomaly and storage alerts apply to backup jobs only');
  });
});
