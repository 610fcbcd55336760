import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeHexId, isHexId } from '../../src/backup/hex-id.ts';

const id = createHash('sha256').update('x').digest('hex');

test('a blob id is 64 lowercase hex characters; anything else is refused', () => {
  assert.equal(isHexId(id), true);
  for (const bad of [
    id.toUpperCase(),
    id.slice(0, 63),
    `${id}0`,
    `${id.slice(0, 63)}g`,
    `${id.slice(0, 10)} ${id.slice(11)}`,
    `${id.slice(0, 63)}é`,
    `${id.slice(0, 63)}\u0660`,
    '',
  ])
    assert.equal(isHexId(bad), false, JSON.stringify(bad));
  assert.equal(isHexId(id.slice(0, 16), 16, 128), true, 'tree ids may be 16 to 128 characters');
  assert.equal(isHexId(id.slice(0, 15), 16, 128), false);
  assert.equal(isHexId(id + id + 'a', 16, 128), false);
});

test('decoding writes the id bytes where asked, and refuses what is not an id', () => {
  const out = new Uint8Array(40);
  assert.equal(decodeHexId(id, out, 8), true);
  assert.deepEqual(Buffer.from(out.subarray(8)), Buffer.from(id, 'hex'));
  assert.deepEqual([...out.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 0], 'nothing before the offset');
  for (let i = 0; i < 64; i++) {
    const bad = id.slice(0, i) + 'G' + id.slice(i + 1);
    assert.equal(decodeHexId(bad, new Uint8Array(32), 0), false, `bad character at ${i}`);
  }
  assert.equal(decodeHexId(id.toUpperCase(), new Uint8Array(32), 0), false);
  assert.equal(decodeHexId(id.slice(2), new Uint8Array(32), 0), false);
});
