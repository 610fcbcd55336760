import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

function packCount(repoDir: string): number {
  let n = 0;
  for (const d of readdirSync(join(repoDir, 'data'))) n += readdirSync(join(repoDir, 'data', d)).length;
  return n;
}

describe('repository (passphrase mode)', () => {
  test('blobs and snapshots round-trip through a reopened repository', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const text = Buffer.from('line of a source file\n'.repeat(5000));
      const rnd = noise('a', 300_000);
      const empty = new Uint8Array(0);
      const st = await repo.saveBlob('data', text);
      assert.ok(st.isNew && st.storedBytes < text.length / 10, 'compressible data is stored compressed');
      const sr = await repo.saveBlob('data', rnd);
      assert.ok(sr.storedBytes <= rnd.length + 64, 'incompressible data is stored as is');
      const snap = await snapshotOf(repo, [text, rnd, empty], { paths: ['/home/ann'], tags: ['daily'] });

      const again = await openRepository(dir, { password: PASSWORD });
      assert.deepEqual(Buffer.from(await again.loadBlob(st.id)), text);
      assert.deepEqual(Buffer.from(await again.loadBlob(sr.id)), rnd);
      assert.equal((await again.loadBlob(snap.ids[2]!)).length, 0);
      const snaps = await again.listSnapshots();
      assert.equal(snaps.length, 1);
      assert.equal(snaps[0]!.id, snap.id);
      assert.deepEqual(snaps[0]!.paths, ['/home/ann']);
      assert.deepEqual(snaps[0]!.tags, ['daily']);
      assert.equal((await again.loadSnapshot(snap.id.slice(0, 8))).tree, snap.tree);
      assert.equal((await again.loadSnapshot('latest')).id, snap.id);
    } finally {
      t.cleanup();
    }
  });

  test('identical data is stored once: within a session, across sessions and across hosts', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const data = noise('shared', 200_000);
      const first = await repo.saveBlob('data', data);
      const dup = await repo.saveBlob('data', data);
      assert.equal(first.isNew, true);
      assert.deepEqual([dup.isNew, dup.storedBytes, dup.id], [false, 0, first.id]);
      await snapshotOf(repo, [data], { hostname: 'host-a' });
      const packs = packCount(dir);

      const other = await openRepository(dir, { password: PASSWORD, hostname: 'host-b' });
      const res = await other.saveBlob('data', data);
      assert.equal(res.isNew, false);
      assert.equal(other.hasBlob(first.id), true);
      await snapshotOf(other, [data], { hostname: 'host-b' });
      assert.equal(packCount(dir), packs, 'the second host added no pack for data already there');
      assert.deepEqual((await other.listSnapshots()).map((s) => s.hostname).sort(), ['host-a', 'host-b']);
    } finally {
      t.cleanup();
    }
  });

  test('large writes are split into packs of about 16 MiB', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const blobs = Array.from({ length: 40 }, (_, i) => noise(`big${i}`, 512 * 1024));
      const snap = await snapshotOf(repo, blobs);
      assert.equal(packCount(dir), 2);
      const again = await openRepository(dir, { password: PASSWORD });
      for (const [i, id] of snap.ids.entries())
        assert.deepEqual(Buffer.from(await again.loadBlob(id)), blobs[i]);
    } finally {
      t.cleanup();
    }
  });

  test('concurrent saves (as the archiver pipelines them) land in complete, loadable packs', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const blobs = Array.from({ length: 60 }, (_, i) =>
        i % 2 ? noise(`c${i}`, 700_000) : Buffer.from(`text ${i} `.repeat(70_000)),
      );
      const results = await Promise.all(blobs.map((b) => repo.saveBlob('data', b)));
      assert.equal(results.filter((r) => r.isNew).length, 60);
      await repo.flush();
      const again = await openRepository(dir, { password: PASSWORD });
      for (const [i, r] of results.entries())
        assert.deepEqual(Buffer.from(await again.loadBlob(r.id)), blobs[i]);
      assert.ok(packCount(dir) >= 2);
    } finally {
      t.cleanup();
    }
  });

  test('wrong or missing password is refused with an auth error', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      await assert.rejects(openRepository(dir, { password: 'nope' }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.exitCode, EXIT.auth);
        assert.match(e.message, /^wrong password for repository /);
        assert.doesNotMatch(e.message + (e.hint ?? ''), /nope/);
        return true;
      });
      await assert.rejects(
        openRepository(dir, {}),
        (e: unknown) => e instanceof UserError && e.exitCode === EXIT.auth,
      );
    } finally {
      t.cleanup();
    }
  });

  test('init refuses an existing repository, a missing key, and opening a non-repository says so', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      await assert.rejects(
        initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT }),
        /already exists/,
      );
      await assert.rejects(initRepository(join(t.dir, 'x'), {}), UserError);
      await assert.rejects(
        initRepository(join(t.dir, 'y'), { recipients: ['age1nope'] }),
        /invalid recipient/,
      );
      await assert.rejects(openRepository(join(t.dir, 'none'), { password: PASSWORD }), (e: unknown) => {
        return e instanceof UserError && e.exitCode === EXIT.notFound && /no repository at/.test(e.message);
      });
    } finally {
      t.cleanup();
    }
  });

  test('snapshot ids: unknown, ambiguous and malformed prefixes are clear errors', async () => {
    const t = tempDir();
    try {
      const { repo } = await initRepository(join(t.dir, 'repo'), { password: PASSWORD, scrypt: FAST_SCRYPT });
      await assert.rejects(repo.loadSnapshot('latest'), /no snapshots yet/);
      await snapshotOf(repo, [noise('x', 10)]);
      await assert.rejects(
        repo.loadSnapshot('ffffffff'),
        (e: unknown) => e instanceof UserError && e.exitCode === EXIT.notFound,
      );
      await assert.rejects(repo.loadSnapshot('../etc'), /invalid snapshot id/);
    } finally {
      t.cleanup();
    }
  });
});
