import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RawIdSet, blobIdsOf } from '../../src/backup/snapshot-file.ts';

test("a snapshot's raw blob list answers membership exactly, without a string per id", () => {
  for (const n of [0, 1, 7, 5000]) {
    const ids = randomBytes(32 * n);
    const set = new RawIdSet(ids);
    for (const id of blobIdsOf(ids)) assert.ok(set.has(id));
    for (let i = 0; i < 2000; i++) assert.equal(set.has(randomBytes(32).toString('hex')), false);
    if (n > 0) {
      const near = Buffer.from(ids.subarray(0, 32));
      near[31]! ^= 1; // same hash slot, different id
      assert.equal(set.has(near.toString('hex')), false);
    }
    assert.equal(set.has('abcd'), false, 'not a 32-byte id');
  }
});
