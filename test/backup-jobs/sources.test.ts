/**
 * Database, git and command sources of a backup profile, run as backup jobs through the real
 * engine against the real PostgreSQL, Redis, SQLite and git on this machine: each is streamed
 * into the snapshot under its virtual path with its exit status, size and duration as evidence;
 * an optional source that is down is skipped with a warning and the run is ok; a required one,
 * or a failing dump, fails the run with the tool's own message and writes no snapshot.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { fileContent } from '../../src/backup/file-content.ts';
import { commandStream } from '../../src/backup/sources/command-stream.ts';
import { openRepository } from '../../src/backup/repository.ts';
import { restoreSource } from '../../src/backup-jobs/restore-source.ts';
import { addProfile, passphraseRepo, PASSWORD, world, type World } from './helpers.ts';
import { freePort } from '../helpers/sshd.ts';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const db = `ns_src_${randomBytes(4).toString('hex')}`;

async function sql(text: string, database = 'postgres'): Promise<pg.QueryResult> {
  const c = new pg.Client({ ...PG, database });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

async function snapshotFile(repoDir: string, snapshotId: string, path: string): Promise<Buffer> {
  const repo = await openRepository(repoDir, { password: PASSWORD });
  try {
    const snap = await repo.loadSnapshot(snapshotId);
    const parts: Uint8Array[] = [];
    for await (const c of fileContent(repo, snap, path)) parts.push(c);
    return Buffer.concat(parts);
  } finally {
    await repo.close();
  }
}

async function snapshotCount(): Promise<number> {
  const repo = await openRepository(repoDir, { password: PASSWORD });
  try {
    return (await repo.listSnapshots()).length;
  } finally {
    await repo.close();
  }
}

let w: World;
let repoDir: string;
let gitDir: string;
let sqliteFile: string;
let deadRedis: number;

before(async () => {
  await sql(`CREATE DATABASE ${db}`);
  await sql(
    `CREATE TABLE invoices (id serial primary key, amount int); INSERT INTO invoices (amount) SELECT g FROM generate_series(1, 500) g`,
    db,
  );
  w = await world();
  repoDir = join(w.root, 'repo');
  await passphraseRepo(repoDir);
  gitDir = join(w.root, 'project');
  mkdirSync(gitDir);
  const git = (...a: string[]): void => void execFileSync('git', ['-C', gitDir, ...a], { stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(gitDir, 'README'), 'hello\n');
  git('add', 'README');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'first');
  git('tag', 'v1');
  sqliteFile = join(w.root, 'app.sqlite');
  const s = new Database(sqliteFile);
  s.pragma('journal_mode = WAL');
  s.exec("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('a'), ('b'), ('c')");
  s.close();
  deadRedis = await freePort();
});

after(async () => {
  await w?.close();
  await sql(`DROP DATABASE IF EXISTS ${db}`);
});

describe('profile sources', () => {
  test('files + PostgreSQL + SQLite + git + Redis + a command: ok, each with evidence; an optional source that is down is a visible warning', async () => {
    await addProfile(w, {
      name: 'all',
      repository: repoDir,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      paths: [w.src],
      sources: [
        { kind: 'postgres', name: db, target: `postgresql://postgres@127.0.0.1:5432/${db}` },
        { kind: 'sqlite', name: 'app', target: sqliteFile },
        { kind: 'git', name: 'project', target: gitDir },
        { kind: 'redis', name: 'cache', target: 'redis://127.0.0.1:6379' },
        { kind: 'redis', name: 'stopped', target: `redis://127.0.0.1:${deadRedis}`, optional: true },
        { kind: 'command', name: 'hello.txt', target: 'printf "hello from a command\\n"' },
      ],
    });
    await w.addJob('all-backup', { kind: 'backup', profile: 'all' });
    const r = await w.run('all-backup');
    assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
    const ev = Object.fromEntries((r.evidence ?? []).map((e) => [e.check, e]));
    for (const name of [db, 'app', 'project', 'cache', 'hello.txt']) {
      assert.equal(ev[`source ${name}`]?.ok, true, name);
      assert.match(ev[`source ${name}`]!.detail, /exit status 0/);
    }
    assert.equal(ev['source stopped']?.ok, true);
    assert.match(
      ev['source stopped']!.detail,
      /WARNING: optional source skipped: redis-cli exited with status 1: Could not connect/,
    );
    assert.match(r.outputTail ?? '', /WARNING: optional source skipped/);
    const recs = Object.fromEntries((r.details?.backup?.sources ?? []).map((s) => [s.name, s]));
    assert.equal(recs[db]?.path, `/databases/postgres/${db}.dump`);
    assert.equal(recs[db]?.exitCode, 0);
    assert.ok(recs[db]!.bytes > 1000);
    assert.equal(recs['stopped']?.status, 'skipped');
    assert.equal(
      r.evidence?.some((e) => e.check === 'all files read'),
      false,
    );

    const snap = r.details!.backup!.snapshotId!;
    // The PostgreSQL dump is a custom-format archive pg_restore can read.
    const dump = await snapshotFile(repoDir, snap, `/databases/postgres/${db}.dump`);
    assert.equal(dump.subarray(0, 5).toString(), 'PGDMP');
    const list = spawnSync('pg_restore', ['--list'], { input: dump });
    assert.equal(list.status, 0, list.stderr.toString());
    assert.match(list.stdout.toString(), /TABLE DATA public invoices/);
    // SQLite: a whole database file with the rows.
    const copy = join(w.root, 'restored.sqlite');
    writeFileSync(copy, await snapshotFile(repoDir, snap, '/databases/sqlite/app.sqlite'));
    const s = new Database(copy, { readonly: true });
    assert.deepEqual(s.prepare('SELECT count(*) AS n FROM notes').get(), { n: 3 });
    s.close();
    // git: a bundle of all refs that git verifies.
    const bundle = join(w.root, 'p.bundle');
    writeFileSync(bundle, await snapshotFile(repoDir, snap, '/git/project.bundle'));
    const heads = execFileSync('git', ['bundle', 'list-heads', bundle], { encoding: 'utf8' });
    assert.match(heads, /refs\/heads\/main/);
    assert.match(heads, /refs\/tags\/v1/);
    // Redis: an RDB file, without redis-cli's end-of-transfer mark.
    const rdb = await snapshotFile(repoDir, snap, '/databases/redis/cache.rdb');
    assert.equal(rdb.subarray(0, 5).toString(), 'REDIS');
    assert.equal(rdb[rdb.length - 9], 0xff, 'ends with the RDB end marker and its checksum');
    assert.equal(
      (await snapshotFile(repoDir, snap, '/commands/hello.txt')).toString(),
      'hello from a command\n',
    );
  });

  test('a profile with sources backs up incrementally: the next snapshot has the previous as parent', async () => {
    await addProfile(w, {
      name: 'incr',
      repository: repoDir,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      paths: [w.src],
      sources: [{ kind: 'sqlite', name: 'app', target: sqliteFile }],
    });
    await w.addJob('incr-backup', { kind: 'backup', profile: 'incr' });
    const first = await w.run('incr-backup');
    const second = await w.run('incr-backup');
    for (const r of [first, second]) assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
    // Unchanged files are not read again: the parent's tree and the files cache are used.
    assert.ok((second.details?.backup?.filesUnmodified ?? 0) > 0, 'files unmodified on the second run');
    const repo = await openRepository(repoDir, { password: PASSWORD });
    try {
      const snap = await repo.loadSnapshot(second.details!.backup!.snapshotId!);
      assert.equal(snap.parent, first.details!.backup!.snapshotId);
      assert.ok(snap.paths.includes('/databases/sqlite/app.sqlite'), snap.paths.join(' '));
    } finally {
      await repo.close();
    }
  });

  test("a required source that is down, or a failing dump, fails the run with the tool's message and writes no snapshot", async () => {
    for (const [name, source, message] of [
      [
        'redis-required',
        { kind: 'redis' as const, name: 'stopped', target: `redis://127.0.0.1:${deadRedis}` },
        /redis-cli exited with status 1: Could not connect to Redis/,
      ],
      [
        'pg-missing',
        {
          kind: 'postgres' as const,
          name: 'gone',
          target: `postgresql://postgres@127.0.0.1:5432/${db}_missing`,
        },
        /pg_dump exited with status 1: .*does not exist/,
      ],
      [
        'cmd-fails',
        { kind: 'command' as const, name: 'broken', target: 'echo partial; echo "disk on fire" >&2; exit 3' },
        /sh exited with status 3: disk on fire/,
      ],
    ] as const) {
      await addProfile(w, {
        name,
        repository: repoDir,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
        sources: [source],
      });
      await w.addJob(`${name}-job`, { kind: 'backup', profile: name });
      const before = await snapshotCount();
      const r = await w.run(`${name}-job`);
      assert.equal(r.status, 'error', name);
      assert.match(r.error ?? '', message);
      assert.equal(await snapshotCount(), before, `${name}: no snapshot is presented as complete`);
    }
  });

  test('the database is dropped and restored from the snapshot with equal rows; a drill restores into a scratch database', async () => {
    await addProfile(w, {
      name: 'erp',
      repository: repoDir,
      key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
      paths: [],
      sources: [{ kind: 'postgres', name: 'erp', target: `postgresql://postgres@127.0.0.1:5432/${db}` }],
      drillQuery: 'select count(*) from invoices',
    });
    await w.addJob('erp-backup', { kind: 'backup', profile: 'erp' });
    await w.addJob('erp-drill', { kind: 'drill', profile: 'erp' });
    const r = await w.run('erp-backup');
    assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
    const d = await w.run('erp-drill');
    assert.equal(d.status, 'ok', `${d.error}\n${d.outputTail}`);
    const dbEv = d.evidence?.find((e) => e.check === 'database erp');
    assert.match(
      dbEv?.detail ?? '',
      /restored into scratch database nightshift_drill_[0-9a-f]+ \(dropped after\); "select count\(\*\) from invoices" returned 1 row/,
    );
    const scratch = d.details!.drill!.databases![0]!.scratch;
    const left = await sql(`SELECT 1 FROM pg_database WHERE datname = '${scratch}'`);
    assert.equal(left.rowCount, 0, 'the scratch database is dropped');

    // Drop the live database, restore it from the snapshot: every row is back.
    const rows = (await sql('SELECT count(*)::int AS n, sum(amount)::int AS s FROM invoices', db)).rows[0];
    await sql(`DROP DATABASE ${db}`);
    const repo = await openRepository(repoDir, { password: PASSWORD });
    try {
      const snap = await repo.loadSnapshot(r.details!.backup!.snapshotId!);
      const said = await restoreSource(repo, snap, 'erp', {
        into: `postgresql://postgres@127.0.0.1:5432/${db}`,
      });
      assert.match(said, new RegExp(`restored erp into PostgreSQL database ${db}`));
    } finally {
      await repo.close();
    }
    assert.deepEqual(
      (await sql('SELECT count(*)::int AS n, sum(amount)::int AS s FROM invoices', db)).rows[0],
      rows,
    );
  });

  test('a missing client tool is named with its Debian package', async () => {
    const outcome = { bytes: 0, durationMs: 0 };
    const it = commandStream({ argv: ['pg_dump_not_here'], debianPackage: 'postgresql-client' }, outcome);
    await assert.rejects(async () => {
      for await (const c of it) void c;
    }, /pg_dump_not_here is not installed \(not found on PATH\); install the Debian package postgresql-client/);
  });
});
