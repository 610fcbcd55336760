import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { keygen } from '../../src/backup/keys.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { stats } from '../../src/backup/stats.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

describe('stats', () => {
  test('counts unique data once and shows what compression saved', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const text = Buffer.from('a log line that repeats\n'.repeat(40_000));
      const rnd = noise('r', 500_000);
      await snapshotOf(repo, [text, rnd]);
      await snapshotOf(repo, [text, rnd]); // the same data again adds no blob
      const s = await stats(await openRepository(dir, { password: PASSWORD }));
      assert.equal(s.snapshots, 2);
      assert.equal(s.dataBlobs, 2);
      assert.equal(s.treeBlobs, 1);
      assert.ok(s.uniqueBytes >= text.length + rnd.length);
      assert.ok(s.storedBytes < rnd.length + text.length / 10, `stored ${s.storedBytes}`);
      assert.ok(s.compressionRatio > 1.5);
      assert.equal(s.uncompressedBlobs, 1, 'random data is stored raw');
      assert.ok(s.totalFileBytes > s.storedBytes);
    } finally {
      t.cleanup();
    }
  });

  test('works with only the writer key of a recipients repository', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const id = await keygen();
      const { writerKey } = await initRepository(dir, { recipients: [id.recipient] });
      const w = await openRepository(dir, { writerKey: writerKey! });
      await snapshotOf(w, [noise('x', 100_000)]);
      const s = await stats(await openRepository(dir, { writerKey: writerKey! }));
      assert.equal(s.snapshots, 1);
      assert.equal(s.blobs, 2);
    } finally {
      t.cleanup();
    }
  });
});
