/**
 * `nightshift backup profile …` and `backup quickstart` through the real binary on a temp home,
 * with real repositories; the quickstart's job is then run by the real Engine in this process.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApp } from '../../../src/app/app.ts';
import { createBackupExecutors } from '../../../src/backup-jobs/executors.ts';
import { SystemClock } from '../../../src/domain/clock.ts';
import { buildJob } from '../../../src/domain/job-validation.ts';
import { Engine } from '../../../src/scheduler/engine.ts';
import { cli, cliJson, filesUnder, tempHome, type TempHome } from './cli-harness.ts';

describe('backup profile', () => {
  let h: TempHome;
  let repo: string;
  let src: string;

  before(async () => {
    h = tempHome();
    repo = join(h.work, 'repo');
    src = join(h.work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'notes.md'), 'hello\n');
    const kg = await cliJson<{ recipient: string }>(h.home, [
      'backup',
      'keygen',
      '--out',
      join(h.work, 'id.txt'),
    ]);
    assert.equal(kg.result.code, 0, kg.result.stderr);
    const init = await cli(h.home, ['backup', 'init', '--repo', repo, '--recipient', kg.json.recipient]);
    assert.equal(init.code, 0, init.stderr);
  });

  after(() => h.cleanup());

  test('a profile declared in a job file: apply, show says its source, edit warns, check names the drift', async () => {
    const jobs = join(h.work, 'jobs');
    mkdirSync(jobs, { recursive: true });
    writeFileSync(
      join(jobs, 'profile.yaml'),
      `kind: backup-profile\nname: from-file\nrepo: ${repo}\nrecipients-repo: true\npath: ../src\nkeep-daily: 7\nmin-free: 1 GiB\n`,
    );
    writeFileSync(
      join(jobs, 'backup.yaml'),
      'name: from-file-backup\ncron: "0 3 * * *"\nbackup: from-file\n',
    );
    const applied = await cli(h.home, ['apply', jobs]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /created backup profile from-file/);
    const show = await cli(h.home, ['backup', 'profile', 'show', 'from-file']);
    assert.match(show.stdout, /source: +file .*jobs\/profile\.yaml/);
    const edit = await cli(h.home, ['backup', 'profile', 'edit', 'from-file', '--keep-daily', '3']);
    assert.equal(edit.code, 0, edit.stderr);
    assert.match(edit.stderr, /the next `nightshift apply` of that file overwrites this change/);
    const check = await cli(h.home, ['apply', jobs, '--check']);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /backup profile from-file\.retention\.daily: 7 \(file\) != 3 \(store\)/);
    const schema = await cliJson<{ then: { properties: Record<string, unknown> } }>(h.home, [
      'schema',
      'jobs',
    ]);
    assert.ok('password-ref' in schema.json.then.properties);
    assert.equal((await cli(h.home, ['cron', 'rm', 'from-file-backup'])).code, 0);
    assert.equal((await cli(h.home, ['backup', 'profile', 'rm', 'from-file'])).code, 0);
  });

  test('add, show, list, edit round trip', async () => {
    const add = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'nightly',
      '--repo',
      repo,
      '--recipients-repo',
      '--path',
      src,
      '--exclude',
      '*.tmp',
      '--keep-last',
      '3',
      '--prune-every',
      '7d',
      '--verify-subset',
      '5%',
      '--min-free',
      '1G',
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /created backup profile nightly/);

    const show = await cliJson<Record<string, unknown>>(h.home, ['backup', 'profile', 'show', 'nightly']);
    assert.equal(show.result.code, 0, show.result.stderr);
    assert.equal(show.json.repository, repo);
    assert.deepEqual(show.json.key, { kind: 'recipients' });
    assert.deepEqual(show.json.paths, [src]);
    assert.deepEqual(show.json.excludes, ['*.tmp']);
    assert.deepEqual(show.json.retention, { last: 3 });
    assert.equal(show.json.pruneEveryMs, 7 * 86_400_000);
    assert.equal(show.json.verifySubset, '5%');
    assert.equal(show.json.minFreeBytes, 1024 ** 3);
    assert.deepEqual(show.json.usedBy, []);

    const text = await cli(h.home, ['backup', 'profile', 'show', 'nightly']);
    assert.match(text.stdout, /retention: +keep-last 3/);
    assert.match(text.stdout, /this host cannot read the backups/);
    assert.match(text.stdout, /prune: +every 1w/);

    const list = await cli(h.home, ['backup', 'profile', 'list']);
    assert.match(list.stdout, /^nightly +recipients +\S+repo/m);

    const edit = await cli(h.home, [
      'backup',
      'profile',
      'edit',
      'nightly',
      '--keep-within',
      '7d',
      '--keep-weekly',
      '4',
      '--verify-subset',
      'off',
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    const after = await cliJson<Record<string, unknown>>(h.home, ['backup', 'profile', 'show', 'nightly']);
    assert.deepEqual(after.json.retention, {
      weekly: 4,
      within: { years: 0, months: 0, days: 7, hours: 0 },
    });
    assert.equal(after.json.verifySubset, undefined);
    assert.deepEqual(after.json.paths, [src], 'flags not given are kept');
    assert.equal(after.json.minFreeBytes, 1024 ** 3);
  });

  test('refusals name the flag and never echo a literal passphrase', async () => {
    const base = ['backup', 'profile', 'add', 'x', '--repo', repo, '--path', src];
    const literal = await cli(h.home, [...base, '--password-ref', 'hunter2-secret']);
    assert.equal(literal.code, 2);
    assert.match(literal.stderr, /--password-ref: .*not shown/);
    assert.doesNotMatch(literal.stderr, /hunter2/);

    const flag = await cli(h.home, [...base, '--password', 'hunter2-secret']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--password: /);
    assert.doesNotMatch(flag.stderr, /hunter2/);

    const cases: [string[], RegExp][] = [
      [['--recipients-repo', '--keep-last', 'x'], /--keep-last must be a whole number/],
      [['--recipients-repo', '--verify-subset', '200%'], /--verify-subset: invalid subset/],
      [['--recipients-repo', '--prune-every', '7'], /--prune-every: duration "7" has no unit/],
      [['--recipients-repo', '--min-free', 'lots'], /--min-free: cannot read "lots"/],
      [['--recipients-repo', '--tag', 'a,b'], /--tag: invalid tag/],
      [['--recipients-repo', '--limit-upload', 'fast'], /--limit-upload: cannot read "fast" as a rate/],
      [
        ['--recipients-repo', '--limit-upload', '2MiB/s'],
        /--limit-upload: applies to remote repositories only/,
      ],
      [[], /--password-ref REF or --recipients-repo/],
      [['--password-ref', 'env:PW'], /--password-ref: the repository at .* is a recipients repository/],
    ];
    for (const [extra, re] of cases) {
      const r = await cli(h.home, [...base, ...extra]);
      assert.notEqual(r.code, 0, `${extra.join(' ')} was accepted`);
      assert.match(r.stderr, re, extra.join(' '));
    }
    const noPath = await cli(h.home, ['backup', 'profile', 'add', 'x', '--repo', repo, '--recipients-repo']);
    assert.match(noPath.stderr, /--path: at least one path or source is required/);
    const noRepo = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'x',
      '--repo',
      join(h.work, 'nothing-here'),
      '--recipients-repo',
      '--path',
      src,
    ]);
    assert.equal(noRepo.code, 3);
    assert.match(noRepo.stderr, /--repo: no repository at/);
    assert.match(noRepo.stderr, /backup init/);
    const missing = await cli(h.home, ['backup', 'profile', 'show', 'nope']);
    assert.equal(missing.code, 3);
    const profiles = await cliJson<unknown[]>(h.home, ['backup', 'profile', 'list']);
    assert.equal(
      profiles.json.some((p) => (p as { name: string }).name === 'x'),
      false,
      'nothing was stored',
    );
  });

  test('rm is refused while a job uses the profile, naming the job', async () => {
    const add = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'doomed',
      '--repo',
      repo,
      '--recipients-repo',
      '--path',
      src,
    ]);
    assert.equal(add.code, 0, add.stderr);
    const app = await openApp(h.home);
    const job = buildJob(
      {
        name: 'doomed-drill',
        schedule: { kind: 'every', everyMs: 3_600_000 },
        payload: { kind: 'drill', profile: 'doomed' },
      },
      Date.now(),
      () => 'j-doomed',
    );
    await app.store.insertJob(job);
    await app.close();
    const refused = await cli(h.home, ['backup', 'profile', 'rm', 'doomed']);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /used by job doomed-drill/);
    const app2 = await openApp(h.home);
    await app2.store.deleteJob('j-doomed');
    await app2.close();
    const rm = await cli(h.home, ['backup', 'profile', 'rm', 'doomed']);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await cli(h.home, ['backup', 'profile', 'show', 'doomed']);
    assert.equal(gone.code, 3);
  });
});

describe('backup quickstart', () => {
  let h: TempHome;
  after(() => h.cleanup());

  test('makes a recipients repository, a profile and a daily job whose run is ok; refuses a second time', async () => {
    h = tempHome();
    const src = join(h.work, 'agent');
    mkdirSync(src);
    writeFileSync(join(src, 'state.json'), '{"a":1}\n');
    const repo = join(h.work, 'backups');
    const identity = join(h.work, 'identity.txt');
    const qs = await cli(h.home, [
      'backup',
      'quickstart',
      '--path',
      src,
      '--repo',
      repo,
      '--at',
      '03:15',
      '--name',
      'agent',
      '--identity-out',
      identity,
    ]);
    assert.equal(qs.code, 0, qs.stderr);
    assert.match(qs.stdout, new RegExp(`age identity \\(reads the backups\\): ${identity}`));
    assert.match(qs.stdout, /MOVE IT OFF THIS MACHINE/);
    assert.match(qs.stdout, /backup restore latest --repo .* --identity /);
    assert.equal(statSync(identity).mode & 0o777, 0o600);
    assert.match(readFileSync(identity, 'utf8'), /AGE-SECRET-KEY-1/);

    const profile = await cliJson<Record<string, unknown>>(h.home, ['backup', 'profile', 'show', 'agent']);
    assert.deepEqual(profile.json.key, { kind: 'recipients' });
    assert.deepEqual(profile.json.retention, { last: 7 });
    assert.equal(profile.json.verifySubset, '5%');
    assert.deepEqual(profile.json.usedBy, [
      { id: (profile.json.usedBy as { id: string }[])[0]!.id, name: 'agent' },
    ]);

    const app = await openApp(h.home);
    try {
      const job = (await app.store.findJob('agent'))!;
      assert.equal(job.schedule.kind, 'cron');
      assert.equal(job.schedule.kind === 'cron' && job.schedule.expr, '15 3 * * *');
      assert.deepEqual(job.payload, { kind: 'backup', profile: 'agent' });
      const clock = new SystemClock();
      const engine = new Engine({
        store: app.store,
        clock,
        executors: createBackupExecutors({ app, clock }),
        changePollMs: 0,
      });
      const req = await engine.requestRun('agent');
      const run = await engine.runQueuedNow(req.runId!);
      assert.equal(run.status, 'ok', `${run.error}\n${run.outputTail}`);
      assert.equal(run.evidence?.find((e) => e.check === 'verify')?.ok, true);
    } finally {
      await app.close();
    }

    // Repository commands take the profile instead of --repo and a key.
    const snaps = await cliJson<{ id: string; tags: string[] }[]>(h.home, [
      'backup',
      'snapshots',
      '--profile',
      'agent',
    ]);
    assert.equal(snaps.result.code, 0, snaps.result.stderr);
    assert.equal(snaps.json.length, 1);
    assert.deepEqual(snaps.json[0]!.tags, ['profile:agent']);
    const stats = await cli(h.home, ['backup', 'stats', '--profile', 'agent']);
    assert.equal(stats.code, 0, stats.stderr);
    const before = filesUnder(repo);
    const both = await cli(h.home, [
      'backup',
      'forget',
      '--profile',
      'agent',
      '--repo',
      repo,
      '--keep-last',
      '1',
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--profile brings its own repository and key; --repo cannot be given with it/);
    const unknown = await cli(h.home, ['backup', 'prune', '--profile', 'nope']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no backup profile named "nope"[\s\S]*profiles: agent/);
    assert.deepEqual(filesUnder(repo), before, 'a refused command leaves the repository as it was');
    const still = await cliJson<unknown[]>(h.home, ['backup', 'snapshots', '--profile', 'agent']);
    assert.equal(still.json.length, 1);

    const again = await cli(h.home, [
      'backup',
      'quickstart',
      '--path',
      src,
      '--repo',
      join(h.work, 'other'),
      '--name',
      'agent',
    ]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /a backup profile named "agent" exists/);
    const sameRepo = await cli(h.home, [
      'backup',
      'quickstart',
      '--path',
      src,
      '--repo',
      repo,
      '--name',
      'other',
    ]);
    assert.equal(sameRepo.code, 6);
    assert.match(sameRepo.stderr, /a repository already exists/);
  });
});
