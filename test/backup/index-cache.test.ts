import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/backup/backends/local.ts';
import { check } from '../../src/backup/check.ts';
import { forgetSnapshots, prune } from '../../src/backup/prune.ts';
import { initRepository, openRepository, type Repo } from '../../src/backup/repository.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

/** A local store that counts the index files it reads. */
class CountingStore extends LocalBlobStore {
  indexReads = 0;
  override async read(path: string): Promise<Uint8Array> {
    if (path.startsWith('index/')) this.indexReads++;
    return super.read(path);
  }
}

/** Every blob the index knows, as the entries a reader would get. */
function entries(repo: Repo): string[] {
  return [...repo.index.allBlobs()].map((b) => JSON.stringify(b)).sort();
}

test('an open takes the index from the cache, decodes only index files added since, and agrees with the files', async () => {
  const t = tempDir();
  const opened: Repo[] = [];
  try {
    const dir = join(t.dir, 'repo');
    const cacheFile = join(t.dir, 'cache', 'index.bin');
    const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
    opened.push(repo);
    const s1 = await snapshotOf(repo, [noise('a', 50_000), noise('b', 70_000)]);
    await snapshotOf(repo, [noise('c', 30_000)]);
    const open = async (cache = true): Promise<{ repo: Repo; store: CountingStore }> => {
      const store = new CountingStore(dir);
      const r = await openRepository(store, {
        password: PASSWORD,
        ...(cache ? { indexCache: cacheFile } : {}),
      });
      opened.push(r);
      return { repo: r, store };
    };
    const truth = entries((await open(false)).repo);
    const indexFiles = readdirSync(join(dir, 'index')).length;
    assert.ok(indexFiles >= 2);

    const first = await open();
    assert.equal(first.repo.indexFromCache, false, 'no cache yet');
    assert.equal(first.store.indexReads, indexFiles);
    assert.ok(existsSync(cacheFile), 'the first open wrote the cache');
    assert.ok(!readFileSync(cacheFile).includes(Buffer.from(s1.ids[0]!, 'hex')), 'blob ids are encrypted');

    const second = await open();
    assert.equal(second.repo.indexFromCache, true);
    assert.equal(second.store.indexReads, 0, 'no index file read');
    assert.deepEqual(entries(second.repo), truth);
    assert.equal(second.repo.index.files.size, indexFiles);
    assert.equal(second.repo.index.packs.size, (await open(false)).repo.index.packs.size);
    for (const id of s1.ids) assert.deepEqual(await second.repo.loadBlob(id), await repo.loadBlob(id));

    // A backup through the cached index adds to it; the next open reads only the new index file.
    const s3 = await snapshotOf(second.repo, [noise('d', 40_000), noise('a', 50_000)]);
    const third = await open();
    assert.equal(third.store.indexReads, 1, 'only the index file written since');
    assert.deepEqual(entries(third.repo), entries((await open(false)).repo));
    assert.deepEqual(await third.repo.loadBlob(s3.ids[0]!), noise('d', 40_000));
    assert.equal((await open()).store.indexReads, 0, 'the cache now holds that file too');

    // Prune replaces index files: the cache no longer matches and the index is read whole again.
    const before = readdirSync(join(dir, 'index')).sort();
    const cacheBefore = readFileSync(cacheFile);
    await forgetSnapshots(third.repo, [s1.id]);
    const readsBefore = third.store.indexReads;
    const report = await prune(third.repo, { repackThreshold: 0 });
    assert.ok(report.packsRepacked + report.packsDeleted > 0, JSON.stringify(report));
    const now = readdirSync(join(dir, 'index')).sort();
    assert.notDeepEqual(now, before);
    assert.equal(third.store.indexReads - readsBefore, now.length, "prune's reload read the new index whole");
    const after = await open();
    assert.equal(after.store.indexReads, 0, 'and cached it');
    assert.deepEqual(entries(after.repo), entries((await open(false)).repo));

    // A cache that holds an index file prune removed is not used.
    writeFileSync(cacheFile, cacheBefore);
    const stale = await open();
    assert.equal(stale.repo.indexFromCache, false);
    assert.equal(stale.store.indexReads, now.length);
    assert.deepEqual(entries(stale.repo), entries(after.repo));
    assert.equal((await check(after.repo)).ok, true);
  } finally {
    t.cleanup();
  }
});

test('a damaged, truncated or foreign index cache is ignored and rewritten', async () => {
  const t = tempDir();
  const opened: Repo[] = [];
  try {
    const dir = join(t.dir, 'repo');
    const other = join(t.dir, 'other');
    const cacheFile = join(t.dir, 'index.bin');
    const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
    await snapshotOf(repo, [noise('a', 50_000)]);
    const { repo: repo2 } = await initRepository(other, { password: PASSWORD, scrypt: FAST_SCRYPT });
    await snapshotOf(repo2, [noise('z', 50_000)]);
    const open = async (d: string): Promise<Repo> => {
      const r = await openRepository(d, { password: PASSWORD, indexCache: cacheFile });
      opened.push(r);
      return r;
    };
    const plain = await openRepository(dir, { password: PASSWORD });
    opened.push(repo, repo2, plain);
    const truth = entries(plain);
    await open(dir);
    const good = readFileSync(cacheFile);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 40]! ^= 1;
    writeFileSync(cacheFile, flipped);
    let r = await open(dir);
    assert.equal(r.indexFromCache, false, 'a flipped byte fails authentication');
    assert.deepEqual(entries(r), truth);
    assert.notDeepEqual(readFileSync(cacheFile), flipped, 'rewritten');
    assert.equal((await open(dir)).indexFromCache, true, 'the rewritten cache is used');

    truncateSync(cacheFile, 100);
    r = await open(dir);
    assert.equal(r.indexFromCache, false, 'a truncated cache is ignored');
    assert.deepEqual(entries(r), truth);

    // Another repository's cache at the same path opens with another key: ignored.
    await open(other);
    r = await open(dir);
    assert.equal(r.indexFromCache, false);
    assert.deepEqual(entries(r), truth);
  } finally {
    for (const x of opened) await x.close();
    t.cleanup();
  }
});

test('check reads the index files even when the cache still holds a damaged one', async () => {
  const t = tempDir();
  try {
    const dir = join(t.dir, 'repo');
    const cacheFile = join(t.dir, 'index.bin');
    const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
    await snapshotOf(repo, [noise('a', 50_000)]);
    await (await openRepository(dir, { password: PASSWORD, indexCache: cacheFile })).close();
    await repo.close();
    const name = readdirSync(join(dir, 'index'))[0]!;
    const file = join(dir, 'index', name);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(file, bytes);

    const r = await openRepository(dir, { password: PASSWORD, indexCache: cacheFile });
    assert.equal(r.indexFromCache, true, 'the open itself trusts its own cache');
    const report = await check(r);
    assert.equal(report.ok, false);
    assert.ok(
      report.errors.some((e) => e.message.includes(`index/${name}`) && e.message.includes('damaged')),
      JSON.stringify(report.errors),
    );
    await r.close();
  } finally {
    t.cleanup();
  }
});
