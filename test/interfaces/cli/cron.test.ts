import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliJson, tempHome } from './cli-harness.ts';
import type { TempHome } from './cli-harness.ts';

interface JobJson {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  schedule: { kind: string; expr?: string; tz?: string; everyMs?: number; at?: string };
  payload: {
    kind: string;
    command?: string;
    argv?: string[];
    cwd?: string;
    env?: Record<string, string>;
    timeoutSeconds?: number;
  };
  policy: { overlap: string; catchup: string; retries: number; retryBackoffMs: number[]; catchupMax: number };
  evidence: { expectFile?: string; expectMinBytes?: number; expectOutput?: string };
  history: { maxRuns: number; maxAgeMs: number; outputTailBytes: number };
  deleteAfterRun: boolean;
  createdAtMs: number;
  updatedAtMs: number;
  state: Record<string, unknown>;
}

interface RunsJson {
  entries: Array<Record<string, unknown>>;
  total: number;
  hasMore: boolean;
}

const homes: TempHome[] = [];
function freshHome(): TempHome {
  const h = tempHome();
  homes.push(h);
  return h;
}
after(() => {
  for (const h of homes) h.cleanup();
});

describe('cron add, list, get, show, edit, enable, disable, rm', () => {
  test('a job round-trips through every verb, by name and by id', async () => {
    const { home } = freshHome();
    const add = await cliJson<JobJson>(home, [
      'cron',
      'create',
      '--name',
      'nightly backup',
      '--description',
      'tar the workspace',
      '--cron',
      '30 2 * * *',
      '--tz',
      'Europe/Berlin',
      '--command',
      'tar czf /tmp/x.tgz .',
      '--command-env',
      'LEVEL=9',
      '--command-env',
      'TOKEN=s3cret-value',
      '--timeout-seconds',
      '120',
      '--expect-file',
      '/tmp/x.tgz',
      '--expect-min-bytes',
      '100',
      '--overlap',
      'queue-one',
      '--catchup',
      'all',
      '--catchup-max',
      '3',
      '--retries',
      '2',
      '--retry-backoff',
      '10s,1m',
      '--history-max-runs',
      '50',
    ]);
    assert.equal(add.result.code, 0, add.result.stderr);
    const job = add.json;
    assert.match(job.id, /^[0-9a-f]{12}$/);
    assert.deepEqual(job.schedule, { kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Berlin' });
    assert.deepEqual(job.payload.env, { LEVEL: '9', TOKEN: 's3cret-value' });
    assert.equal(job.payload.timeoutSeconds, 120);
    assert.deepEqual(job.evidence, { expectFile: '/tmp/x.tgz', expectMinBytes: 100 });
    assert.equal(job.policy.overlap, 'queue-one');
    assert.equal(job.policy.catchup, 'all');
    assert.equal(job.policy.catchupMax, 3);
    assert.equal(job.policy.retries, 2);
    assert.deepEqual(job.policy.retryBackoffMs, [10_000, 60_000]);
    assert.equal(job.history.maxRuns, 50);

    // get by name gives the stored job as it was printed; show takes the id; the home is private.
    const [byName, list, show, showJson] = await Promise.all([
      cliJson<JobJson>(home, ['cron', 'get', 'nightly backup']),
      cli(home, ['cron', 'list']),
      cli(home, ['cron', 'show', job.id]),
      cliJson<JobJson & { contract: string[]; nextRuns: string[] }>(home, ['cron', 'show', 'nightly backup']),
    ]);
    assert.deepEqual(byName.json, job);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'nightshift.db')).mode & 0o777, 0o600);

    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /NAME\s+ID\s+SCHEDULE\s+NEXT RUN\s+STATUS/);
    assert.match(
      list.stdout,
      new RegExp(`nightly backup\\s+${job.id}\\s+cron "30 2 \\* \\* \\*" \\(Europe/Berlin\\)`),
    );

    // show: the contract in words, the explicit zone, five next fires; never the env values.
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Runs: \/bin\/sh -c 'tar czf \/tmp\/x.tgz .'/);
    assert.match(show.stdout, /Timeout: 2m/);
    assert.match(show.stdout, /a file matching \/tmp\/x.tgz exists/);
    assert.match(show.stdout, /up to 2 retries/);
    assert.match(show.stdout, /Next fires \(Europe\/Berlin \| UTC\)/);
    assert.match(show.stdout, /nightshift doctor --job 'nightly backup'/);
    assert.equal(show.stdout.match(/\d{4}-\d\d-\d\d 02:30:00 \+0[12]:00/g)?.length, 5);
    assert.match(show.stdout, /LEVEL, TOKEN \(values not shown\)/);
    assert.doesNotMatch(show.stdout, /s3cret-value/);
    assert.equal(showJson.json.id, job.id);
    assert.equal(showJson.json.nextRuns.length, 5);
    for (const iso of showJson.json.nextRuns) assert.match(iso, /^\d{4}-\d\d-\d\dT(00|01):30:00\.000Z$/);
    assert.ok(showJson.json.contract.some((l) => l.startsWith('Runs: ')));

    // edit changes only what is given.
    const edit = await cliJson<JobJson>(home, [
      'cron',
      'edit',
      job.id,
      '--cron',
      '0 4 * * *',
      '--retries',
      '0',
    ]);
    assert.equal(edit.result.code, 0, edit.result.stderr);
    assert.deepEqual(edit.json.schedule, { kind: 'cron', expr: '0 4 * * *', tz: 'Europe/Berlin' });
    assert.equal(edit.json.policy.retries, 0);
    assert.equal(edit.json.policy.overlap, 'queue-one');
    assert.deepEqual(edit.json.payload, job.payload);
    assert.deepEqual(edit.json.evidence, job.evidence);
    assert.equal(edit.json.description, 'tar the workspace');

    const rename = await cliJson<JobJson>(home, [
      'cron',
      'edit',
      'nightly backup',
      '--name',
      'backup',
      '--every',
      '15m',
    ]);
    assert.equal(rename.result.code, 0, rename.result.stderr);
    assert.equal(rename.json.name, 'backup');
    assert.deepEqual(rename.json.schedule, { kind: 'every', everyMs: 900_000 });

    // disable hides the job from list unless --all; enable brings it back.
    const disable = await cli(home, ['cron', 'disable', 'backup']);
    assert.equal(disable.code, 0, disable.stderr);
    const [hidden, all] = await Promise.all([
      cliJson<{ jobs: JobJson[] }>(home, ['cron', 'list']),
      cliJson<{ jobs: Array<JobJson & { status: string }> }>(home, ['cron', 'list', '--all']),
    ]);
    assert.deepEqual(hidden.json.jobs, []);
    assert.equal(all.json.jobs.length, 1);
    assert.equal(all.json.jobs[0]!.status, 'disabled');
    assert.equal(all.json.jobs[0]!.enabled, false);
    const enable = await cliJson<JobJson>(home, ['cron', 'enable', job.id]);
    assert.equal(enable.json.enabled, true);

    // Names are exact (case-sensitive); delete removes the job; then it is unknown (exit 3).
    const wrongCase = await cli(home, ['cron', 'delete', 'Backup']);
    assert.equal(wrongCase.code, 3);
    const rm = await cli(home, ['cron', 'delete', 'backup']);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await cli(home, ['cron', 'get', 'backup']);
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /no job with id or name "backup"/);
    assert.match(gone.stderr, /hint: .*cron list --all/);
  });
});

describe('bad input: a clear error, exit 2, nothing written', () => {
  test('every bad flag is refused by name and the store stays empty', async () => {
    const { home } = freshHome();
    const base = ['cron', 'add', '--name', 'j', '--command', 'true'];
    const cases: Array<{ args: string[]; stderr: RegExp; code?: number }> = [
      {
        args: [...base, '--cron', '61 * * * *'],
        stderr: /--cron: minute field "61": 61 is outside 0-59\n\s*hint: minute accepts 0-59/,
      },
      {
        args: [...base, '--cron', '1 1 */100 * MON#4'],
        stderr: /--cron: .*never fires: no date falls on day-of-month \*\/100 AND the 4th Monday/,
      },
      {
        args: [...base, '--at', '2031-03-09T02:30', '--tz', 'America/New_York'],
        stderr:
          /--at: 2031-03-09T02:30 does not exist in America\/New_York[\s\S]*2031-03-09T01:59 \(-05:00\)[\s\S]*2031-03-09T03:00 \(-04:00\)/,
      },
      {
        args: [...base, '--cron', '0 7 * * *', '--tz', 'Mars/Olympus'],
        stderr: /--tz: unknown time zone "Mars\/Olympus"/,
      },
      {
        args: [...base, '--cron', '0 7 * * *', '--every', '1m'],
        stderr: /only one of --cron, --every, --at and --after/,
      },
      { args: [...base, '--cron', '0 0 30 2 *'], stderr: /--cron: .*never fires/ },
      { args: [...base, '--every', '30'], stderr: /--every: duration "30" has no unit/ },
      { args: [...base, '--at', '2001-01-01T00:00:00Z'], stderr: /--at: .* is in the past/ },
      {
        args: [...base, '--every', '1m', '--overlap', 'sometimes'],
        stderr: /--overlap must be one of skip, queue-one, allow/,
      },
      { args: [...base, '--every', '1m', '--retries', 'two'], stderr: /--retries must be a whole number/ },
      {
        args: [...base, '--every', '1m', '--expect-output', '(unclosed'],
        stderr: /--expect-output: not a valid regular expression/,
      },
      { args: [...base, '--every', '1m', '--expect-min-bytes', '10'], stderr: /--expect-min-bytes: needs/ },
      {
        args: [...base, '--every', '1m', '--command-env', 'NOEQUALS'],
        stderr: /--command-env expects KEY=VALUE/,
      },
      {
        args: ['cron', 'add', '--name', 'j', '--every', '1m', '--command-argv', '[oops'],
        stderr: /--command-argv is not valid JSON/,
      },
      { args: ['cron', 'add', '--name', 'j', '--every', '1m'], stderr: /say what the job does/ },
      { args: ['cron', 'add', '--every', '1m', '--command', 'true'], stderr: /--name is required/ },
      {
        args: [...base, '--every', '1m', '--bogus'],
        stderr: /unknown option '--bogus'[\s\S]*hint: run `nightshift cron add --help`/,
      },
      { args: ['cron', 'lst'], stderr: /unknown command 'lst'[\s\S]*Did you mean list\?/ },
    ];
    const results = await Promise.all(cases.map((c) => cli(home, c.args)));
    results.forEach((r, i) => {
      const c = cases[i]!;
      assert.equal(r.code, c.code ?? 2, `${c.args.join(' ')} → exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, c.stderr, c.args.join(' '));
      assert.equal(r.stdout, '', `nothing on stdout for ${c.args.join(' ')}`);
    });
    const list = await cliJson<{ jobs: unknown[] }>(home, ['cron', 'list', '--all']);
    assert.deepEqual(list.json.jobs, [], 'no job was written');
  });

  test('a taken name is a conflict (exit 4); a failed edit changes nothing; --json errors are JSON', async () => {
    const { home } = freshHome();
    const first = await cliJson<JobJson>(home, [
      'cron',
      'add',
      '--name',
      'dup',
      '--every',
      '1m',
      '--command',
      'true',
    ]);
    assert.equal(first.result.code, 0, first.result.stderr);
    const [again, badEdit, jsonErr] = await Promise.all([
      cli(home, ['cron', 'add', '--name', 'dup', '--every', '5m', '--command', 'true']),
      cli(home, ['cron', 'edit', 'dup', '--every', '5m', '--cron', '* * * * *']),
      cli(home, ['cron', 'edit', 'dup', '--tz', 'Nowhere/Land', '--json']),
    ]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /a job named "dup" already exists/);
    assert.equal(badEdit.code, 2);
    assert.equal(jsonErr.code, 2);
    const err = JSON.parse(jsonErr.stderr) as { error: { code: string; message: string; hint?: string } };
    assert.match(err.error.message, /--tz has no effect on an --every job/);
    const after = await cliJson<JobJson>(home, ['cron', 'get', 'dup']);
    assert.deepEqual(after.json, first.json);
  });
});

describe('cron next', () => {
  test('--json prints ISO-8601 UTC strings; DST gaps fire once at the first valid instant', async () => {
    const { home } = freshHome();
    const [berlin, ny, every, human] = await Promise.all([
      cliJson<string[]>(home, [
        'cron',
        'next',
        '--cron',
        '30 2 * * *',
        '--tz',
        'Europe/Berlin',
        '--from',
        '2027-03-27T00:00:00Z',
        '--count',
        '3',
      ]),
      cliJson<string[]>(home, [
        'cron',
        'next',
        '--cron',
        '0 7 * * *',
        '--tz',
        'America/New_York',
        '--from',
        '2027-03-13T00:00:00Z',
        '--count',
        '2',
      ]),
      cliJson<string[]>(home, [
        'cron',
        'next',
        '--every',
        '90s',
        '--from',
        '2027-01-01T00:00:00Z',
        '--count',
        '2',
      ]),
      cli(home, ['cron', 'next', '--at', '2027-01-01T10:00', '--tz', 'Europe/Berlin']),
    ]);
    const words = await cli(home, [
      'cron',
      'next',
      '--cron',
      '1 1 */2 * MON',
      '--tz',
      'UTC',
      '--from',
      '2020-01-01T00:00:00Z',
      '--count',
      '2',
    ]);
    assert.equal(words.code, 0, words.stderr);
    assert.match(words.stdout, /on day-of-month \*\/2 AND Monday \(both day fields must match\)/);
    assert.match(words.stdout, /2020-01-13T01:01:00.000Z[\s\S]*2020-01-27T01:01:00.000Z/);
    // 2027-03-28 has no 02:30 in Berlin: the job fires at 03:00 CEST (01:00Z), once.
    assert.deepEqual(berlin.json, [
      '2027-03-27T01:30:00.000Z',
      '2027-03-28T01:00:00.000Z',
      '2027-03-29T00:30:00.000Z',
    ]);
    assert.deepEqual(ny.json, ['2027-03-13T12:00:00.000Z', '2027-03-14T11:00:00.000Z']);
    // The first fire after --from, as the daemon fires a job created at that instant.
    assert.deepEqual(every.json, ['2027-01-01T00:01:30.000Z', '2027-01-01T00:03:00.000Z']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /2027-01-01T09:00:00.000Z\s+2027-01-01 10:00:00 \+01:00 Europe\/Berlin/);
    assert.equal(existsSync(join(home, 'nightshift.db')), false, 'a preview opens no store');
  });
});

describe('cron run, runs, status', () => {
  test('run --wait exits 0 for a passing command and 1 for a failing one; runs --json has the documented shape', async () => {
    const { home } = freshHome();
    const ok = await cli(home, [
      'cron',
      'add',
      '--name',
      'pass',
      '--every',
      '1h',
      '--command',
      'echo all good',
    ]);
    const bad = await cli(home, [
      'cron',
      'add',
      '--name',
      'fail',
      '--every',
      '1h',
      '--command',
      'echo broken >&2; exit 3',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(bad.code, 0, bad.stderr);

    const pass = await cliJson<{
      ok: boolean;
      enqueued: boolean;
      runId: string;
      run: Record<string, unknown>;
    }>(home, ['cron', 'run', 'pass', '--wait']);
    assert.equal(pass.result.code, 0, pass.result.stderr);
    assert.equal(pass.json.ok, true);
    assert.equal(pass.json.enqueued, true);
    assert.match(pass.json.runId, /\S/);
    assert.equal(pass.json.run.status, 'ok');

    const failed = await cli(home, ['cron', 'run', 'fail', '--wait']);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /error.*exit 3/);
    // What the command printed, and where to look next, without a second command.
    assert.match(failed.stdout, /last 1 line of its output:\n {2}\| broken\n/);
    assert.match(failed.stdout, /nightshift doctor --job fail/);

    const runs = await cliJson<RunsJson>(home, ['cron', 'runs', '--id', 'fail']);
    assert.equal(runs.result.code, 0, runs.result.stderr);
    assert.equal(runs.json.total, 1);
    assert.equal(runs.json.hasMore, false);
    const entry = runs.json.entries[0]!;
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
    assert.equal(entry.status, 'error');
    assert.equal(entry.trigger, 'manual');
    assert.equal(entry.attempt, 1);
    assert.equal(entry.exitCode, 3);
    assert.match(String(entry.outputTail), /broken/);
    assert.equal(typeof entry.durationMs, 'number');

    // Paging and filtering.
    await cli(home, ['cron', 'run', 'fail']);
    const [page, onlyOk] = await Promise.all([
      cliJson<RunsJson>(home, ['cron', 'runs', '--id', 'fail', '--limit', '1']),
      cliJson<RunsJson>(home, ['cron', 'runs', '--id', 'fail', '--status', 'ok']),
    ]);
    assert.equal(page.json.entries.length, 1);
    assert.equal(page.json.total, 2);
    assert.equal(page.json.hasMore, true);
    assert.equal(onlyOk.json.total, 0);
    // The next page by cursor: the older run, and no cursor after it.
    const next = await cliJson<RunsJson & { nextCursor: string | null }>(home, [
      'cron',
      'runs',
      '--id',
      'fail',
      '--limit',
      '1',
      '--cursor',
      (page.json as RunsJson & { nextCursor: string }).nextCursor,
    ]);
    assert.equal(next.json.entries.length, 1);
    assert.notEqual(next.json.entries[0]!.runId, page.json.entries[0]!.runId);
    assert.equal(next.json.nextCursor, null);

    // status: no daemon, two jobs, the failing one named.
    const status = await cliJson<{
      daemon: { running: boolean };
      jobs: { total: number; enabled: number };
      failing: Array<{ name: string }>;
    }>(home, ['cron', 'status']);
    assert.equal(status.json.daemon.running, false);
    assert.deepEqual(status.json.jobs, { total: 2, enabled: 2 });
    assert.deepEqual(
      status.json.failing.map((f) => f.name),
      ['fail'],
    );
  });

  test('a run whose evidence is missing ends `error` with the failed expectation as its reason', async () => {
    const { home, work } = freshHome();
    const target = join(work, 'out', 'result.txt');
    const add = await cli(home, [
      'cron',
      'add',
      '--name',
      'liar',
      '--every',
      '1h',
      '--command',
      'echo done',
      '--expect-file',
      target,
    ]);
    assert.equal(add.code, 0, add.stderr);
    const run = await cliJson<{ run: { status: string; error: string; exitCode: number } }>(home, [
      'cron',
      'run',
      'liar',
      '--wait',
    ]);
    assert.equal(run.result.code, 1, 'exit status 0 alone is not ok');
    assert.equal(run.json.run.status, 'error');
    assert.equal(run.json.run.exitCode, 0);
    assert.match(run.json.run.error, new RegExp(target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    const show = await cli(home, ['cron', 'show', 'liar']);
    assert.match(show.stdout, /last run: error/);
    assert.equal(readdirSync(work).includes('out'), false);
  });

  test('an unknown job is exit 3 for every verb that takes one', async () => {
    const { home } = freshHome();
    const results = await Promise.all(
      [
        ['cron', 'run', 'nope'],
        ['cron', 'runs', '--id', 'nope'],
        ['cron', 'edit', 'nope', '--every', '1m'],
      ].map((args) => cli(home, args)),
    );
    for (const r of results) {
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /no job with id or name "nope"/);
    }
  });
});
