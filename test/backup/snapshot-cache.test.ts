import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { forgetSnapshots } from '../../src/backup/prune.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

test('listing through the snapshot cache sees new and forgotten snapshots, and ignores a tampered cache', async () => {
  const t = tempDir();
  try {
    const dir = join(t.dir, 'repo');
    const cacheFile = join(t.dir, 'cache', 'snapshots.json');
    const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
    const s1 = await snapshotOf(repo, [noise('a', 1000)]);
    const s2 = await snapshotOf(repo, [noise('b', 1000)]);
    const open = () => openRepository(dir, { password: PASSWORD, snapshotCache: cacheFile, index: false });
    const ids = async () => (await (await open()).listSnapshots()).map((s) => s.id);
    const plain = (await repo.listSnapshots()).map((s) => ({ ...s }));

    assert.deepEqual(await ids(), [s1.id, s2.id]);
    assert.deepEqual(
      await (await open()).listSnapshots(),
      plain,
      'cached metadata equals what the files say',
    );
    assert.ok(readFileSync(cacheFile, 'utf8').includes(s1.id), 'the listing filled the cache');

    const s3 = await snapshotOf(repo, [noise('c', 1000)]);
    assert.deepEqual(await ids(), [s1.id, s2.id, s3.id], 'a new snapshot is read and added');
    const writer = await openRepository(dir, { password: PASSWORD, snapshotCache: cacheFile });
    const s4 = await snapshotOf(writer, [noise('d', 1000)]);
    assert.ok(
      readFileSync(cacheFile, 'utf8').includes(s4.id),
      'a snapshot written here is cached as it is written',
    );
    assert.deepEqual(await ids(), [s1.id, s2.id, s3.id, s4.id]);
    await forgetSnapshots(repo, [s1.id]);
    assert.deepEqual(await ids(), [s2.id, s3.id, s4.id], 'a forgotten snapshot is gone from the listing');

    // A cache edited to claim another root tree is not believed.
    const f = JSON.parse(readFileSync(cacheFile, 'utf8')) as { body: string };
    f.body = f.body.replace(/"tree":"[0-9a-f]+"/, `"tree":"${'0'.repeat(64)}"`);
    writeFileSync(cacheFile, JSON.stringify(f));
    const listed = await (await open()).listSnapshots();
    assert.deepEqual(
      listed.map((s) => s.tree),
      (await repo.listSnapshots()).map((s) => s.tree),
    );
  } finally {
    t.cleanup();
  }
});
