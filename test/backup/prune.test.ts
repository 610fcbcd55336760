import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileSink } from '../../src/backup/ports.ts';
import { LocalBlobStore } from '../../src/backup/backends/local.ts';
import { check } from '../../src/backup/check.ts';
import { forgetSnapshots, prune } from '../../src/backup/prune.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

function repoBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      n += statSync(join((e as { parentPath?: string; path?: string }).parentPath ?? e.path, e.name)).size;
  }
  return n;
}

/** A store that "crashes" (throws) on its Nth mutating operation, as a killed process would stop. */
class CrashingStore extends LocalBlobStore {
  ops = 0;
  constructor(
    dir: string,
    private readonly crashAt: number,
  ) {
    super(dir);
  }
  private tick(): void {
    if (this.ops++ === this.crashAt) throw new Error('simulated crash');
  }
  override async write(path: string, data: Uint8Array): Promise<void> {
    this.tick();
    await super.write(path, data);
  }
  override async remove(path: string): Promise<void> {
    this.tick();
    await super.remove(path);
  }
  /** A pack written through a sink crashes where its whole-file write would have. */
  override openSink(dir: string): FileSink {
    const sink = super.openSink(dir);
    return {
      append: (bytes) => sink.append(bytes),
      abort: () => sink.abort(),
      commit: async (path) => {
        this.tick();
        await sink.commit(path);
      },
    };
  }
}

/** Every snapshot's every blob loads and check finds no error. */
async function assertConsistent(dir: string): Promise<number> {
  const repo = await openRepository(dir, { password: PASSWORD });
  const report = await check(repo, { readData: true });
  assert.deepEqual(report.errors, []);
  const snaps = await repo.listSnapshotRecords();
  for (const s of snaps) for (const b of s.blobs) await repo.loadBlob(b);
  return snaps.length;
}

describe('prune and forget', () => {
  test('prune frees what no snapshot references and keeps everything that is referenced', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const shared = noise('shared', 500_000);
      const s1 = await snapshotOf(repo, [shared, noise('old-only', 4_000_000)]);
      const s2 = await snapshotOf(repo, [shared, noise('new-only', 300_000)]);
      const before = repoBytes(dir);

      const dry = await prune(repo, { dryRun: true });
      assert.equal(dry.bytesFreed, 0, 'nothing is garbage yet');

      assert.deepEqual(await forgetSnapshots(repo, [s1.id.slice(0, 10)]), [s1.id]);
      assert.deepEqual(
        (await repo.listSnapshots()).map((s) => s.id),
        [s2.id],
      );
      const afterForget = repoBytes(dir);
      const dry2 = await prune(repo, { dryRun: true });
      assert.ok(dry2.bytesFreed >= 4_000_000);
      assert.equal(repoBytes(dir), afterForget, 'a dry run changes nothing');

      const rep = await prune(repo);
      assert.equal(rep.dryRun, false);
      assert.ok(rep.bytesFreed >= 4_000_000, `freed ${rep.bytesFreed}`);
      assert.ok(repoBytes(dir) < before - 4_000_000);
      assert.equal(repo.hasBlob(s1.ids[1]!), false);
      assert.deepEqual(Buffer.from(await repo.loadBlob(s2.ids[0]!)), shared);
      assert.equal(await assertConsistent(dir), 1);

      const again = await prune(await openRepository(dir, { password: PASSWORD }));
      assert.equal(again.bytesFreed, 0, 'a second prune finds nothing to do');
    } finally {
      t.cleanup();
    }
  });

  test('a repository opened without its index lists snapshots, and prune reads the index before it frees', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const shared = noise('shared', 200_000);
      const s1 = await snapshotOf(repo, [shared, noise('old-only', 1_000_000)]);
      const s2 = await snapshotOf(repo, [shared]);
      const light = await openRepository(dir, { password: PASSWORD, index: false });
      assert.equal(light.index.blobCount, 0, 'no index read on open');
      assert.deepEqual(
        (await light.listSnapshots()).map((s) => s.id),
        [s1.id, s2.id],
      );
      await forgetSnapshots(light, [s1.id]);
      const rep = await prune(light);
      assert.ok(rep.bytesFreed >= 1_000_000, `freed ${rep.bytesFreed}`);
      assert.deepEqual(Buffer.from(await light.loadBlob(s2.ids[0]!)), shared);
      assert.equal(await assertConsistent(dir), 1);
    } finally {
      t.cleanup();
    }
  });

  test('prune refuses when a snapshot is damaged, since it cannot know what is used', async () => {
    const t = tempDir();
    try {
      const dir = join(t.dir, 'repo');
      const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const s = await snapshotOf(repo, [noise('a', 1000)]);
      writeFileSync(join(dir, 'snapshots', s.id), 'garbage');
      await assert.rejects(prune(await openRepository(dir, { password: PASSWORD })), (e: unknown) => {
        return e instanceof UserError && e.message.includes(`snapshots/${s.id}`);
      });
    } finally {
      t.cleanup();
    }
  });

  test('a crash at any step of a backup leaves a consistent repository', async () => {
    const t = tempDir();
    try {
      const base = join(t.dir, 'base');
      const { repo } = await initRepository(base, { password: PASSWORD, scrypt: FAST_SCRYPT });
      await snapshotOf(repo, [noise('v1', 200_000)]);
      // pack, index, snapshot: 3 mutating steps; crash before each and after all
      const v2 = noise('v2', 2_000_000);
      for (let crashAt = 0; crashAt <= 3; crashAt++) {
        const dir = join(t.dir, `b${crashAt}`);
        cpSync(base, dir, { recursive: true });
        const r = await openRepository(new CrashingStore(dir, crashAt), { password: PASSWORD });
        const done = await snapshotOf(r, [v2]).then(
          () => true,
          (e: Error) => {
            assert.equal(e.message, 'simulated crash');
            return false;
          },
        );
        const n = await assertConsistent(dir);
        assert.equal(n, done ? 2 : 1, `crash at step ${crashAt}`);
      }
    } finally {
      t.cleanup();
    }
  });

  test('a crash at any step of prune leaves a consistent repository that a later prune finishes', async () => {
    const t = tempDir();
    try {
      const base = join(t.dir, 'base');
      const { repo } = await initRepository(base, { password: PASSWORD, scrypt: FAST_SCRYPT });
      const keep = noise('keep', 300_000);
      const s1 = await snapshotOf(repo, [keep, noise('drop1', 2_000_000)]);
      await snapshotOf(repo, [keep, noise('keep2', 100_000)]);
      await snapshotOf(repo, [noise('drop2', 100_000)], { time: '2000-01-01T00:00:00Z' });
      const old = (await repo.listSnapshots())[0]!;
      await forgetSnapshots(repo, [s1.id, old.id]);
      let steps = 0;
      for (let crashAt = 0; ; crashAt++) {
        const dir = join(t.dir, `p${crashAt}`);
        cpSync(base, dir, { recursive: true });
        const store = new CrashingStore(dir, crashAt);
        const finished = await prune(await openRepository(store, { password: PASSWORD }), {
          repackThreshold: 0,
        }).then(
          () => true,
          (e: Error) => {
            assert.equal(e.message, 'simulated crash');
            return false;
          },
        );
        assert.equal(await assertConsistent(dir), 1, `crash at step ${crashAt}`);
        if (finished) {
          steps = crashAt;
          break;
        }
        await prune(await openRepository(dir, { password: PASSWORD }));
        assert.equal(await assertConsistent(dir), 1);
        const r = await check(await openRepository(dir, { password: PASSWORD }));
        assert.equal(
          r.counts.unindexedPacks + r.counts.tempFiles,
          0,
          'the later prune removed the leftovers',
        );
      }
      assert.ok(steps >= 4, `prune took ${steps} steps`);
    } finally {
      t.cleanup();
    }
  });
});
