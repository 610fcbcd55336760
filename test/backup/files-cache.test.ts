import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FilesCache } from '../../src/backup/files-cache.ts';
import type { FileIdentity } from '../../src/backup/ports.ts';
import { tempDir } from './repository-helpers.ts';

const old: FileIdentity = { dev: 1n, ino: 7n, size: 10, mtimeNs: 1_000_000_000n, ctimeNs: 1_000_000_000n };
const other: FileIdentity = { ...old, ino: 8n };

describe('files cache', () => {
  test('a file reused by every backup stays cached past the ttl; one no longer seen expires', () => {
    const t = tempDir();
    try {
      const ttl = 4;
      let cache = FilesCache.open(t.dir, { ttl });
      cache.record('/kept', old, ['aa'.repeat(32)]);
      cache.record('/gone', other, ['bb'.repeat(32)]);
      cache.finish();
      cache.close();
      for (let i = 0; i < 3 * ttl; i++) {
        cache = FilesCache.open(t.dir, { ttl });
        assert.deepEqual(cache.lookup('/kept', old), ['aa'.repeat(32)], `backup ${i}: still cached`);
        cache.touch('/kept');
        cache.finish();
        cache.close();
      }
      cache = FilesCache.open(t.dir, { ttl });
      assert.equal(cache.lookup('/gone', other), undefined, 'not seen for longer than the ttl: dropped');
      assert.equal(cache.size(), 1);
      assert.equal(cache.lookup('/kept', { ...old, size: 11 }), undefined, 'a changed file is not reused');
      cache.close();
    } finally {
      t.cleanup();
    }
  });
});
