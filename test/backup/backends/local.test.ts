import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBlobStore } from '../../../src/backup/backends/local.ts';
import { tempDir } from '../repository-helpers.ts';

describe('local blob store', () => {
  test('writes durably under nested paths, reads ranges, lists recursively, removes', async () => {
    const t = tempDir();
    try {
      const s = new LocalBlobStore(t.dir);
      await s.write('data/ab/abcd', Buffer.from('hello world'));
      await s.write('index/x', Buffer.from('idx'));
      assert.equal(statSync(join(t.dir, 'data/ab/abcd')).mode & 0o777, 0o600);
      assert.deepEqual(Buffer.from(await s.read('data/ab/abcd')).toString(), 'hello world');
      assert.equal(Buffer.from(await s.readRange('data/ab/abcd', 6, 5)).toString(), 'world');
      await assert.rejects(s.readRange('data/ab/abcd', 6, 50), /shorter than expected/);
      // Read into lent memory when it is large enough, else into memory of its own.
      const into = new Uint8Array(8).fill(42);
      const lent = await s.readRange('data/ab/abcd', 0, 5, into);
      assert.equal(lent.buffer, into.buffer);
      assert.equal(Buffer.from(into).toString('latin1'), 'hello***');
      const own = await s.readRange('data/ab/abcd', 0, 11, into);
      assert.notEqual(own.buffer, into.buffer);
      assert.equal(Buffer.from(own).toString(), 'hello world');
      assert.deepEqual(await s.list('data'), ['ab/abcd']);
      assert.deepEqual(await s.list('nothing-here'), []);
      assert.equal(await s.size('index/x'), 3);
      assert.equal(await s.exists('index/x'), true);
      await s.remove('index/x');
      assert.equal(await s.exists('index/x'), false);
      assert.deepEqual(readdirSync(join(t.dir, 'data/ab')), ['abcd'], 'no temp file is left behind');
    } finally {
      t.cleanup();
    }
  });

  test('an existing file is never overwritten', async () => {
    const t = tempDir();
    try {
      const s = new LocalBlobStore(t.dir);
      await s.write('k', Buffer.from('first'));
      await s.write('k', Buffer.from('second'));
      assert.equal(Buffer.from(await s.read('k')).toString(), 'first');
      assert.deepEqual(readdirSync(t.dir), ['k']);
    } finally {
      t.cleanup();
    }
  });

  test('paths escaping the repository are refused', async () => {
    const t = tempDir();
    try {
      const s = new LocalBlobStore(join(t.dir, 'repo'));
      await assert.rejects(s.write('../outside', Buffer.from('x')), /invalid repository path/);
      await assert.rejects(s.read('/etc/passwd'), /invalid repository path/);
    } finally {
      t.cleanup();
    }
  });

  test('a file written through a sink appears whole under its name, or not at all', async () => {
    const t = tempDir();
    try {
      const s = new LocalBlobStore(t.dir);
      const parts = [Buffer.from('pack '), Buffer.from('bytes '), Buffer.from('in order')];
      const sink = s.openSink('data');
      await Promise.all(parts.map((p) => sink.append(p)));
      assert.match(
        readdirSync(join(t.dir, 'data')).join(),
        /^\.tmp-[0-9a-f]+$/,
        'only a temp name before the commit',
      );
      await sink.commit('data/ab/abcd');
      assert.equal(Buffer.from(await s.read('data/ab/abcd')).toString(), 'pack bytes in order');
      assert.equal(statSync(join(t.dir, 'data/ab/abcd')).mode & 0o777, 0o600);

      const again = s.openSink('data');
      await again.append(Buffer.from('other bytes'));
      await again.commit('data/ab/abcd');
      assert.equal(
        Buffer.from(await s.read('data/ab/abcd')).toString(),
        'pack bytes in order',
        'never overwritten',
      );

      const dropped = s.openSink('data');
      await dropped.append(Buffer.from('half a pack'));
      await dropped.abort();
      assert.deepEqual(
        readdirSync(join(t.dir, 'data'), { recursive: true }),
        ['ab', 'ab/abcd'],
        'no temp file is left',
      );
    } finally {
      t.cleanup();
    }
  });
});
