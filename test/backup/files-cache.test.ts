import { test, describe } from 'node:test';
import path from 'node:path';
import Database from 'better-sqlite3';
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

describe('files cache lookups', () => {
  test('finds every file of a depth-first walk, in directories of any size', () => {
    const t = tempDir();
    try {
      // A directory over the per-directory read limit (10,000) is looked up file by file.
      const big = Array.from({ length: 10_050 }, (_, i) => `/w/big/f${i}`);
      const walk = ['/w/a/x', '/w/a/sub/y', '/w/a/sub/deeper/q', '/w/a/z', ...big, '/w/b/w', '/top'];
      const idOf = (i: number): FileIdentity => ({ ...old, ino: BigInt(100 + i) });
      const idsOf = (i: number): string[] => [i.toString(16).padStart(64, '0')];
      let cache = FilesCache.open(t.dir);
      walk.forEach((p, i) => cache.record(p, idOf(i), idsOf(i)));
      cache.finish();
      cache.close();
      cache = FilesCache.open(t.dir);
      walk.forEach((p, i) => {
        if (p === '/w/a/z')
          assert.equal(cache.lookup(p, { ...idOf(i), ctimeNs: 5n }), undefined, 'changed ctime');
        else assert.deepEqual(cache.lookup(p, idOf(i)), idsOf(i), p);
      });
      assert.equal(cache.lookup('/w/a/new', old), undefined, 'a file never recorded');
      cache.close();
    } finally {
      t.cleanup();
    }
  });

  test('a cache written by an earlier version is carried over, so no file is read again', () => {
    const t = tempDir();
    try {
      const db = new Database(path.join(t.dir, 'files.db'));
      db.exec(`CREATE TABLE files (
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime TEXT NOT NULL, ctime TEXT NOT NULL,
        ino TEXT NOT NULL, dev TEXT NOT NULL, content TEXT NOT NULL, seen INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('gen', '3');`);
      const put = db.prepare('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      put.run('/home/ann/notes.txt', 10, '1000000000', '1000000000', '7', '1', 'aa'.repeat(32), 3);
      put.run('/x', 10, '1000000000', '1000000000', '8', '1', '', 3);
      db.close();
      const cache = FilesCache.open(t.dir);
      assert.deepEqual(cache.lookup('/home/ann/notes.txt', old), ['aa'.repeat(32)]);
      assert.deepEqual(cache.lookup('/x', other), [], 'an empty file at the top');
      assert.equal(cache.size(), 2);
      cache.close();
      const after = new Database(path.join(t.dir, 'files.db'), { readonly: true });
      const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      after.close();
      assert.deepEqual(tables.sort(), ['entries', 'meta'], 'the old table is gone');
    } finally {
      t.cleanup();
    }
  });

  test('one cache kept open across backups sees what the earlier backup recorded', () => {
    const t = tempDir();
    try {
      const cache = FilesCache.open(t.dir);
      cache.begin(Date.now());
      assert.equal(cache.lookup('/src/a', old), undefined, 'first backup: not cached yet');
      cache.record('/src/a', old, ['aa'.repeat(32)]);
      cache.finish();
      cache.begin(Date.now());
      assert.deepEqual(cache.lookup('/src/a', old), ['aa'.repeat(32)], 'second backup, same cache');
      cache.close();
    } finally {
      t.cleanup();
    }
  });
});
