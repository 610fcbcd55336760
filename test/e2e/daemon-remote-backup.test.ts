/**
 * End to end through the real `nightshift daemon` (a child process on a temporary home): a backup
 * profile with files, PostgreSQL, Redis, a SQLite database and a git repository (plus an optional
 * Redis that is stopped), to an SFTP repository (a real sshd) with --copy-to an S3 repository
 * (s3rver), tiered retention and an upload limit, is fired by the schedule and ends ok with
 * evidence for every source and destination. Then the CLI a user would run proves it: `backup
 * snapshots` lists the snapshot in both repositories, `backup restore` from the S3 copy is
 * byte-exact, `backup restore-source` brings back the dropped PostgreSQL database with equal
 * rows, the SQLite rows and the git history, a drill restores into a scratch database, and the
 * stopped Redis made required fails the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DaemonProcess, cli, cliJson, tempHome, type TempHome } from '../interfaces/cli/cli-harness.ts';
import { startS3Server } from '../helpers/s3-server.ts';
import { freePort, startSshd, type SshServer } from '../helpers/sshd.ts';

let s3: Awaited<ReturnType<typeof startS3Server>>;
let sshd: SshServer;
let h: TempHome;
let daemon: DaemonProcess | undefined;

const PASSWORD = 'e2e-' + randomBytes(8).toString('hex');
const pgDb = `ns_e2e_${randomBytes(4).toString('hex')}`;
const pgUrl = `postgresql://postgres@127.0.0.1:5432/${pgDb}`;

async function sql(text: string, database = 'postgres'): Promise<pg.QueryResult> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

before(async () => {
  [s3, sshd] = await Promise.all([startS3Server(['offsite']), startSshd()]);
  h = tempHome();
  await sql(`CREATE DATABASE ${pgDb}`);
  await sql(
    'CREATE TABLE invoices (id serial primary key, amount int); INSERT INTO invoices (amount) SELECT g FROM generate_series(1, 300) g',
    pgDb,
  );
});
after(async () => {
  await daemon?.dispose();
  await Promise.all([s3?.stop(), sshd?.stop()]);
  h?.cleanup();
  await sql(`DROP DATABASE IF EXISTS ${pgDb}`);
});

interface SnapshotJson {
  id: string;
  paths: string[];
  tags: string[];
}

describe('a daemon backing up off this disk', () => {
  test(
    'a scheduled backup with sources to SFTP, copied to S3, restores from the copy',
    { timeout: 240_000 },
    async () => {
      // The user's environment: the repository passphrase by reference, S3 keys by AWS_* variables.
      const env = { ...s3.env, NS_E2E_PW: PASSWORD, NIGHTSHIFT_PASSWORD: PASSWORD };
      const sftpEnv = { ...env, NIGHTSHIFT_SSH_KEY: sshd.keyFile, NIGHTSHIFT_KNOWN_HOSTS: sshd.knownHosts };
      const run = async (args: string[], e: NodeJS.ProcessEnv = sftpEnv) => {
        const r = await cli(h.home, args, { env: e, timeoutMs: 120_000 });
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        return r;
      };
      const primary = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${sshd.dir}/offsite`;
      const copy = `s3:${s3.endpoint}/offsite/host1`;

      // What is backed up: files, a SQLite database in use (WAL), a git repository.
      const src = join(h.work, 'agent');
      mkdirSync(join(src, 'notes'), { recursive: true });
      writeFileSync(join(src, 'notes', 'todo.md'), '- ship it\n');
      writeFileSync(join(src, 'state.bin'), randomBytes(300_000));
      const sqliteFile = join(h.work, 'app.sqlite');
      const db = new Database(sqliteFile);
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)');
      const ins = db.prepare('INSERT INTO invoices (amount) VALUES (?)');
      for (let i = 1; i <= 250; i++) ins.run(i);
      const gitDir = join(h.work, 'project');
      mkdirSync(gitDir);
      const git = (...a: string[]): string => execFileSync('git', ['-C', gitDir, ...a], { encoding: 'utf8' });
      git('init', '-q', '-b', 'main');
      writeFileSync(join(gitDir, 'README'), 'hello\n');
      git('add', 'README');
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'first');
      const head = git('rev-parse', 'HEAD').trim();
      const stoppedRedis = await freePort();

      await run(['backup', 'init', '--repo', primary]);
      const made = await run(['backup', 'init', '--repo', copy], env);
      assert.match(
        made.stdout,
        new RegExp(`repository [0-9a-f]+ at ${copy.replace(/[.:/]/g, '\\$&')}$`, 'm'),
      );
      await run([
        'backup',
        'profile',
        'add',
        'offsite',
        '--repo',
        primary,
        '--password-ref',
        'env:NS_E2E_PW',
        '--ssh-key-ref',
        `file:${sshd.keyFile}`,
        '--known-hosts',
        sshd.knownHosts,
        '--path',
        src,
        '--sqlite',
        `app=${sqliteFile}`,
        '--git',
        `project=${gitDir}`,
        '--postgres',
        `erp=${pgUrl}`,
        '--redis',
        'cache=redis://127.0.0.1:6379',
        '--redis',
        `stopped=redis://127.0.0.1:${stoppedRedis}`,
        '--optional',
        'stopped',
        '--drill-query',
        'select count(*) from invoices',
        '--copy-to',
        copy,
        '--keep-within',
        '7d',
        '--keep-weekly',
        '4',
        '--keep-monthly',
        '12',
        '--limit-upload',
        '64MiB/s',
      ]);
      const add = await cliJson<{ id: string }>(h.home, [
        'cron',
        'add',
        '--name',
        'offsite',
        '--every',
        '3s',
        '--backup',
        'offsite',
      ]);
      assert.equal(add.result.code, 0, add.result.stderr);

      // The daemon knows only the passphrase variable and the S3 keys: the SSH key is the profile's reference.
      daemon = new DaemonProcess(h.home, [], env);
      await daemon.ready();
      const finished = await daemon.waitFor(
        (e) => e.event === 'run.finished' && e.jobId === add.json.id,
        'the first scheduled backup',
        180_000,
      );
      daemon.kill('SIGTERM');
      await daemon.exit(60_000);
      db.close();
      assert.equal(finished.status, 'ok', JSON.stringify(finished));

      const runs = await cliJson<{
        entries: {
          status: string;
          trigger: string;
          evidence?: { check: string; ok: boolean; detail: string }[];
        }[];
      }>(h.home, ['cron', 'runs', '--id', 'offsite']);
      const first = runs.json.entries.find((r) => r.status === 'ok');
      assert.equal(first?.trigger, 'schedule');
      // Evidence for every source and every destination.
      const ev = Object.fromEntries((first?.evidence ?? []).map((e) => [e.check, e.ok]));
      for (const check of [
        'snapshot listed',
        'source app',
        'source project',
        'source erp',
        'source cache',
        'source stopped',
        `copy to ${copy}`,
        'retention',
      ])
        assert.equal(ev[check], true, `${check}: ${JSON.stringify(first?.evidence)}`);

      // Both repositories list the snapshot, with the sources' virtual paths.
      const listed = async (repo: string, e: NodeJS.ProcessEnv): Promise<SnapshotJson[]> => {
        const r = await cli(h.home, ['backup', 'snapshots', '--repo', repo, '--json'], { env: e });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as SnapshotJson[];
      };
      const inPrimary = await listed(primary, sftpEnv);
      const inCopy = await listed(copy, env);
      assert.ok(inPrimary.length >= 1 && inCopy.length >= 1);
      for (const s of [inPrimary.at(-1)!, inCopy.at(-1)!]) {
        assert.ok(s.paths.includes(src), s.paths.join(' '));
        assert.ok(s.paths.includes('/databases/sqlite/app.sqlite'), s.paths.join(' '));
        assert.ok(s.paths.includes('/git/project.bundle'), s.paths.join(' '));
        assert.ok(s.tags.includes('profile:offsite'));
      }

      // Restore from the S3 copy: files byte-exact, the SQLite rows, the git history.
      const target = join(h.work, 'restored');
      await run(['backup', 'restore', 'latest', '--repo', copy, '--target', target, '--verify'], env);
      assert.deepEqual(readFileSync(join(target, src, 'state.bin')), readFileSync(join(src, 'state.bin')));
      assert.equal(readFileSync(join(target, src, 'notes', 'todo.md'), 'utf8'), '- ship it\n');
      const restoredDb = join(h.work, 'app-restored.sqlite');
      await run(['backup', 'restore-source', 'latest', 'app', '--repo', copy, '--into', restoredDb], env);
      const r = new Database(restoredDb, { readonly: true });
      assert.deepEqual(r.prepare('SELECT count(*) AS n, sum(amount) AS s FROM invoices').get(), {
        n: 250,
        s: 31375,
      });
      r.close();
      const clone = join(h.work, 'project-restored');
      await run(['backup', 'restore-source', 'latest', 'project', '--repo', copy, '--into', clone], env);
      assert.equal(
        execFileSync('git', ['-C', clone, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
        head,
      );

      // `backup copy --limit-upload`: the copy to a fresh S3 prefix keeps to 128 KiB/s (one second
      // of burst, then the rate), measured in real time against the bytes it stored.
      const paced = `s3:${s3.endpoint}/offsite/paced`;
      await run(['backup', 'init', '--repo', paced], env);
      const t0 = performance.now();
      const copied = await cli(
        h.home,
        ['backup', 'copy', '--from', primary, '--to', paced, '--limit-upload', '128K', '--json'],
        { env: sftpEnv, timeoutMs: 120_000 },
      );
      const tookS = (performance.now() - t0) / 1000;
      assert.equal(copied.code, 0, copied.stderr);
      const bytesNew = (JSON.parse(copied.stdout) as { bytesNew: number }).bytesNew;
      assert.ok(bytesNew > 300_000, `copied ${bytesNew} bytes`);
      assert.ok(
        tookS >= (bytesNew - 128 * 1024) / (128 * 1024) - 0.2,
        `${bytesNew} bytes in ${tookS.toFixed(2)} s`,
      );
      const local = await cli(
        h.home,
        ['backup', 'run', '--repo', join(h.work, 'nope'), '--limit-upload', '1M', src],
        {
          env,
        },
      );
      assert.equal(local.code, 2);
      assert.match(local.stderr, /--limit-upload applies to remote repositories only/);

      // The stopped optional Redis: ok, with a visible warning.
      const stopped = first?.evidence?.find((e) => e.check === 'source stopped');
      assert.match(stopped?.detail ?? '', /WARNING: optional source skipped/);

      // Drop the live PostgreSQL database; restore it from the SFTP repository: equal rows.
      const rows = (await sql('SELECT count(*)::int AS n, sum(amount)::int AS s FROM invoices', pgDb))
        .rows[0];
      await sql(`DROP DATABASE ${pgDb}`);
      // By profile: its own SSH key reference and known_hosts, nothing from the environment.
      await run(['backup', 'restore-source', 'latest', 'erp', '--profile', 'offsite', '--into', pgUrl], env);
      assert.deepEqual(
        (await sql('SELECT count(*)::int AS n, sum(amount)::int AS s FROM invoices', pgDb)).rows[0],
        rows,
      );

      // A drill restores the dump into a scratch database and runs the check query there.
      await run(['cron', 'add', '--name', 'offsite-drill', '--every', '7d', '--drill', 'offsite']);
      await cli(h.home, ['cron', 'run', 'offsite-drill', '--wait'], { env, timeoutMs: 120_000 });
      const drills = await cliJson<{
        entries: { status: string; error: string | null; evidence?: { check: string; detail: string }[] }[];
      }>(h.home, ['cron', 'runs', '--id', 'offsite-drill']);
      assert.equal(drills.json.entries[0]?.status, 'ok', drills.json.entries[0]?.error ?? '');
      assert.match(
        drills.json.entries[0]?.evidence?.find((e) => e.check === 'database erp')?.detail ?? '',
        /restored into scratch database nightshift_drill_[0-9a-f]+ \(dropped after\); "select count\(\*\) from invoices" returned 1 row/,
      );

      // The same stopped Redis, required: the run fails with redis-cli's own message.
      await run([
        'backup',
        'profile',
        'add',
        'strict',
        '--repo',
        primary,
        '--password-ref',
        'env:NS_E2E_PW',
        '--ssh-key-ref',
        `file:${sshd.keyFile}`,
        '--known-hosts',
        sshd.knownHosts,
        '--path',
        src,
        '--redis',
        `stopped=redis://127.0.0.1:${stoppedRedis}`,
      ]);
      await run(['cron', 'add', '--name', 'strict', '--every', '1h', '--backup', 'strict']);
      await cli(h.home, ['cron', 'run', 'strict', '--wait'], { env, timeoutMs: 120_000 });
      const strict = await cliJson<{ entries: { status: string; error: string | null }[] }>(h.home, [
        'cron',
        'runs',
        '--id',
        'strict',
      ]);
      assert.equal(strict.json.entries[0]?.status, 'error');
      assert.match(strict.json.entries[0]?.error ?? '', /Could not connect/);
    },
  );
});
