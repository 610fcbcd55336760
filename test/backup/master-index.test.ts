import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MasterIndex } from '../../src/backup/master-index.ts';
import type { BlobEntry } from '../../src/backup/pack.ts';
import type { IndexPack } from '../../src/backup/index-file.ts';

const idOf = (n: number): string => createHash('sha256').update(`blob ${n}`).digest('hex');

function pack(name: string, blobs: number[], first = 0): IndexPack {
  const id = createHash('sha256').update(name).digest('hex');
  return {
    id,
    size: 1000 + blobs.length,
    blobs: blobs.map((n, i): BlobEntry => ({
      id: idOf(n),
      type: n % 3 === 0 ? 'tree' : 'data',
      pack: id,
      offset: first + i * 100,
      length: 90 + (n % 7),
      rawLength: 4_000_000_000 - n,
      compressed: n % 2 === 0,
      slot: n % 5,
    })),
  };
}

describe('master index', () => {
  test('answers for every blob of many packs as the index files listed it', () => {
    const idx = new MasterIndex();
    const packs: IndexPack[] = [];
    for (let p = 0; p < 50; p++)
      packs.push(
        pack(
          `p${p}`,
          Array.from({ length: 400 }, (_, i) => p * 400 + i),
        ),
      );
    idx.addFile('f1', packs.slice(0, 25));
    idx.addFile('f2', packs.slice(25));
    assert.equal(idx.blobCount, 20_000);
    assert.equal(idx.packs.size, 50);
    assert.deepEqual(
      idx.files.get('f2'),
      packs.slice(25).map((p) => p.id),
    );
    for (const p of packs) {
      for (const b of p.blobs) assert.deepEqual(idx.get(b.id), b);
      assert.deepEqual(idx.packs.get(p.id), p);
    }
    assert.deepEqual(
      [...idx.packs.keys()],
      packs.map((p) => p.id),
    );
    assert.equal([...idx.allBlobs()].length, 20_000);
    assert.equal(idx.has(idOf(20_000)), false);
    assert.equal(idx.get(idOf(20_000)), undefined);
    // Ids that are not 64 lower-case hex digits are never found.
    assert.equal(idx.has(idOf(5).toUpperCase()), false);
    assert.equal(idx.has(idOf(5).slice(0, 16)), false);
    assert.equal(idx.has('zz' + idOf(5).slice(2)), false);
  });

  test('a blob in two packs keeps its first location; both are listed', () => {
    const idx = new MasterIndex();
    const a = pack('a', [1, 2, 3]);
    const b = pack('b', [3, 4], 5000);
    idx.addPack(a);
    idx.addPack(b);
    assert.equal(idx.blobCount, 4);
    assert.equal(idx.get(idOf(3))?.pack, a.id);
    assert.deepEqual(
      idx.locations(idOf(3)).map((e) => [e.pack, e.offset]),
      [
        [a.id, 200],
        [b.id, 5000],
      ],
    );
    assert.deepEqual(idx.packs.get(b.id)?.blobs, b.blobs);
    assert.deepEqual(
      [...idx.allBlobs()].map((e) => e.pack),
      [a.id, a.id, a.id, b.id],
    );
    // A pack listed again keeps its first listing.
    idx.addPack(pack('a', [9]));
    assert.deepEqual(idx.packs.get(a.id)?.blobs, a.blobs);
    assert.ok(idx.has(idOf(9)));
    idx.clear();
    assert.equal(idx.blobCount, 0);
    assert.equal(idx.packs.size, 0);
    assert.equal(idx.has(idOf(1)), false);
  });
  test('an image adopted by an empty index answers the same and keeps growing; an inconsistent one is refused', () => {
    const src = new MasterIndex();
    src.addFile('f1', [pack('a', [1, 2, 3, 4]), pack('b', [5, 6, 2])]);
    const copy = new MasterIndex();
    copy.adopt(src.image());
    for (const n of [1, 2, 3, 4, 5, 6]) assert.deepEqual(copy.get(idOf(n)), src.get(idOf(n)));
    assert.deepEqual([...copy.packs.keys()], [...src.packs.keys()]);
    assert.deepEqual([...copy.files], [...src.files]);
    assert.equal(copy.blobCount, 6);
    // Its arrays are exactly full: the next pack makes them grow.
    copy.addFile('f2', [
      pack(
        'c',
        Array.from({ length: 3000 }, (_, i) => 100 + i),
      ),
    ]);
    assert.equal(copy.blobCount, 3006);
    assert.equal(copy.get(idOf(3099))?.pack, copy.packs.get(pack('c', []).id)?.id);
    assert.deepEqual(copy.get(idOf(4)), src.get(idOf(4)));
    assert.throws(() => copy.adopt(src.image()), /not empty/);

    const bad = src.image();
    bad.arrays.packNo = Uint32Array.from(bad.arrays.packNo, () => 7);
    const empty = new MasterIndex();
    assert.throws(() => empty.adopt(bad), /inconsistent/);
    assert.equal(empty.isEmpty, true, 'nothing taken from a refused image');
    assert.equal(empty.has(idOf(1)), false);
  });
});
