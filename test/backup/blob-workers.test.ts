import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobWorkerPool } from '../../src/backup/blob-workers.ts';
import { hmacHex } from '../../src/backup/crypto.ts';
import { blobAad, decryptBlob } from '../../src/backup/pack.ts';
import { noise } from './repository-helpers.ts';

describe('blob worker pool', () => {
  test('seals blobs exactly as the format says: compressed when it pays, raw otherwise', async () => {
    const pool = new BlobWorkerPool(2);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      const inputs = [Buffer.from('compress me '.repeat(20_000)), noise('w', 200_000), Buffer.alloc(0)];
      const out = await Promise.all(
        inputs.map((d) => pool.encrypt(key, 0, blobAad('data', false, hmacHex(mac, d)), d)),
      );
      assert.deepEqual(
        out.map((o) => o.compressed),
        [true, false, false],
      );
      for (const [i, d] of inputs.entries()) {
        const entry = {
          id: hmacHex(mac, d),
          type: 'data' as const,
          pack: 'p',
          offset: 0,
          length: out[i]!.sealed.length,
          rawLength: d.length,
          compressed: out[i]!.compressed,
          slot: 0,
        };
        assert.deepEqual(decryptBlob(key, mac, entry, out[i]!.sealed), d);
      }
    } finally {
      await pool.close();
    }
    await assert.rejects(
      pool.encrypt(randomBytes(32), 0, Buffer.alloc(38), Buffer.alloc(10)),
      /no blob worker/,
    );
  });
});
