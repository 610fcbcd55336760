/**
 * The nightly multi-agent cycle of docs/examples/nightly-cycle, end to end with the real CLI and
 * daemon: apply, check, drift naming the field, update, prune an orphan, export round trip, and
 * the chain export+prep -> reset -> continue running in order. The agents' model endpoint is a
 * local stand-in speaking the OpenAI protocol.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, cliJson, DaemonProcess, eventually, tempHome } from '../interfaces/cli/cli-harness.ts';
import type { TempHome } from '../interfaces/cli/cli-harness.ts';
import { startFakeLlmServer } from '../agent/fake-llm-server.ts';
import type { FakeLlmServer } from '../agent/fake-llm-server.ts';

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/nightly-cycle/', import.meta.url));

describe('jobs as code: the nightly cycle', () => {
  let t: TempHome;
  let llm: FakeLlmServer;
  let dir: string;
  before(async () => {
    t = tempHome();
    llm = await startFakeLlmServer();
    dir = join(t.work, 'cycle');
    cpSync(EXAMPLE, dir, { recursive: true });
    // The reset script of the example, here one that writes down when it ran.
    const tools = join(t.work, 'tools');
    mkdirSync(tools);
    writeFileSync(
      join(tools, 'session-reset.sh'),
      `#!/bin/sh\necho "reset $1" >> ${join(t.work, 'reset.log')}\n`,
    );
    chmodSync(join(tools, 'session-reset.sh'), 0o755);
    const values = readFileSync(join(dir, 'values.yaml'), 'utf8').replace(
      /^tools_dir: .*$/m,
      `tools_dir: ${tools}`,
    );
    writeFileSync(join(dir, 'values.yaml'), values);
    mkdirSync(t.home, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(t.home, 'config.json'),
      JSON.stringify({
        agents: { 'bruba-manager': { baseUrl: llm.baseUrl, model: 'anthropic/claude-sonnet-4-5' } },
        prices: { 'anthropic/claude-sonnet-4-5': { input: 3, output: 15 } },
      }),
      { mode: 0o600 },
    );
  });
  after(async () => {
    await llm.close();
    t.cleanup();
  });

  const ns = (...args: string[]) => cli(t.home, args, { cwd: dir });

  test('apply, check, drift, update, prune, export round trip, and the chain in order', async () => {
    const values = ['--values', 'values.yaml'];
    let r = await ns('apply', 'jobs', ...values);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created nightly-reset \(jobs\/nightly-reset\.yaml:5\)/);
    assert.match(r.stdout, /4 created/);

    r = await ns('apply', 'jobs', ...values, '--check');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /in sync: 4 jobs in 4 files/);

    r = await ns('cron', 'show', 'nightly-reset');
    assert.match(r.stdout, /source: file jobs\/nightly-reset\.yaml/);
    assert.match(r.stdout, /runs after nightly-export succeeds and nightly-prep succeeds, all within 30m/);

    // Change one message: check names the field and exits 1, without writing.
    const prepFile = join(dir, 'jobs', 'nightly-prep.yaml');
    writeFileSync(prepFile, readFileSync(prepFile, 'utf8').replace('Nightly prep.', 'Nightly prep, v2.'));
    r = await ns('apply', 'jobs', ...values, '--check');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^nightly-prep\.payload\.message: "Nightly prep, v2\./m);
    assert.match(r.stdout, /\(file\) != "Nightly prep\. /);
    r = await ns('apply', 'jobs', ...values);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /updated nightly-prep/);
    assert.equal((await ns('apply', 'jobs', ...values, '--check')).code, 0);

    // An invalid file: exit 2 with file:line and field, nothing written.
    writeFileSync(join(dir, 'jobs', 'broken.yaml'), 'name: broken\ncron: "0 25 * * *"\ncommand: "true"\n');
    r = await ns('apply', 'jobs', ...values);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /jobs\/broken\.yaml:2: cron:/);
    rmSync(join(dir, 'jobs', 'broken.yaml'));

    // An orphan: declared, applied, removed from the files; pruned only when confirmed.
    writeFileSync(join(dir, 'jobs', 'old.yaml'), 'name: old-job\nevery: 1d\ncommand: "true"\n');
    assert.equal((await ns('apply', 'jobs', ...values)).code, 0);
    rmSync(join(dir, 'jobs', 'old.yaml'));
    r = await ns('apply', 'jobs', ...values, '--check');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /orphan: old-job \(made from jobs\/old\.yaml/);
    r = await ns('apply', 'jobs', ...values, '--prune');
    assert.equal(r.code, 2, 'no terminal and no --yes: refused');
    assert.match(r.stderr, /not pruning old-job/);
    assert.equal((await ns('cron', 'show', 'old-job')).code, 0, 'the refused prune removed the job');
    r = await ns('apply', 'jobs', ...values, '--prune', '--yes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed old-job/);
    assert.equal((await ns('cron', 'show', 'old-job')).code, 3);

    // cron edit on a job made from a file warns that apply will overwrite it.
    r = await ns('cron', 'edit', 'nightly-reset', '--description', 'edited by hand');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /declared in jobs\/nightly-reset\.yaml; the next `nightshift apply`/);
    assert.equal((await ns('apply', 'jobs', ...values)).code, 0);

    // Export round trip.
    r = await ns('export', '--dir', 'exported');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'exported', 'nightly-continue.yaml')));
    r = await ns('apply', 'exported', '--check');
    assert.equal(r.code, 0, r.stdout + r.stderr);

    // The chain with the real daemon: export and prep run (manual runs count), then reset, then continue.
    for (let i = 0; i < 3; i++) llm.enqueue({ content: 'done', usage: { prompt: 1000, completion: 100 } });
    const daemon = new DaemonProcess(t.home);
    try {
      await daemon.ready();
      assert.equal((await ns('cron', 'run', 'nightly-export')).code, 0);
      assert.equal((await ns('cron', 'run', 'nightly-prep')).code, 0);
      await daemon.waitFor(
        (e) => e.event === 'run.finished' && e.jobName === 'nightly-continue',
        'nightly-continue to finish',
        60_000,
      );
      const started = daemon.events
        .filter((e) => e.event === 'run.started')
        .map((e) => `${e.jobName as string}:${e.trigger as string}`);
      assert.deepEqual(started.slice(2), ['nightly-reset:chain', 'nightly-continue:chain']);
      assert.deepEqual(started.slice(0, 2).sort(), ['nightly-export:manual', 'nightly-prep:manual']);
      const finished = daemon.events.filter((e) => e.event === 'run.finished');
      assert.ok(
        finished.every((e) => e.status === 'ok'),
        JSON.stringify(finished),
      );
      assert.equal(readFileSync(join(t.work, 'reset.log'), 'utf8'), 'reset all\n');

      const { json: runs } = await cliJson<{
        entries: { trigger: string; details: { chain?: { afterJob: string } } }[];
      }>(t.home, ['cron', 'runs', '--id', 'nightly-continue']);
      assert.equal(runs.entries[0]!.trigger, 'chain');
      assert.equal(runs.entries[0]!.details.chain?.afterJob, 'nightly-reset');
      // Each finished run of export, prep and continue recorded its tokens: cost shows them.
      const cost = await eventually(async () => {
        const { json } = await cliJson<{ byJob: { job: string; runs: number; cost: number }[] }>(t.home, [
          'cost',
        ]);
        return json.byJob.length === 3 ? json : undefined;
      }, 'three jobs in cost');
      const prep = cost.byJob.find((j) => j.job === 'nightly-prep')!;
      assert.equal(prep.runs, 1);
      assert.ok(Math.abs(prep.cost - (1000 * 3 + 100 * 15) / 1e6) < 1e-12);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.exit().catch(() => daemon.dispose());
    }
  });
});
