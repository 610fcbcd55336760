import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compress, compressParts, decompress, randomKey, open } from '../../src/backup/crypto.ts';
import { decodeIndex, encodeIndex, type IndexPack } from '../../src/backup/index-file.ts';
import { compressIfWorth } from '../../src/backup/compression.ts';

describe('compression choice', () => {
  test('incompressible bytes are stored raw; text gets the strong level', () => {
    assert.equal(compressIfWorth(randomBytes(256 * 1024)), null);
    assert.equal(compressIfWorth(randomBytes(20 * 1024)), null);
    const text = Buffer.from('a line of a log file with some words in it\n'.repeat(6000));
    const c = compressIfWorth(text)!;
    assert.equal(c.length, compress(text).length);
    assert.deepEqual(decompress(c), text);
  });

  test('a blob whose sampled slices are random but which compresses elsewhere is still compressed', () => {
    const data = randomBytes(256 * 1024);
    // Slices are sampled at 0, 1/3, 2/3 and the end: zeros between the first two are not seen by them.
    data.fill(0, 6 * 1024, 80 * 1024);
    const c = compressIfWorth(data)!;
    assert.ok(c !== null && c.length < data.length * 0.8, `compressed to ${c?.length}`);
    assert.deepEqual(decompress(c), data);
  });
});

describe('compression in parts', () => {
  test('parts compress to a frame that decompresses to their concatenation, across output buffers', () => {
    // Random hex does not compress much: the output crosses zstd's 128 KiB output step several times.
    const parts = [
      '',
      ...Array.from({ length: 200 }, (_, i) => `${i}:${randomBytes(2048).toString('hex')},`),
      Buffer.from('bytes too'),
    ];
    const whole = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    const c = compressParts(parts);
    assert.ok(c.length > 256 * 1024, `compressed to ${c.length}`);
    assert.deepEqual(decompress(c), whole);
    assert.deepEqual(decompress(compressParts([])), Buffer.alloc(0));
  });

  test('an index made from packs produced one at a time is the JSON text of the whole index', () => {
    const key = randomKey();
    const made: IndexPack[] = Array.from({ length: 40 }, (_, p) => {
      const id = randomBytes(32).toString('hex');
      return {
        id,
        size: 1000 * p + 17,
        blobs: Array.from({ length: 300 }, (_, b) => ({
          type: b % 7 === 0 ? ('tree' as const) : ('data' as const),
          id: randomBytes(32).toString('hex'),
          pack: id,
          offset: b * 100,
          length: 100,
          rawLength: 90 + b,
          compressed: b % 2 === 0,
          slot: b % 3,
        })),
      };
    });
    let produced = 0;
    function* lazily(): Generator<IndexPack> {
      for (const p of made) {
        produced++;
        yield p;
      }
    }
    const { bytes } = encodeIndex(key, lazily(), ['a'.repeat(64)]);
    assert.equal(produced, made.length);
    const text = decompress(open(key, bytes.subarray(4), Buffer.from(bytes.subarray(0, 4)))).toString();
    assert.equal(
      text,
      JSON.stringify({
        v: 1,
        supersedes: ['a'.repeat(64)],
        packs: made.map((p) => ({
          id: p.id,
          size: p.size,
          blobs: p.blobs.map((b) => [
            b.type === 'tree' ? 1 : 0,
            b.id,
            b.offset,
            b.length,
            b.rawLength,
            b.compressed ? 1 : 0,
            b.slot,
          ]),
        })),
      }),
    );
    const back = decodeIndex(key, bytes);
    assert.deepEqual(back.packs, made);
    assert.deepEqual(back.supersedes, ['a'.repeat(64)]);
    assert.deepEqual(decodeIndex(key, encodeIndex(key, []).bytes).packs, []);
  });
});
