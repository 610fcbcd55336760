/**
 * A host-local cache of the loaded index, so opening a repository does not decrypt, decompress and
 * parse every index file again: on the 1 GiB dataset that was ~170 ms of each backup, restore and
 * listing, and it grows with the repository (seconds at a million files).
 *
 * Index files are named by their hash and never change, so the cache records the names it covers.
 * A later open whose listing still has all of them takes the cached index and decodes only the
 * files added since (the one a previous backup wrote), then rewrites the cache; a listing without
 * one of them (prune replaced it) reads every file again. The file is encrypted and authenticated
 * with a key derived from the repository's metadata key: a damaged, truncated or foreign file fails
 * to open and is ignored, never believed. `check` does not use it: it reads the repository's own
 * index files. Disposable: deleting it costs one open that reads every index file.
 *
 * Layout: "NSIC1\0\0\0" ‖ nonce (12) ‖ AES-256-GCM(u32 head length ‖ head JSON ‖ the arrays of
 * MasterIndexImage in a fixed order) ‖ tag (16). It is written and read in 1 MiB steps: the cache
 * never takes a second copy of the index in memory, and each array lands in its own buffer.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { MasterIndexImage } from './master-index.ts';

const MAGIC = Buffer.from('NSIC1\0\0\0', 'latin1');
const NONCE = 12;
const TAG = 16;
const STEP = 1024 * 1024;

type Arrays = MasterIndexImage['arrays'];
/** The arrays in file order, with their element size and constructor. */
const ARRAYS: { name: keyof Arrays; per: number; make: (n: number) => Arrays[keyof Arrays] }[] = [
  { name: 'ids', per: 32, make: (n) => new Uint8Array(n * 32) },
  { name: 'packNo', per: 4, make: (n) => new Uint32Array(n) },
  { name: 'offset', per: 4, make: (n) => new Uint32Array(n) },
  { name: 'length', per: 4, make: (n) => new Uint32Array(n) },
  { name: 'rawLength', per: 4, make: (n) => new Uint32Array(n) },
  { name: 'slot', per: 2, make: (n) => new Uint16Array(n) },
  { name: 'flags', per: 1, make: (n) => new Uint8Array(n) },
];

type Head = MasterIndexImage['head'] & {
  v: 1;
  /** The index files this image holds, sorted. */
  names: string[];
  tableLength: number;
};

export interface CachedIndex {
  image: MasterIndexImage;
  /** Listed index files the image does not hold yet, in listing order. */
  missing: string[];
}

export class IndexCache {
  constructor(
    readonly file: string,
    private readonly key: Uint8Array,
  ) {}

  /**
   * The cached index when every file it holds is still listed; undefined when there is no usable
   * cache (none, damaged, foreign, or an index file it holds is gone).
   */
  load(listed: string[]): CachedIndex | undefined {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return undefined;
    }
    try {
      const image = this.read(fd);
      if (!image) return undefined;
      const have = new Set(listed);
      if (!image.names.every((n) => have.has(n))) return undefined;
      const held = new Set(image.names);
      return { image: image.image, missing: listed.filter((n) => !held.has(n)) };
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /** Replaces the cache (written aside, then renamed). Failures are ignored: it is only a speed-up. */
  save(names: string[], img: MasterIndexImage): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    let fd: number | undefined;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      fd = openSync(tmp, 'w', 0o600);
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
      cipher.setAAD(MAGIC);
      const head: Head = {
        v: 1,
        ...img.head,
        names: [...names].sort(),
        tableLength: img.arrays.table.length,
      };
      const json = Buffer.from(JSON.stringify(head));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.length);
      const out = fd;
      const put = (b: Uint8Array): void => {
        for (let off = 0; off < b.length; off += STEP) {
          const part = b.subarray(off, Math.min(b.length, off + STEP));
          writeAll(out, cipher.update(part));
        }
      };
      writeAll(out, MAGIC);
      writeAll(out, nonce);
      put(len);
      put(json);
      for (const a of ARRAYS) put(bytesOf(img.arrays[a.name]));
      put(bytesOf(img.arrays.table));
      writeAll(out, cipher.final());
      writeAll(out, cipher.getAuthTag());
      closeSync(out);
      fd = undefined;
      renameSync(tmp, this.file);
    } catch {
      if (fd !== undefined) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // Not written, or already gone.
      }
    }
  }

  private read(fd: number): { names: string[]; image: MasterIndexImage } | undefined {
    const size = fstatSync(fd).size;
    const plainBytes = size - MAGIC.length - NONCE - TAG;
    if (plainBytes < 4) return undefined;
    const front = Buffer.alloc(MAGIC.length + NONCE);
    if (readSync(fd, front, 0, front.length, 0) !== front.length) return undefined;
    if (!front.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const tag = Buffer.alloc(TAG);
    if (readSync(fd, tag, 0, TAG, size - TAG) !== TAG) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.key, front.subarray(MAGIC.length));
    decipher.setAAD(MAGIC);
    decipher.setAuthTag(tag);

    // The plaintext is poured into its destinations in order: the head's length, the head, then
    // each array (allocated once the head says how long, and only when the sizes add up to the
    // file's: an unauthenticated head never makes this allocate more than the file holds).
    const lenBuf = new Uint8Array(4);
    let head: Head | undefined;
    const arrays: Partial<Arrays> = {};
    const targets: Uint8Array[] = [lenBuf];
    let t = 0;
    let at = 0;
    const next = (): void => {
      t++;
      at = 0;
      if (t === 1) {
        const n = Buffer.from(lenBuf).readUInt32LE(0);
        if (n > plainBytes - 4) throw new Error('head too long');
        targets.push(new Uint8Array(n));
      } else if (t === 2) {
        head = JSON.parse(Buffer.from(targets[1]!).toString('utf8')) as Head;
        const rows = head.rows;
        const tl = head.tableLength;
        if (head.v !== 1 || !Number.isInteger(rows) || rows < 0 || !Number.isInteger(tl) || tl < 0)
          throw new Error('bad head');
        const per = ARRAYS.reduce((s, a) => s + a.per, 0);
        if (4 + targets[1]!.length + rows * per + tl * 4 !== plainBytes)
          throw new Error('sizes do not add up');
        for (const a of ARRAYS) {
          const arr = a.make(rows);
          (arrays as Record<string, unknown>)[a.name] = arr;
          targets.push(bytesOf(arr));
        }
        const table = new Uint32Array(tl);
        arrays.table = table;
        targets.push(bytesOf(table));
      }
      // Zero-length targets are passed at once.
      if (t < targets.length && targets[t]!.length === 0) next();
    };
    const pour = (plain: Buffer): void => {
      let off = 0;
      while (off < plain.length) {
        const dst = targets[t];
        if (!dst) throw new Error('more bytes than the head announced');
        const n = Math.min(dst.length - at, plain.length - off);
        dst.set(plain.subarray(off, off + n), at);
        at += n;
        off += n;
        if (at === dst.length) next();
      }
    };
    const chunk = Buffer.allocUnsafe(Math.min(STEP, Math.max(plainBytes, 1)));
    let pos = front.length;
    const end = size - TAG;
    while (pos < end) {
      const want = Math.min(chunk.length, end - pos);
      const got = readSync(fd, chunk, 0, want, pos);
      if (got <= 0) return undefined;
      pos += got;
      pour(decipher.update(chunk.subarray(0, got)));
    }
    pour(decipher.final()); // throws when the tag does not verify
    if (!head || t !== targets.length) return undefined;
    const { v: _v, names, tableLength: _tl, ...rest } = head;
    return { names, image: { head: rest, arrays: arrays as Arrays } };
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}
