import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check, samplePacks, type CheckReport } from '../../src/backup/check.ts';
import { encodeIndex, type IndexPack } from '../../src/backup/index-file.ts';
import { addKey } from '../../src/backup/keys.ts';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import { UserError } from '../../src/domain/errors.ts';
import { FAST_SCRYPT, PASSWORD, noise, snapshotOf, tempDir } from './repository-helpers.ts';

const PASSWORD2 = 'second password';

function flip(file: string, at: 'middle' | 'end' = 'middle'): void {
  const b = readFileSync(file);
  const i = at === 'middle' ? Math.floor(b.length / 2) : b.length - 10;
  b[i] = b[i]! ^ 0x01;
  writeFileSync(file, b);
}

function firstFile(dir: string): string {
  const e = readdirSync(dir, { withFileTypes: true }).filter((x) => !x.name.startsWith('.'))[0]!;
  return e.isDirectory() ? firstFile(join(dir, e.name)) : join(dir, e.name);
}

function mentions(r: CheckReport, file: string): boolean {
  return r.errors.some((e) => e.file === file && e.message.includes(file));
}

describe('check', () => {
  const t = tempDir();
  const base = join(t.dir, 'base');
  let snapId = '';
  let blobIds: string[] = [];
  let n = 0;
  const copy = (): string => {
    const d = join(t.dir, `c${n++}`);
    cpSync(base, d, { recursive: true });
    return d;
  };
  const rel = (dir: string, file: string): string => file.slice(dir.length + 1);

  before(async () => {
    const { repo } = await initRepository(base, { password: PASSWORD, scrypt: FAST_SCRYPT });
    await addKey(repo, PASSWORD2, { scrypt: FAST_SCRYPT });
    const s = await snapshotOf(repo, [noise('one', 400_000), Buffer.from('compressible '.repeat(10000))]);
    snapId = s.id;
    blobIds = s.ids;
  });
  after(() => t.cleanup());

  test('a small sample of a small repository still reads a pack, and says how much it read', async () => {
    const repo = await openRepository(base, { password: PASSWORD });
    for (let i = 0; i < 10; i++) {
      const r = await check(repo, { readData: { subsetPercent: 5 } });
      assert.equal(r.ok, true);
      assert.equal(r.readPercent, 5);
      assert.equal(r.counts.packsRead, 1, '5% of one pack reads that pack, not none');
      assert.ok(r.counts.bytesRead > 400_000, `bytes read: ${r.counts.bytesRead}`);
    }
    assert.equal((await check(repo, {})).readPercent, undefined, 'a structure-only check reads no data');
  });

  test('a sample is that share of the packs rounded up, each pack at most once', () => {
    const packs = Array.from({ length: 40 }, (_, i) => `p${i}`);
    assert.equal(samplePacks(packs, 5).length, 2);
    assert.equal(samplePacks(packs, 0.1).length, 1);
    assert.equal(samplePacks(packs, 100).length, 40);
    const half = samplePacks(['a', 'b', 'c'], 50);
    assert.equal(new Set(half).size, 2);
    assert.deepEqual(samplePacks([], 5), []);
  });

  test('a healthy repository passes, with and without reading data', async () => {
    const repo = await openRepository(base, { password: PASSWORD });
    const r = await check(repo, { readData: true });
    assert.deepEqual(r.errors, []);
    assert.equal(r.ok, true);
    assert.equal(r.counts.snapshots, 1);
    assert.equal(r.counts.blobsRead, 3);
    assert.equal(r.counts.keys, 2);
    assert.equal(r.counts.treesChecked, 1);
    assert.equal((await check(repo, { readData: { subsetPercent: 100 } })).counts.packsRead, 1);
    await assert.rejects(check(repo, { readData: { subsetPercent: 0 } }), UserError);
  });

  test('a flipped byte in a pack is found by check --read-data and by loading the blob', async () => {
    const d = copy();
    const pack = firstFile(join(d, 'data'));
    flip(pack);
    const repo = await openRepository(d, { password: PASSWORD });
    const quick = await check(repo);
    assert.equal(quick.ok, true, 'the structure is intact');
    const r = await check(repo, { readData: true });
    assert.ok(mentions(r, rel(d, pack)), JSON.stringify(r.errors));
    let failures = 0;
    for (const id of blobIds) {
      await repo.loadBlob(id).catch((e: Error) => {
        failures++;
        assert.ok(e instanceof UserError);
        assert.ok(e.message.includes(rel(d, pack)), e.message);
      });
    }
    assert.equal(failures, 1);
  });

  test('a flipped byte in a pack header is found without reading data', async () => {
    const d = copy();
    const pack = firstFile(join(d, 'data'));
    flip(pack, 'end');
    const r = await check(await openRepository(d, { password: PASSWORD }));
    assert.ok(mentions(r, rel(d, pack)), JSON.stringify(r.errors));
  });

  test('a flipped byte in an index file is named by check and by loads', async () => {
    const d = copy();
    const idx = firstFile(join(d, 'index'));
    flip(idx);
    const repo = await openRepository(d, { password: PASSWORD });
    const r = await check(repo);
    assert.ok(mentions(r, rel(d, idx)), JSON.stringify(r.errors));
    await assert.rejects(repo.loadBlob(blobIds[0]!), (e: Error) => e.message.includes(rel(d, idx)));
  });

  test('an index that lists a pack differently from its header is reported; one in another order is not', async () => {
    // Rewrites the repository's only index file with the packs as `edit` returns them.
    const rewrite = async (d: string, edit: (p: IndexPack) => IndexPack): Promise<void> => {
      const repo = await openRepository(d, { password: PASSWORD });
      const packs = [...repo.index.packs.values()].map(edit);
      const [old] = readdirSync(join(d, 'index'));
      rmSync(join(d, 'index', old!));
      const { id, bytes } = encodeIndex(repo.indexKey, packs);
      writeFileSync(join(d, 'index', id), bytes);
      await repo.close();
    };
    const reordered = copy();
    await rewrite(reordered, (p) => ({ ...p, blobs: [...p.blobs].reverse() }));
    const ok = await check(await openRepository(reordered, { password: PASSWORD }));
    assert.equal(ok.ok, true, JSON.stringify(ok.errors));

    const moved = copy();
    await rewrite(moved, (p) => ({
      ...p,
      blobs: p.blobs.map((b, i) => (i === 0 ? { ...b, offset: b.offset + 1 } : b)),
    }));
    const r = await check(await openRepository(moved, { password: PASSWORD }));
    assert.ok(
      r.errors.some((e) => e.message.includes('is listed differently in the pack header and the index')),
      JSON.stringify(r.errors),
    );
  });

  test('a flipped byte in a snapshot file is named by check and by listing', async () => {
    const d = copy();
    const snap = join(d, 'snapshots', snapId);
    flip(snap);
    const repo = await openRepository(d, { password: PASSWORD });
    assert.ok(mentions(await check(repo), rel(d, snap)));
    await assert.rejects(
      repo.listSnapshots(),
      (e: Error) => e instanceof UserError && e.message.includes(rel(d, snap)),
    );
  });

  test('a flipped byte in a key file is named by check', async () => {
    const d = copy();
    const keysDir = join(d, 'keys');
    const repo0 = await openRepository(d, { password: PASSWORD2 });
    const other = readdirSync(keysDir).find((k) => k !== repo0.keyId)!;
    flip(join(keysDir, other));
    const repo = await openRepository(d, { password: PASSWORD2 });
    assert.ok(mentions(await check(repo), `keys/${other}`));
    // the damaged key no longer opens the repository, and the message points at it
    await assert.rejects(openRepository(d, { password: PASSWORD }), (e: Error) =>
      e.message.includes(`keys/${other}`),
    );
  });

  test('a flipped byte in the config is refused at open, naming the config', async () => {
    for (const at of ['middle', 'end'] as const) {
      const d = copy();
      flip(join(d, 'config'), at);
      await assert.rejects(openRepository(d, { password: PASSWORD }), (e: Error) => {
        return e instanceof UserError && /config is damaged/.test(e.message);
      });
    }
  });

  test('a missing pack is reported with the snapshots it affects', async () => {
    const d = copy();
    const pack = firstFile(join(d, 'data'));
    rmSync(pack);
    const repo = await openRepository(d, { password: PASSWORD });
    const r = await check(repo);
    const e = r.errors.find((x) => x.file === rel(d, pack));
    assert.ok(e, JSON.stringify(r.errors));
    assert.match(e.message, /is missing; snapshots affected: /);
    assert.ok(e.message.includes(snapId.slice(0, 12)));
    await assert.rejects(repo.loadBlob(blobIds[0]!), /pack is missing/);
  });

  test('leftover temp files and unindexed packs are information, not errors', async () => {
    const d = copy();
    writeFileSync(join(d, 'snapshots', '.tmp-0123'), 'partial');
    const repo = await openRepository(d, { password: PASSWORD });
    // an interrupted backup: a pack written, no index or snapshot yet
    await repo.saveBlob('data', noise('orphan', 50_000));
    await repo.flushPacks();
    mkdirSync(join(d, 'locks'), { recursive: true });
    const r = await check(await openRepository(d, { password: PASSWORD }), { readData: true });
    assert.deepEqual(r.errors, []);
    assert.equal(r.counts.tempFiles, 1);
    assert.equal(r.counts.unindexedPacks, 1);
    assert.equal(r.info.length, 2);
  });
});
