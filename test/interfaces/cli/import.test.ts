import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, tempHome } from './cli-harness.ts';
import type { CliResult, TempHome } from './cli-harness.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/openclaw/', import.meta.url));
const PROGRAM = fileURLToPath(new URL('../../../src/interfaces/cli/program.ts', import.meta.url));
const IMPORT = fileURLToPath(new URL('../../../src/interfaces/cli/import.ts', import.meta.url));

/**
 * `nightshift --home H import …` in a child process: the real program, with the import command
 * added when program.ts does not register it yet.
 */
function nsImport(home: string, args: string[]): Promise<CliResult> {
  const code = `
    const { buildProgram } = await import(${JSON.stringify(PROGRAM)});
    const { registerImportCommands } = await import(${JSON.stringify(IMPORT)});
    const { reportError } = await import(${JSON.stringify(PROGRAM.replace('program.ts', 'output.ts'))});
    const argv = JSON.parse(process.argv[1]);
    const p = await buildProgram(argv);
    if (!p.commands.some((c) => c.name() === 'import')) registerImportCommands(p);
    for (const c of p.commands) c.exitOverride();
    try { await p.parseAsync(argv, { from: 'user' }); }
    catch (err) { process.exitCode = reportError(err, argv.includes('--json')); }
  `;
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NIGHTSHIFT_HOME;
    delete env.NODE_OPTIONS;
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code, JSON.stringify(['--home', home, ...args])],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Report {
  dryRun: boolean;
  stateFile: string | null;
  counts: Record<string, number>;
  entries: {
    action: string;
    name: string;
    openclawId: string;
    reason?: string;
    unmapped: { field: string }[];
  }[];
}

async function listJobs(home: string): Promise<
  {
    name: string;
    description?: string;
    source?: { kind: string; id: string };
    state: Record<string, unknown>;
  }[]
> {
  const r = await cli(home, ['cron', 'list', '--all', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (
    JSON.parse(r.stdout) as {
      jobs: {
        name: string;
        description?: string;
        source?: { kind: string; id: string };
        state: Record<string, unknown>;
      }[];
    }
  ).jobs;
}

describe('nightshift import openclaw', () => {
  let h: TempHome;
  before(() => {
    h = tempHome();
    mkdirSync(h.home, { recursive: true });
    const config = join(h.home, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        channels: { telegram: { kind: 'telegram', botToken: 'env:TG_BOT_TOKEN', chatId: '123456789' } },
      }),
    );
    chmodSync(config, 0o600);
  });
  after(() => h.cleanup());

  test('imports the classic file, then re-running changes nothing', { timeout: 120_000 }, async () => {
    const dry = await nsImport(h.home, [
      'import',
      'openclaw',
      join(FIXTURES, 'classic/jobs.json'),
      '--dry-run',
      '--json',
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual((JSON.parse(dry.stdout) as Report).counts, {
      created: 3,
      updated: 0,
      unchanged: 0,
      skipped: 0,
    });
    assert.deepEqual(await listJobs(h.home), [], 'a dry run writes nothing');

    const first = await nsImport(h.home, ['import', 'openclaw', join(FIXTURES, 'classic'), '--json']);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout) as Report;
    assert.equal(report.dryRun, false);
    assert.equal(report.stateFile, null);
    assert.deepEqual(report.counts, { created: 3, updated: 0, unchanged: 0, skipped: 0 });
    const jobs = await listJobs(h.home);
    assert.deepEqual(jobs.map((j) => j.name).sort(), ['Hourly sweep', 'Morning brief', 'Reminder']);
    const brief = jobs.find((j) => j.name === 'Morning brief')!;
    assert.deepEqual(brief.source, { kind: 'openclaw', id: 'morning-brief' });
    assert.equal(brief.state.lastRunStatus, 'ok');
    // An imported turn without tools says so where the user looks at the job.
    const show = await cli(h.home, ['cron', 'show', 'Morning brief']);
    assert.match(show.stdout, /Tools: none\. Imported from OpenClaw, .*can only reply/);

    const again = await nsImport(h.home, ['import', 'openclaw', join(FIXTURES, 'classic/jobs.json')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^unchanged +Morning brief +morning-brief +[0-9a-f]{12}$/m);
    assert.match(again.stdout, /0 created, 0 updated, 3 unchanged, 0 skipped/);
    assert.equal((await listJobs(h.home)).length, 3, 'no duplicates');
  });

  test('an edited OpenClaw job updates the job imported before', { timeout: 120_000 }, async () => {
    const dir = join(h.work, 'edited');
    cpSync(join(FIXTURES, 'classic'), dir, { recursive: true });
    const file = join(dir, 'jobs.json');
    const text = (await import('node:fs')).readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('Sweep the inbox.', 'Sweep the inbox and the spam folder.'));
    const r = await nsImport(h.home, ['import', 'openclaw', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(report.counts, { created: 0, updated: 1, unchanged: 2, skipped: 0 });
    assert.equal(report.entries.find((e) => e.action === 'updated')?.name, 'Hourly sweep');
    const show = await cli(h.home, ['cron', 'show', 'Hourly sweep', '--json']);
    assert.match(show.stdout, /spam folder/);
  });

  test(
    'reads the jobs-state.json sidecar and prints unmapped fields and skips in the table',
    { timeout: 120_000 },
    async () => {
      const side = await nsImport(h.home, [
        'import',
        'openclaw',
        join(FIXTURES, 'sidecar/jobs.json'),
        '--json',
      ]);
      assert.equal(side.code, 0, side.stderr);
      assert.match((JSON.parse(side.stdout) as Report).stateFile ?? '', /sidecar\/jobs-state\.json$/);
      const digest = (await listJobs(h.home)).find((j) => j.name === 'Nightly digest')!;
      assert.equal(digest.state.lastError, 'model not allowed: gpt-5');

      const un = await nsImport(h.home, ['import', 'openclaw', join(FIXTURES, 'unmappable/jobs.json')]);
      assert.equal(un.code, 0, un.stderr);
      assert.match(un.stdout, /^created +Deep think /m);
      assert.match(un.stdout, /not mapped: payload\.thinking: thinking level "high"/);
      assert.match(
        un.stdout,
        /not mapped: delivery\.channel: no nightshift channel named "whatsapp" \(configured: telegram\)/,
      );
      assert.match(un.stdout, /^skipped +Past reminder +gone-reminder +one-shot time .* has passed/m);
      assert.match(
        un.stdout,
        /^skipped +Mystery kind +mystery +payload\.kind: "browserTask" cannot be imported/m,
      );
      assert.match(un.stdout, /2 created, 0 updated, 0 unchanged, 2 skipped/);
    },
  );

  test('an invalid file is refused and nothing is written', { timeout: 120_000 }, async () => {
    const before = (await listJobs(h.home)).length;
    const r = await nsImport(h.home, ['import', 'openclaw', join(FIXTURES, 'invalid/jobs.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot import: a job is invalid; nothing was written/);
    assert.match(r.stderr, /job "broken" \(Broken cron\): schedule/);
    const after = await listJobs(h.home);
    assert.equal(after.length, before);
    assert.ok(!after.some((j) => j.name === 'Fine job'), 'the valid job of the file was not imported either');

    // A refused import into a home that has no database yet leaves none behind.
    const fresh = join(h.work, 'fresh-home');
    const refused = await nsImport(fresh, ['import', 'openclaw', join(FIXTURES, 'invalid/jobs.json')]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.ok(!existsSync(join(fresh, 'nightshift.db')), 'no database was created');

    const missing = await nsImport(h.home, ['import', 'openclaw', join(h.work, 'nope.json')]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no such file or directory/);
  });
});
