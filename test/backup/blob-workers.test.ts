import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobWorkerPool, type OpenedBlob } from '../../src/backup/blob-workers.ts';
import { hmacHex } from '../../src/backup/crypto.ts';
import { blobAad, decryptBlob, encryptBlob, sealedLength } from '../../src/backup/pack.ts';
import type { SealedBlob } from '../../src/backup/ports.ts';
import { noise } from './repository-helpers.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveGearTable } from '../../src/backup/chunker.ts';

/** A sealed blob's bytes as the pack holds them. */
function joined(sealed: SealedBlob['sealed']): Buffer {
  return sealed instanceof Uint8Array ? Buffer.from(sealed) : Buffer.concat(sealed);
}

/** Opens a sealed data blob of `rawLength` bytes with id `id` the way a reader of its pack would. */
function opened(key: Buffer, mac: Buffer, id: string, rawLength: number, s: SealedBlob): Buffer {
  const entry = {
    id,
    type: 'data' as const,
    pack: 'p',
    offset: 0,
    length: sealedLength(s.sealed),
    rawLength,
    compressed: s.compressed,
    slot: 0,
  };
  return decryptBlob(key, mac, entry, joined(s.sealed));
}

/**
 * A range of a pack holding `inputs` as data blobs, as a reader gets it: the sealed bytes and
 * where each blob lies; `lie` is added to the first blob's length as its index would give it.
 */
function rangeOf(key: Buffer, mac: Buffer, inputs: Buffer[], lie = 0) {
  const parts = inputs.map((d) => encryptBlob(key, 'data', hmacHex(mac, d), d));
  let off = 0;
  const blobs = inputs.map((d, i) => {
    const b = {
      id: hmacHex(mac, d),
      type: 0 as const,
      compressed: parts[i]!.compressed,
      offset: off,
      length: parts[i]!.sealed.length,
      rawLength: d.length + (i === 0 ? lie : 0),
    };
    off += b.length;
    return b;
  });
  return { buf: Buffer.concat(parts.map((p) => p.sealed)), blobs };
}

/** Each opened blob's plaintext, or why it did not open. */
function outcomes(opened: OpenedBlob[]): (Buffer | string)[] {
  return opened.map((o) => ('plain' in o ? o.plain : o.error));
}

describe('blob worker pool', () => {
  test('one worker seals a run of blobs of every size and kind, each exactly (its scratch buffers are reused)', async () => {
    const pool = new BlobWorkerPool(1);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      const inputs: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const size = [3_000_000, 100, 40_000, 1_200_000, 70, 600_000][i % 6]! + i;
        // Text, noise, and noise with a compressible half the four samples may miss.
        const text = Buffer.from(`line ${i} of a log\n`.repeat(Math.ceil(size / 16))).subarray(0, size);
        const rnd = noise(`n${i}`, size);
        inputs.push(
          i % 3 === 0
            ? text
            : i % 3 === 1
              ? rnd
              : Buffer.concat([rnd.subarray(0, size >> 1), text.subarray(size >> 1)]),
        );
      }
      // In order, one after another: each result is checked after later blobs reused the scratch.
      const out: SealedBlob[] = [];
      for (const d of inputs)
        out.push(await pool.encrypt(key, 0, blobAad('data', false, hmacHex(mac, d)), d));
      const kinds = new Set<boolean>();
      for (const [i, d] of inputs.entries()) {
        const s = out[i]!;
        kinds.add(s.compressed);
        if (s.compressed) assert.ok(sealedLength(s.sealed) < d.length, `blob ${i} compressed is smaller`);
        else assert.equal(sealedLength(s.sealed), d.length + 28, `blob ${i} stored raw`);
        assert.deepEqual(opened(key, mac, hmacHex(mac, d), d.length, s), d, `blob ${i}`);
      }
      assert.deepEqual([...kinds].sort(), [false, true]);
    } finally {
      await pool.close();
    }
  });

  test('memory of a released sealed blob serves the next seals, which stay exact', async () => {
    const pool = new BlobWorkerPool(1);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      const open = (s: SealedBlob, d: Buffer): Buffer => opened(key, mac, hmacHex(mac, d), d.length, s);
      const seal = (d: Buffer) => pool.encrypt(key, 0, blobAad('data', false, hmacHex(mac, d)), d);
      const first = noise('first', 300_000);
      const a = await seal(first);
      const memory = (a.sealed as Uint8Array[])[1]!.buffer;
      assert.deepEqual(open(a, first), first);
      a.release!();
      // Handed back: the main thread no longer holds it.
      await new Promise((r) => setImmediate(r));
      assert.equal(memory.byteLength, 0);
      // The same size again: sealed into the memory given back, and as exact as the first.
      const second = noise('second', 300_000);
      const b = await seal(second);
      assert.deepEqual(open(b, second), second);
    } finally {
      await pool.close();
    }
  });

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
        assert.deepEqual(opened(key, mac, hmacHex(mac, d), d.length, out[i]!), d);
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
        assert.deepEqual(opened(key, mac, c.id, c.length, s), want[i]);
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
      assert.deepEqual(outcomes(good), inputs);
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

  test('a range read into lent memory moves to the worker whole, comes back, and serves the next reads exactly', async () => {
    const pool = new BlobWorkerPool(1);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      const first = [noise('a', 700_000), Buffer.from('log line\n'.repeat(20_000))];
      const r1 = rangeOf(key, mac, first);
      const lent = pool.rangeBuffer(r1.buf.length);
      assert.equal(lent.length, r1.buf.length);
      assert.ok(
        lent.buffer.byteLength > lent.length,
        'lent memory is rounded up, so the view is not the whole',
      );
      lent.set(r1.buf);
      const opened1 = await pool.openRange(key, mac, lent, r1.blobs);
      assert.deepEqual(outcomes(opened1), first);
      assert.equal(lent.buffer.byteLength, 0, 'moved to the worker, not copied');
      // The memory came back: a smaller range is read into it (its old bytes are still there).
      const second = [noise('b', 20_000)];
      const r2 = rangeOf(key, mac, second);
      const again = pool.rangeBuffer(r2.buf.length);
      assert.ok(again.buffer.byteLength >= r1.buf.length, `reused ${again.buffer.byteLength} bytes`);
      assert.deepEqual(
        Buffer.from(again.buffer, r2.buf.length, 1000),
        r1.buf.subarray(r2.buf.length, r2.buf.length + 1000),
      );
      again.set(r2.buf);
      const opened2 = await pool.openRange(key, mac, again, r2.blobs);
      assert.deepEqual(outcomes(opened2), second);
      // A larger range than any spare gets fresh memory.
      assert.equal(pool.rangeBuffer(4_000_000).buffer.byteLength, 4_194_304);
    } finally {
      await pool.close();
    }
  });

  test('a range whose index gives a wrong length is refused blob by blob, and later ranges open whole', async () => {
    const pool = new BlobWorkerPool(1);
    try {
      const key = randomBytes(32);
      const mac = randomBytes(32);
      // Opened blobs share the worker's memory from range to range: a large range, then smaller ones.
      const big = [noise('a', 900_000), Buffer.from('abc'.repeat(400_000))];
      const small = [Buffer.from('x'.repeat(70_000)), noise('b', 5_000)];
      const plains = async (r: ReturnType<typeof rangeOf>) =>
        outcomes(await pool.openRange(key, mac, r.buf, r.blobs));
      assert.deepEqual(await plains(rangeOf(key, mac, big)), big);
      assert.deepEqual(await plains(rangeOf(key, mac, small)), small);
      // Compressed (70,000 x's) and stored raw (noise): a length off by one either way is named as such.
      for (const lie of [-1, 1]) {
        assert.deepEqual(await plains(rangeOf(key, mac, small, lie)), [
          'blob content does not match its id',
          small[1],
        ]);
        assert.deepEqual(await plains(rangeOf(key, mac, [small[1]!, small[0]!], lie)), [
          'blob content does not match its id',
          small[0],
        ]);
      }
    } finally {
      await pool.close();
    }
  });
});
