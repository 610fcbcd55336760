import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { Chunker, deriveGearTable } from '../../src/backup/chunker.ts';
import { makeFileChunker } from '../../src/backup/file-chunker.ts';
import { GEAR_SCAN_WASM } from '../../src/backup/gear-scan.ts';

const gearScan = new WebAssembly.Module(GEAR_SCAN_WASM);

/** A worker-side chunker with the test parameters. */
function openChunker(gear: Uint32Array, mac: Uint8Array): ReturnType<typeof makeFileChunker> {
  return makeFileChunker({ fs, createHmac, gear, gearScan, ...PARAMS, macKey: mac, readSize: READ });
}

const PARAMS = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const READ = 1024 * 1024;

/** The archiver's main-thread rule: READ-sized blocks; an all-zero block of >= max cuts and becomes zero chunks. */
function reference(data: Uint8Array, gear: Uint32Array, mac: Buffer): { id: string; length: number }[] {
  const c = new Chunker(PARAMS, gear);
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += READ) {
    const block = data.subarray(off, off + READ);
    if (block.length >= PARAMS.max && block.every((b) => b === 0)) {
      out.push(...c.finish());
      const whole = block.length - (block.length % PARAMS.max);
      for (let z = 0; z < whole; z += PARAMS.max) out.push(new Uint8Array(PARAMS.max));
      out.push(...c.push(block.subarray(whole)));
    } else out.push(...c.push(block));
  }
  out.push(...c.finish());
  return out.map((b) => ({ id: createHmac('sha256', mac).update(b).digest('hex'), length: b.length }));
}

describe('file chunker (worker side)', () => {
  test('gives the same chunks and ids as the main-thread chunker, in any step size, zero runs included', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-fchunk-'));
    try {
      const gear = deriveGearTable(Buffer.alloc(32, 7));
      const mac = randomBytes(32);
      const data = Buffer.concat([
        randomBytes(3 * READ + 12345),
        Buffer.alloc(2 * READ + 7),
        randomBytes(READ / 2),
        Buffer.from('tail'),
      ]);
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
      const want = reference(data, gear, mac);
      const open = openChunker(gear, mac);
      for (const stepBytes of [1, 3 * READ, 64 * READ]) {
        const f = open(listed);
        const got: { id: string; length: number }[] = [];
        const bytes: Uint8Array[] = [];
        for (;;) {
          const s = f.step(stepBytes);
          for (const c of s.chunks) {
            got.push({ id: c.id, length: c.length });
            bytes.push(c.zero ? new Uint8Array(c.length) : c.data!);
          }
          if (s.done) {
            assert.equal(s.changed, undefined);
            break;
          }
        }
        assert.deepEqual(got, want, `step ${stepBytes}`);
        assert.deepEqual(Buffer.concat(bytes), data);
      }
      // A file replaced after it was listed is refused, not read.
      fs.linkSync(file, `${file}.old`); // keeps the old inode, so the new file gets another
      fs.rmSync(file);
      fs.writeFileSync(file, 'other');
      assert.throws(
        () => open(listed),
        (e: NodeJS.ErrnoException) => e.code === 'EREPLACED',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('files read at the same time, their steps interleaved, each get their own chunks', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-fchunk-'));
    try {
      const gear = deriveGearTable(Buffer.alloc(32, 9));
      const mac = randomBytes(32);
      const open = openChunker(gear, mac);
      const datas = [
        randomBytes(3 * READ + 999),
        randomBytes(2 * READ + 5),
        Buffer.from('small file'),
        randomBytes(40_000),
      ];
      const files = datas.map((data, i) => {
        const file = path.join(dir, `f${i}`);
        fs.writeFileSync(file, data);
        const st = fs.statSync(file, { bigint: true });
        const f = open({
          path: file,
          dev: st.dev,
          ino: st.ino,
          size: data.length,
          mtimeNs: st.mtimeNs,
          ctimeNs: st.ctimeNs,
        });
        return {
          f,
          data,
          got: [] as { id: string; length: number }[],
          bytes: [] as Uint8Array[],
          done: false,
        };
      });
      // One block per step, round-robin: every file holds a partial chunk while the others read.
      while (files.some((x) => !x.done)) {
        for (const x of files) {
          if (x.done) continue;
          const s = x.f.step(1);
          for (const c of s.chunks) {
            x.got.push({ id: c.id, length: c.length });
            x.bytes.push(c.data!);
          }
          x.done = s.done;
        }
      }
      for (const x of files) {
        assert.deepEqual(x.got, reference(x.data, gear, mac));
        assert.deepEqual(Buffer.concat(x.bytes), x.data);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
