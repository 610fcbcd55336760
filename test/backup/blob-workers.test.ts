import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobWorkerPool } from '../../src/backup/blob-workers.ts';
import { hmacHex } from '../../src/backup/crypto.ts';
import { blobAad, decryptBlob, encryptBlob } from '../../src/backup/pack.ts';
import { noise } from './repository-helpers.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveGearTable } from '../../src/backup/chunker.ts';

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

  test('a file read on a worker: only the chunks asked for are sealed there, as encryptBlob would', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-held-'));
    const pool = new BlobWorkerPool(1);
    try {
      const mac = randomBytes(32);
      const cfg = {
        key: 'cfg',
        gear: deriveGearTable(randomBytes(32)),
        min: 4096,
        avg: 16384,
        max: 65536,
        macKey: mac,
        readSize: 1 << 20,
      };
      const data = Buffer.concat([Buffer.from('compressible text '.repeat(20_000)), noise('h', 300_000)]);
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, data);
      const st = fs.statSync(file, { bigint: true });
      const listed = {
        path: file,
        dev: st.dev,
        ino: st.ino,
        size: data.length,
        mtimeNs: st.mtimeNs,
        ctimeNs: st.ctimeNs,
      };
      const key = randomBytes(32);
      const reader = pool.readHostFile(cfg, listed);
      const step = await reader.next(1 << 30);
      assert.equal(step.done, true);
      assert.ok(step.chunks.length > 4);
      let off = 0;
      const want = step.chunks.map((c) => {
        const bytes = data.subarray(off, (off += c.length));
        assert.equal(c.id, hmacHex(mac, bytes));
        assert.equal(c.data, undefined, 'chunk bytes stay on the worker');
        return bytes;
      });
      // Every other chunk is "new"; the rest are dropped unsealed.
      const sealed = await Promise.all(
        step.chunks.map((c, i) => (i % 2 === 0 ? reader.seal(c.held!, key) : undefined)),
      );
      reader.close();
      for (const [i, s] of sealed.entries()) {
        if (!s) continue;
        const c = step.chunks[i]!;
        const entry = {
          id: c.id,
          type: 'data' as const,
          pack: 'p',
          offset: 0,
          length: s.sealed.length,
          rawLength: c.length,
          compressed: s.compressed,
          slot: 0,
        };
        assert.deepEqual(decryptBlob(key, mac, entry, s.sealed), want[i]);
      }
      assert.equal(sealed[0]!.compressed, true);
      // Once sealed or closed, a chunk's bytes are gone from the worker.
      await assert.rejects(reader.seal(step.chunks[0]!.held!, key), /not held/);
    } finally {
      await pool.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('opens a range of a pack: every intact blob as decryptBlob would, a damaged one reported alone', async () => {
    const pool = new BlobWorkerPool(1);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      const inputs = [Buffer.from('text '.repeat(30_000)), noise('r', 150_000), Buffer.from('small tree')];
      const parts = inputs.map((d, i) => encryptBlob(key, i === 2 ? 'tree' : 'data', hmacHex(mac, d), d));
      const buf = Buffer.concat(parts.map((p) => p.sealed));
      let off = 0;
      const blobs = inputs.map((d, i) => {
        const b = {
          id: hmacHex(mac, d),
          type: (i === 2 ? 1 : 0) as 0 | 1,
          compressed: parts[i]!.compressed,
          offset: off,
          length: parts[i]!.sealed.length,
          rawLength: d.length,
        };
        off += b.length;
        return b;
      });
      const good = await pool.openRange(key, mac, Buffer.from(buf), blobs);
      assert.deepEqual(
        good.map((o) => ('plain' in o ? o.plain : o.error)),
        inputs,
      );
      buf[blobs[1]!.offset + 100]! ^= 1;
      const bad = await pool.openRange(key, mac, buf, blobs);
      assert.deepEqual(
        bad.map((o) => ('error' in o ? o.error : 'ok')),
        ['ok', 'authentication failed', 'ok'],
      );
      assert.equal(buf.length, 0, 'the buffer was handed over, not copied');
    } finally {
      await pool.close();
    }
  });
});
