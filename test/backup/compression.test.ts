import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compress, decompress } from '../../src/backup/crypto.ts';
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
