import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { backup } from '../../src/backup/archiver.ts';
import { FilesCache } from '../../src/backup/files-cache.ts';
import { findNode } from '../../src/backup/browse.ts';
import { restore } from '../../src/backup/restorer.ts';
import { FilesSource } from '../../src/backup/sources/files.ts';
import type { SnapshotMeta, Source, SourceContext, SourceEntry } from '../../src/backup/ports.ts';
import { describeTree, newRepo, reopen, rmrf, tmpDir } from './archiver-helpers.ts';

function pseudoRandom(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, Math.min(i, size - 4));
  }
  return b;
}

function makeData(dir: string): void {
  fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
  for (let i = 0; i < 20; i++)
    fs.writeFileSync(path.join(dir, 'docs', `f${i}.bin`), pseudoRandom(100_000, i + 1));
  fs.writeFileSync(path.join(dir, 'large.bin'), pseudoRandom(2_000_000, 99));
}

describe('incremental backups', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('the files cache skips unchanged files; only the changed file is read', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    makeData(src);
    const repoDir = path.join(work, 'repo');
    const cacheDir = path.join(work, 'cache');
    const repo = await newRepo(repoDir);
    // racyMs: 0 lets files written a moment ago be cached (the test does not modify them again unseen).
    let cache = FilesCache.open(cacheDir, { racyMs: 0 });
    const first = await backup(repo, { paths: [src], filesCache: cache });
    cache.close();
    const total = first.stats.bytesRead;
    assert.equal(total, 20 * 100_000 + 2_000_000);
    await repo.close();

    // A new process: the cache is on disk, the repository is reopened.
    fs.appendFileSync(path.join(src, 'docs/f3.bin'), 'changed');
    const repo2 = await reopen(repoDir);
    cache = FilesCache.open(cacheDir, { racyMs: 0 });
    const second = await backup(repo2, { paths: [src], filesCache: cache, parent: first.snapshot });
    cache.close();
    assert.equal(second.stats.bytesRead, 100_007, 'only the changed file is read');
    assert.equal(second.stats.filesUnchanged, 20);
    assert.equal(second.snapshot.parent, first.snapshot.id);
    assert.ok(second.stats.bytesNew <= 2 * 1024 * 1024, `little new data (${second.stats.bytesNew})`);

    // A third run with no changes reads nothing and stores no new data.
    cache = FilesCache.open(cacheDir, { racyMs: 0 });
    const third = await backup(repo2, { paths: [src], filesCache: cache });
    cache.close();
    assert.equal(third.stats.bytesRead, 0);
    assert.equal(third.stats.chunksNew, 0);
    // (The snapshot roots differ when the temp directory's own mtime moved; the source's subtree may not.)
    const subtree = async (snap: SnapshotMeta): Promise<string | undefined> =>
      (await findNode(repo2, snap, src)).subtree;
    assert.equal(
      await subtree(third.snapshot),
      await subtree(second.snapshot),
      'same directory, same tree id',
    );

    // What the cache reused restores byte-exact.
    const target = path.join(work, 'target');
    await restore(repo2, third.snapshot, { target, verify: true });
    assert.deepEqual(describeTree(path.join(target, src)), describeTree(src));
    await repo2.close();
  });

  test('a cached file whose chunks are gone from the repository is read again', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    makeData(src);
    const cacheDir = path.join(work, 'cache');
    const repoA = await newRepo(path.join(work, 'repoA'));
    let cache = FilesCache.open(cacheDir, { racyMs: 0 });
    await backup(repoA, { paths: [src], filesCache: cache });
    cache.close();
    await repoA.close();
    // Same cache directory, a different (empty) repository: nothing may be trusted.
    const repoB = await newRepo(path.join(work, 'repoB'));
    cache = FilesCache.open(cacheDir, { racyMs: 0 });
    const r = await backup(repoB, { paths: [src], filesCache: cache });
    cache.close();
    assert.equal(r.stats.bytesRead, 4_000_000);
    const target = path.join(work, 'target');
    await restore(repoB, r.snapshot, { target });
    assert.deepEqual(describeTree(path.join(target, src)), describeTree(src));
    await repoB.close();
  });

  test('a second host with the same data adds almost nothing (dedup across hosts)', async () => {
    const work = tmpDir();
    dirs.push(work);
    const hostA = path.join(work, 'hostA');
    const hostB = path.join(work, 'hostB');
    makeData(hostA);
    makeData(hostB);
    const repoDir = path.join(work, 'repo');
    const repo = await newRepo(repoDir);
    const a = await backup(repo, { paths: [hostA], host: 'a' });
    assert.ok(a.stats.bytesNew >= 4_000_000);
    const b = await backup(repo, { paths: [hostB], host: 'b' });
    assert.equal(b.stats.bytesRead, 4_000_000, 'host b has no cache: it reads everything');
    assert.ok(b.stats.bytesNew < 20_000, `only tree metadata is new (${b.stats.bytesNew})`);
    assert.equal(b.stats.chunksNew, 0);
    const snaps = await repo.listSnapshots();
    assert.deepEqual(snaps.map((s) => s.hostname).sort(), ['a', 'b']);
    await repo.close();
  });
});

describe('sources that misbehave', () => {
  const dirs: string[] = [];
  after(() => rmrf(...dirs));

  test('a file that vanishes before it is read is skipped with a warning; the rest is stored', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a'), 'stays');
    fs.writeFileSync(path.join(src, 'b'), 'vanishes');
    fs.writeFileSync(path.join(src, 'c'), 'stays too');
    const files = new FilesSource({ paths: [src] });
    // Deletes "b" after it was listed and before the archiver opens it.
    const racy: Source = {
      paths: files.paths,
      async *entries(ctx: SourceContext): AsyncGenerator<SourceEntry> {
        for await (const e of files.entries(ctx)) {
          if (e.path.at(-1) === 'b') fs.rmSync(path.join(src, 'b'));
          yield e;
        }
      },
    };
    const repo = await newRepo(path.join(work, 'repo'));
    const warnings: string[] = [];
    const r = await backup(repo, {
      source: racy,
      onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
    });
    assert.equal(r.stats.errors, 1);
    assert.equal(r.stats.files, 2);
    assert.match(warnings[0]!, /\/b: vanished/);
    const target = path.join(work, 'target');
    await restore(repo, r.snapshot, { target });
    assert.deepEqual(fs.readdirSync(path.join(target, src)).sort(), ['a', 'c']);
    await repo.close();
  });

  test('stdin: one file from a stream; a stream that breaks off writes no snapshot', async () => {
    const work = tmpDir();
    dirs.push(work);
    const repo = await newRepo(path.join(work, 'repo'));
    const body = pseudoRandom(1_500_000, 7);
    const r = await backup(repo, {
      stdin: { stream: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), name: 'db.sql' },
    });
    assert.deepEqual(r.snapshot.paths, ['/db.sql']);
    assert.equal(r.stats.files, 1);
    const target = path.join(work, 'target');
    await restore(repo, r.snapshot, { target });
    assert.ok(fs.readFileSync(path.join(target, 'db.sql')).equals(body));

    const broken = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('pg_dump exited with status 1'));
      },
    });
    await assert.rejects(
      backup(repo, { stdin: { stream: broken, name: 'db.sql' } }),
      /db\.sql failed: pg_dump exited/,
    );
    assert.equal((await repo.listSnapshots()).length, 1);
    await assert.rejects(
      backup(repo, { stdin: { stream: Readable.from([]), name: '../escape' } }),
      /invalid --stdin-name/,
    );
    await assert.rejects(backup(repo, { paths: [path.join(work, 'missing')] }), /no such file or directory/);
    await repo.close();
  });

  test('an aborted backup writes no snapshot', async () => {
    const work = tmpDir();
    dirs.push(work);
    const src = path.join(work, 'src');
    makeData(src);
    const files = new FilesSource({ paths: [src] });
    const abort = new AbortController();
    // Stops the run part-way, the way SIGINT does in the CLI.
    const interrupted: Source = {
      paths: files.paths,
      async *entries(ctx: SourceContext): AsyncGenerator<SourceEntry> {
        let n = 0;
        for await (const e of files.entries(ctx)) {
          if (++n === 10) abort.abort(new Error('interrupted by the user'));
          yield e;
        }
      },
    };
    const repo = await newRepo(path.join(work, 'repo'));
    await assert.rejects(
      backup(repo, { source: interrupted, signal: abort.signal }),
      /interrupted by the user/,
    );
    assert.deepEqual(await repo.listSnapshots(), []);
    await repo.close();
  });
});
