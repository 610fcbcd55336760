/**
 * Reads, chunks and hashes one host file in steps, on a blob worker thread: the per-byte work of a
 * backup (read, FastCDC, HMAC) runs beside the main thread, which only decides which chunks are new.
 *
 * The chunks are exactly those of the archiver's main-thread path (chunker.ts `Chunker` fed with
 * `readSize` blocks; a block of at least one max-size chunk that is all zeros cuts the current
 * chunk and becomes max-size zero chunks, the rest of the block chunked normally), so a repository
 * deduplicates across both paths. Each chunk is a fresh ArrayBuffer, so it can be transferred.
 * Files are read straight into the memory of the gear scan (gear-scan.wat), which finds the cuts.
 *
 * Self-contained on purpose: the worker threads run this function's source text (blob-workers.ts).
 */

import type { createHmac as CreateHmac } from 'node:crypto';
import type * as Fs from 'node:fs';
import type { GearScanExports } from './gear-scan.ts';
import type { FileChunk, FileStep, ListedFile } from './ports.ts';

/** What a worker needs to read files: Node's fs and crypto, and the repository's chunking secrets. */
export interface FileChunkerDeps {
  fs: typeof Fs;
  createHmac: typeof CreateHmac;
  gear: Uint32Array;
  min: number;
  avg: number;
  max: number;
  macKey: Uint8Array;
  readSize: number;
  /** The compiled gear-scan.wat (GEAR_SCAN_WASM); each chunker instantiates its own memory. */
  gearScan: WebAssembly.Module;
  /** Memory for a chunk's bytes (a fresh array unless given: the worker reuses freed ones). */
  alloc?: (n: number) => Uint8Array;
}

export interface OpenedFile {
  step(maxBytes: number): FileStep;
  close(): void;
}

export function makeFileChunker(d: FileChunkerDeps): (f: ListedFile) => OpenedFile {
  const { fs, gear, min, avg, max } = d;
  const alloc = d.alloc ?? ((n: number): Uint8Array => new Uint8Array(n));
  const C = fs.constants;
  const bits = Math.round(Math.log2(avg));
  const high = (b: number): number => (b >= 32 ? -1 : (((1 << b) - 1) << (32 - b)) | 0);
  const maskS = high(bits + 2);
  const maskL = high(bits - 2);
  const SMALL_READ = 128 * 1024;
  const zeroIds = new Map<number, string>();
  const mac = (b: Uint8Array): string => d.createHmac('sha256', d.macKey).update(b).digest('hex');
  const zeroId = (n: number): string => {
    let id = zeroIds.get(n);
    if (id === undefined) zeroIds.set(n, (id = mac(new Uint8Array(n))));
    return id;
  };
  // The scan's memory: the gear table, then one read buffer (read buffers are only used within a
  // step, which runs to its end before another starts). Grown once, before any view is taken.
  const DATA = 1024;
  const wasm = new WebAssembly.Instance(d.gearScan, {}).exports as unknown as GearScanExports;
  const readBytes = Math.max(d.readSize, SMALL_READ);
  wasm.memory.grow(Math.ceil((DATA + readBytes) / 65536) - wasm.memory.buffer.byteLength / 65536);
  new Uint32Array(wasm.memory.buffer, 0, 256).set(gear);
  const scan = wasm.scan;
  const zeros = new Uint8Array(max);
  const isZero = (b: Uint8Array): boolean => {
    for (let off = 0; off < b.length; off += max) {
      const n = Math.min(max, b.length - off);
      if (Buffer.compare(b.subarray(off, off + n), zeros.subarray(0, n)) !== 0) return false;
    }
    return true;
  };
  const openFd = (p: string): number => {
    const flags = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
    try {
      return fs.openSync(p, flags | (C.O_NOATIME ?? 0));
    } catch (err) {
      if ((err as { code?: string }).code !== 'EPERM') throw err;
      return fs.openSync(p, flags);
    }
  };

  // A carry buffer belongs to one open file and returns to the spare list when it closes.
  const spareCarries: Uint8Array[] = [];

  return (f: ListedFile): OpenedFile => {
    const fd = openFd(f.path);
    let closed = false;
    let carry: Uint8Array | undefined;
    const close = (): void => {
      if (closed) return;
      closed = true;
      if (carry && spareCarries.length < 4) spareCarries.push(carry);
      carry = undefined;
      fs.closeSync(fd);
    };
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile() || st.ino !== f.ino || st.dev !== f.dev) {
        throw Object.assign(new Error('replaced by another file while the backup ran'), {
          code: 'EREPLACED',
        });
      }
    } catch (err) {
      close();
      throw err;
    }
    const bufSize = f.size < SMALL_READ ? SMALL_READ : d.readSize;
    const buf = new Uint8Array(wasm.memory.buffer, DATA, bufSize);
    // The current chunk's bytes from earlier blocks (`carry`, taken when first needed), and the
    // rolling hash state.
    let carryLen = 0;
    let hash = 0;
    let total = 0;
    let eof = false;

    const emit = (out: FileChunk[], data: Uint8Array, from: number, to: number): void => {
      const chunk = alloc(carryLen + to - from);
      if (carryLen > 0) chunk.set(carry!.subarray(0, carryLen));
      chunk.set(data.subarray(from, to), carryLen);
      out.push({ id: mac(chunk), length: chunk.length, data: chunk });
      carryLen = 0;
      hash = 0;
    };
    const flush = (out: FileChunk[]): void => {
      if (carryLen === 0) return;
      const chunk = alloc(carryLen);
      chunk.set(carry!.subarray(0, carryLen));
      out.push({ id: mac(chunk), length: chunk.length, data: chunk });
      carryLen = 0;
      hash = 0;
    };
    /** `data` lies in the scan's memory (the read buffer). */
    const push = (out: FileChunk[], data: Uint8Array): void => {
      const n = data.length;
      const at = data.byteOffset - DATA;
      let i = 0;
      // Start of the current chunk's bytes within `data` (the rest is in `carry`).
      let start = 0;
      while (i < n) {
        const len = carryLen + (i - start);
        if (len < min) {
          i += Math.min(min - len, n - i);
          continue;
        }
        const endS = Math.min(n, i + Math.max(0, avg - len));
        const endL = Math.min(n, i + (max - len));
        let cut = scan(at + i, at + endS, at + endL, hash, maskS, maskL);
        if (cut >= 0) cut -= at;
        else if (len + (endL - i) === max) cut = endL;
        if (cut >= 0) {
          emit(out, data, start, cut);
          i = start = cut;
        } else {
          hash = wasm.hash.value as number;
          i = n;
        }
      }
      if (start < n) {
        carry ??= spareCarries.pop() ?? new Uint8Array(max);
        carry.set(data.subarray(start, n), carryLen);
        carryLen += n - start;
      }
    };

    const step = (maxBytes: number): FileStep => {
      const chunks: FileChunk[] = [];
      let bytesRead = 0;
      try {
        while (!eof && bytesRead < maxBytes) {
          const got = fs.readSync(fd, buf, 0, bufSize, null);
          if (got === 0) {
            eof = true;
            break;
          }
          total += got;
          bytesRead += got;
          const block = got === bufSize ? buf : buf.subarray(0, got);
          if (got >= max && isZero(block)) {
            flush(chunks);
            const whole = got - (got % max);
            const id = zeroId(max);
            for (let off = 0; off < whole; off += max) chunks.push({ id, length: max, zero: true });
            if (whole < got) push(chunks, block.subarray(whole));
          } else push(chunks, block);
          // A short read that reached the listed size is the end (one call fewer per small file);
          // growth after that is caught by the fstat below.
          if (got < bufSize && total === f.size) eof = true;
        }
        if (!eof) return { chunks, bytesRead, done: false };
        flush(chunks);
        const after = fs.fstatSync(fd, { bigint: true });
        const changed =
          after.mtimeNs !== f.mtimeNs || Number(after.size) !== f.size || after.ctimeNs !== f.ctimeNs;
        close();
        return changed ? { chunks, bytesRead, done: true, changed } : { chunks, bytesRead, done: true };
      } catch (err) {
        close();
        throw err;
      }
    };
    return { step, close };
  };
}
