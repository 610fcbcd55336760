/**
 * `nightshift backup profile …` and `backup quickstart` through the real binary on a temp home,
 * with real repositories; the quickstart's job is then run by the real Engine in this process.
 * Quickstart's proof (first backup and drill), drills where the identity lives (an identity made
 * by the real `age-keygen`, on a second home that has no profile) and what `cron show` of the
 * writing host says its verify can and cannot do.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApp } from '../../../src/app/app.ts';
import { createBackupExecutors } from '../../../src/backup-jobs/executors.ts';
import { SystemClock } from '../../../src/domain/clock.ts';
import { buildJob } from '../../../src/domain/job-validation.ts';
import { Engine } from '../../../src/scheduler/engine.ts';
import { cli, cliJson, DaemonProcess, filesUnder, tempHome, type TempHome } from './cli-harness.ts';

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
  after(() => h?.cleanup());

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
      '--no-run',
    ]);
    assert.equal(qs.code, 0, qs.stderr);
    assert.match(qs.stdout, new RegExp(`age identity \\(reads the backups\\): ${identity}`));
    assert.doesNotMatch(qs.stdout, /first backup \(run|drill of/, '--no-run sets up only');
    assert.match(qs.stdout, /nightshift cron run agent --wait +# a first backup now/);
    assert.match(qs.stdout, /MOVE THE IDENTITY OFF THIS MACHINE/);
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

/** The jobs and profiles of a home, as the store has them (for "a refusal changed nothing"). */
async function storeState(home: string): Promise<string> {
  const jobs = await cliJson<unknown[]>(home, ['cron', 'list', '--all']);
  const profiles = await cliJson<unknown[]>(home, ['backup', 'profile', 'list']);
  return JSON.stringify([jobs.json, profiles.json]);
}

describe('backup quickstart proves the backup', () => {
  let h: TempHome;
  before(() => (h = tempHome()));
  after(() => h.cleanup());

  test('by default runs the first backup and a restore drill and prints the proof', async () => {
    const src = join(h.work, 'agent');
    mkdirSync(join(src, 'memory'), { recursive: true });
    writeFileSync(join(src, 'state.json'), '{"a":1}\n');
    writeFileSync(join(src, 'memory', 'notes.md'), 'x'.repeat(5000));
    writeFileSync(join(src, 'memory', 'today.md'), 'remember the NAS\n');
    const repo = join(h.work, 'backups');
    const t0 = Date.now();
    const qs = await cli(h.home, ['backup', 'quickstart', '--path', src, '--repo', repo, '--name', 'agent']);
    const tookMs = Date.now() - t0;
    assert.equal(qs.code, 0, qs.stdout + qs.stderr);
    const out = qs.stdout;
    // Where the repository and key are, and the job with its next fire.
    assert.match(out, new RegExp(`created a recipients repository at ${repo} \\(id [0-9a-f]{8}\\)`));
    assert.match(out, /writer key \(backs up, cannot read\): .*backup-keys/);
    assert.match(out, /age identity \(reads the backups\): .*agent-identity\.txt \(0600\)/);
    assert.match(out, /job agent: daily at 03:00 \(.+\), next \d{4}-\d\d-\d\dT03:00/);
    // The first backup: snapshot, files, bytes.
    const snap =
      /first backup \(run [0-9a-f-]+\): snapshot ([0-9a-f]{8}), 3 files, 4\.9 KiB read, .* stored in .*; verify ok/.exec(
        out,
      );
    assert.ok(snap, out);
    // The drill of that snapshot: every file restored and compared byte-exact, with its duration.
    assert.match(out, new RegExp(`drill of repository ${repo}, snapshot ${snap[1]}: ok in \\d+ ms`));
    assert.match(
      out,
      /3 of 3 sampled files \(of 3 in the snapshot\) restored \(4\.9 KiB\), every chunk byte-exact/,
    );
    assert.match(out, /3 identical to the live file/);
    assert.match(out, /proven: the backup restores byte-exact/);
    // Only after the proof: move the identity away, and where drills run then.
    assert.ok(out.indexOf('MOVE THE IDENTITY') > out.indexOf('proven'), out);
    assert.match(
      out,
      new RegExp(`nightshift backup drill --repo ${repo} --identity-ref file:/path/to/identity.txt`),
    );
    // The run is in the job's history, ok.
    const runs = await cliJson<{ entries: { status: string; trigger: string }[] }>(h.home, [
      'cron',
      'runs',
      'agent',
    ]);
    assert.equal(runs.json.entries.length, 1);
    assert.equal(runs.json.entries[0]!.status, 'ok');
    console.log(`# quickstart to a proven backup: ${tookMs} ms (1 command)`);
  });

  test('--json carries the proof', async () => {
    const src = join(h.work, 'j');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a\n');
    const qs = await cliJson<{
      ok: boolean;
      firstBackup: { status: string; details: { snapshotId: string } };
      drill: {
        snapshotId: string;
        sampled: number;
        verified: number;
        matchedLive: number;
        durationMs: number;
      };
      job: { nextRunAtMs: number };
    }>(h.home, ['backup', 'quickstart', '--path', src, '--repo', join(h.work, 'jrepo'), '--name', 'j']);
    assert.equal(qs.result.code, 0, qs.result.stderr);
    assert.equal(qs.json.ok, true);
    assert.equal(qs.json.firstBackup.status, 'ok');
    assert.equal(qs.json.drill.snapshotId, qs.json.firstBackup.details.snapshotId);
    assert.deepEqual([qs.json.drill.sampled, qs.json.drill.verified, qs.json.drill.matchedLive], [1, 1, 1]);
    assert.equal(typeof qs.json.drill.durationMs, 'number');
    assert.ok(qs.json.job.nextRunAtMs > Date.now());
  });

  test('with a daemon running on the home, the daemon runs the first backup and quickstart waits for it', async () => {
    const home = join(h.work, 'daemon-home');
    const daemon = new DaemonProcess(home);
    try {
      await daemon.ready();
      const src = join(h.work, 'd');
      mkdirSync(src);
      writeFileSync(join(src, 'a.txt'), 'a\n');
      const qs = await cli(home, [
        'backup',
        'quickstart',
        '--path',
        src,
        '--repo',
        join(h.work, 'drepo'),
        '--name',
        'd',
      ]);
      assert.equal(qs.code, 0, qs.stdout + qs.stderr);
      assert.match(qs.stdout, /first backup \(run [0-9a-f-]+\): snapshot [0-9a-f]{8}, 1 file/);
      assert.match(qs.stdout, /proven: the backup restores byte-exact/);
      await daemon.waitFor(
        (e) => e.event === 'run.finished' && e.status === 'ok',
        'the daemon to run the backup',
      );
    } finally {
      await daemon.dispose();
    }
  });

  test('a failing first backup exits 1, keeps what was set up and says how to retry', async () => {
    // /proc/self/mem stats as a file but cannot be read (EIO), even by root.
    const repo = join(h.work, 'failrepo');
    const qs = await cli(h.home, [
      'backup',
      'quickstart',
      '--path',
      '/proc/self/mem',
      '--repo',
      repo,
      '--name',
      'broken',
    ]);
    assert.equal(qs.code, 1, qs.stdout + qs.stderr);
    assert.match(qs.stdout, /the first backup FAILED: it ended error: .*\/proc\/self\/mem/);
    assert.match(
      qs.stdout,
      /kept what was set up: the repository, the identity, profile broken and job broken/,
    );
    assert.match(qs.stdout, /nightshift cron run broken --wait/);
    assert.match(
      qs.stdout,
      new RegExp(`nightshift backup drill --repo ${repo} --identity-ref file:.*broken-identity\\.txt`),
    );
    assert.match(qs.stdout, /keep the identity on this machine until a drill has passed/);
    assert.doesNotMatch(qs.stdout, /MOVE THE IDENTITY|proven/);
    // Kept: the profile, the job, the repository and the identity.
    const show = await cliJson<{ name: string }>(h.home, ['cron', 'get', 'broken']);
    assert.equal(show.json.name, 'broken');
    assert.equal((await cli(h.home, ['backup', 'profile', 'show', 'broken'])).code, 0);
    assert.ok(existsSync(join(repo, 'config')) || filesUnder(repo).length > 0);
    assert.ok(existsSync(join(h.home, 'broken-identity.txt')));
  });
});

describe('drills where the identity lives', () => {
  let h: TempHome;
  let repo: string;
  let idFile: string;
  let other: string;
  before(async () => {
    h = tempHome();
    other = join(h.work, 'offsite-home');
    repo = join(h.work, 'repo');
    idFile = join(h.work, 'offline-identity.txt');
    // The identity is made by the real age CLI, as a user keeping it offline would.
    execFileSync('age-keygen', ['-o', idFile], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', idFile], { encoding: 'utf8' }).trim();
    const src = join(h.work, 'src');
    mkdirSync(src);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}.txt`), `file ${i}\n`.repeat(100 * (i + 1)));
    assert.equal((await cli(h.home, ['backup', 'init', '--repo', repo, '--recipient', recipient])).code, 0);
    const add = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'agent',
      '--repo',
      repo,
      '--recipients-repo',
      '--path',
      src,
      '--verify-subset',
      '10%',
    ]);
    assert.equal(add.code, 0, add.stderr);
    const job = await cli(h.home, [
      'cron',
      'add',
      '--name',
      'agent',
      '--cron',
      '0 3 * * *',
      '--backup',
      'agent',
    ]);
    assert.equal(job.code, 0, job.stderr);
    const run = await cli(h.home, ['cron', 'run', 'agent', '--wait']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });
  after(() => h.cleanup());

  test('cron show on the writing host says what verify does without the identity, and what it cannot', async () => {
    const show = await cli(h.home, ['cron', 'show', 'agent']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Without the identity \(this host holds only the writer key/);
    assert.match(
      show.stdout,
      /verify \(10% of the packs\) checks the structure and the pack hashes over the ciphertext: it detects damaged or missing packs/,
    );
    assert.match(
      show.stdout,
      /it cannot decrypt, nor check that the content restores; run a drill where the identity lives/,
    );
    assert.match(
      show.stdout,
      new RegExp(
        `nightshift backup drill --repo ${repo} --identity-ref file:/path/to/identity.txt --tag profile:agent`,
      ),
    );
    // A profile whose host holds the identity does not get the note.
    const ir = await cli(h.home, ['backup', 'profile', 'edit', 'agent', '--identity-ref', `file:${idFile}`]);
    assert.equal(ir.code, 0, ir.stderr);
    const again = await cli(h.home, ['cron', 'show', 'agent']);
    assert.doesNotMatch(again.stdout, /Without the identity/);
    // And this host can now drill the profile by name.
    const drill = await cli(h.home, ['backup', 'drill', '--profile', 'agent']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    assert.match(drill.stdout, /^drill of profile agent, snapshot [0-9a-f]{8}: ok in /);
    assert.match(drill.stdout, /5 of 5 sampled files \(of 5 in the snapshot\) restored/);
  });

  test('backup drill --repo --identity-ref on a host with no profile restores byte-exact', async () => {
    const d = await cli(other, [
      'backup',
      'drill',
      '--repo',
      repo,
      '--identity-ref',
      `file:${idFile}`,
      '--sample',
      '100%',
    ]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, new RegExp(`drill of repository ${repo}, snapshot [0-9a-f]{8}: ok in \\d+ ms`));
    assert.match(
      d.stdout,
      /5 of 5 sampled files \(of 5 in the snapshot\) restored \(10\.3 KiB\), every chunk byte-exact/,
    );
    const j = await cliJson<{ ok: boolean; drill: { verified: number; repository: string } }>(other, [
      'backup',
      'drill',
      '--repo',
      repo,
      '--identity-ref',
      `file:${idFile}`,
      '--tag',
      'profile:agent',
    ]);
    assert.equal(j.json.ok, true);
    assert.equal(j.json.drill.verified, 5);
    // The identity never reaches the output.
    const secret = readFileSync(idFile, 'utf8').match(/AGE-SECRET-KEY-1\w+/)![0];
    assert.ok(!d.stdout.includes(secret) && !j.result.stdout.includes(secret));
    // A tag no snapshot has: not found, named.
    const none = await cli(other, [
      'backup',
      'drill',
      '--repo',
      repo,
      '--identity-ref',
      `file:${idFile}`,
      '--tag',
      'nope',
    ]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no snapshot tagged nope to drill yet/);
    // A wrong identity is refused as a key problem.
    const wrong = join(h.work, 'wrong.txt');
    execFileSync('age-keygen', ['-o', wrong], { stdio: 'ignore' });
    const bad = await cli(other, ['backup', 'drill', '--repo', repo, '--identity-ref', `file:${wrong}`]);
    assert.equal(bad.code, 5, bad.stdout + bad.stderr);
  });

  test('a drill job of the repository on another host runs ok and says where its key comes from', async () => {
    const add = await cli(other, [
      'cron',
      'add',
      '--name',
      'offsite-drill',
      '--cron',
      '0 5 * * 0',
      '--drill-repo',
      repo,
      '--identity-ref',
      `file:${idFile}`,
      '--drill-sample',
      '3',
    ]);
    assert.equal(add.code, 0, add.stderr);
    const show = await cli(other, ['cron', 'show', 'offsite-drill']);
    assert.match(
      show.stdout,
      new RegExp(`Runs: a restore drill of repository ${repo}: restores a random sample \\(3 files\\)`),
    );
    assert.match(show.stdout, new RegExp(`Key: the age identity from file:${idFile}, resolved at run time`));
    const got = await cliJson<{ payload: Record<string, unknown> }>(other, ['cron', 'get', 'offsite-drill']);
    assert.deepEqual(got.json.payload, {
      kind: 'drill',
      repository: repo,
      identityRef: `file:${idFile}`,
      sampleFiles: 3,
    });
    const run = await cli(other, ['cron', 'run', '--name', 'offsite-drill', '--wait']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /ok in/);
    const runs = await cliJson<{ entries: { status: string; details?: { drill?: { verified: number } } }[] }>(
      other,
      ['cron', 'runs', 'offsite-drill'],
    );
    assert.equal(runs.json.entries[0]!.status, 'ok');
    // Switching it to a profile drops the repository and the identity reference.
    const edit = await cli(other, ['cron', 'edit', 'offsite-drill', '--drill', 'agent']);
    assert.equal(edit.code, 0, edit.stderr);
    const after = await cliJson<{ payload: Record<string, unknown> }>(other, [
      'cron',
      'get',
      'offsite-drill',
    ]);
    assert.deepEqual(after.json.payload, { kind: 'drill', profile: 'agent', sampleFiles: 3 });
  });

  test('refusals name the flag, never echo an identity, and leave the store as it was', async () => {
    const before = await storeState(other);
    const cases: Array<{ args: string[]; code: number; stderr: RegExp }> = [
      {
        args: ['cron', 'add', '--name', 'x', '--cron', '0 5 * * 0', '--drill-repo', repo],
        code: 2,
        stderr: /--identity-ref: a drill of a repository needs the reference to the age identity/,
      },
      {
        args: [
          'cron',
          'add',
          '--name',
          'x',
          '--cron',
          '0 5 * * 0',
          '--drill',
          'agent',
          '--identity-ref',
          `file:${idFile}`,
        ],
        code: 2,
        stderr: /give a backup profile, or a repository with an identity reference, not both/,
      },
      {
        args: [
          'cron',
          'add',
          '--name',
          'x',
          '--cron',
          '0 5 * * 0',
          '--drill-repo',
          repo,
          '--identity-ref',
          'AGE-SECRET-KEY-1QQQQ',
        ],
        code: 2,
        stderr:
          /--identity-ref: is not a secret reference \(an identity is never stored; the value is not shown\)/,
      },
      {
        args: ['cron', 'add', '--name', 'x', '--cron', '0 5 * * 0', '--drill', 'agent', '--drill-repo', repo],
        code: 2,
        stderr: /give only one of --drill and --drill-repo/,
      },
      {
        args: ['cron', 'edit', 'offsite-drill', '--identity-ref', `file:${idFile}`],
        code: 2,
        stderr: /not both/,
      },
    ];
    for (const c of cases) {
      const r = await cli(other, c.args);
      assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.stderr, c.args.join(' '));
      assert.ok(!r.stderr.includes('QQQQ'), 'the literal is never echoed');
      assert.equal(await storeState(other), before, `${c.args.join(' ')} changed the store`);
    }
    // One-off drills refused before any home is made.
    const fresh = join(h.work, 'never-made');
    for (const [args, msg] of [
      [
        ['backup', 'drill', '--repo', repo],
        /--repo: a drill reads the backups, so it needs the identity: add --identity-ref REF/,
      ],
      [
        ['backup', 'drill', '--repo', repo, '--identity-ref', 'AGE-SECRET-KEY-1QQQQ'],
        /--identity-ref: is not a secret reference/,
      ],
      [['backup', 'drill'], /backup drill needs --profile NAME, or --repo REPO with --identity-ref REF/],
      [['backup', 'drill', '--profile', 'agent', '--repo', repo], /give --profile or --repo, not both/],
      [
        ['backup', 'drill', '--repo', repo, '--identity-ref', `file:${idFile}`, '--sample', '0'],
        /--sample: must be at least 1 file/,
      ],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(fresh, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.ok(!r.stderr.includes('QQQQ'));
      assert.equal(existsSync(fresh), false, `${args.join(' ')} made a home`);
    }
  });
});
