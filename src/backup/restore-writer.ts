/**
 * Writes opened blobs into restored files where they were opened: on a blob worker thread, so the
 * plaintext never travels back to the main thread and a small file costs no main-thread round trip
 * per system call (open, write, fchmod, futimes, close run here synchronously, one after another).
 *
 * Two kinds of write (restorer.ts decides which, and keeps every safety rule):
 * - `file`: the blob is a whole file. It is created at its final name with
 *   O_CREAT|O_EXCL|O_NOFOLLOW (what is there is unlinked and the create retried once: the
 *   restorer only orders this where its overwrite policy allows), written, given its mode, owner
 *   and mtime, and closed. It is only called with a blob already authenticated and checked against
 *   its id, so no final name receives unverified bytes; a failure after the create unlinks it.
 * - `part`: the blob is one chunk of a larger file, which the restorer created under a temporary
 *   name: opened with O_WRONLY|O_NOFOLLOW (never created here) and written at `pos`. The parts of
 *   one file in one call are written in offset order, adjacent ones with one writev.
 * An all-zero blob is not written (a hole): a `file` gets its length by ftruncate, a `part` is
 * reported as a hole and the restorer sets the length when the file is complete.
 *
 * Self-contained on purpose: the worker threads run this function's source text (blob-workers.ts);
 * without workers the restorer's repository runs it on the main thread. What it needs comes in as
 * arguments: `fs`, and `utimeSeconds` (mtime.ts, itself self-contained).
 */
import type * as Fs from 'node:fs';
import type { utimeSecondsOf } from './mtime.ts';
import type { BlobWrite, BlobWritten } from './ports.ts';

/**
 * `(plains, orders)` → per blob, the outcome of each of its writes (null where it had none or
 * could not be opened: a null plaintext).
 */
export function makeBlobWriter(fs: typeof Fs, utimeSeconds: typeof utimeSecondsOf) {
  const C = fs.constants;
  const ZERO = new Uint8Array(64 * 1024);
  const isZero = (b: Uint8Array): boolean => {
    for (let off = 0; off < b.length; off += ZERO.length) {
      const n = Math.min(ZERO.length, b.length - off);
      if (Buffer.compare(b.subarray(off, off + n), ZERO.subarray(0, n)) !== 0) return false;
    }
    return true;
  };
  const errorOf = (err: unknown): BlobWritten => {
    const e = err as NodeJS.ErrnoException;
    return { error: String(e?.message ?? e), code: String(e?.code ?? '') };
  };
  const writeFully = (fd: number, bufs: Uint8Array[], pos: number): void => {
    let total = 0;
    for (const b of bufs) total += b.length;
    let done = bufs.length === 1 ? fs.writeSync(fd, bufs[0]!, 0, total, pos) : fs.writevSync(fd, bufs, pos);
    if (done === total) return;
    // A short write (rare): the rest one buffer at a time.
    let skip = done;
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      let off = skip;
      skip = 0;
      while (off < b.length) {
        const n = fs.writeSync(fd, b, off, b.length - off, pos + done);
        off += n;
        done += n;
      }
    }
  };
  const wholeFile = (o: BlobWrite & { t: 'file' }, plain: Uint8Array, zero: boolean): BlobWritten => {
    const flags = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
    let fd: number;
    try {
      try {
        fd = fs.openSync(o.path, flags, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // What the overwrite policy allows to replace (never written through: unlinked).
        fs.unlinkSync(o.path);
        fd = fs.openSync(o.path, flags, 0o600);
      }
    } catch (err) {
      return errorOf(err);
    }
    const r: BlobWritten = {};
    try {
      if (zero) {
        r.hole = true;
        if (plain.length > 0) fs.ftruncateSync(fd, plain.length);
      } else writeFully(fd, [plain], 0);
      if (o.uid !== undefined) {
        try {
          fs.fchownSync(fd, o.uid, o.gid ?? 0);
        } catch (err) {
          r.ownership = String((err as NodeJS.ErrnoException).code ?? err);
        }
      }
      fs.fchmodSync(fd, o.mode);
      const t = utimeSeconds(o.mtimeMs);
      fs.futimesSync(fd, t, t);
      fs.closeSync(fd);
      return r;
    } catch (err) {
      try {
        fs.closeSync(fd);
      } catch {
        // already reported
      }
      try {
        fs.unlinkSync(o.path);
      } catch {
        // nothing to remove
      }
      return errorOf(err);
    }
  };
  /** The parts of one file, written in offset order; adjacent non-zero ones with one call. */
  const parts = (
    path: string,
    list: { pos: number; plain: Uint8Array; zero: boolean; out: BlobWritten[]; k: number }[],
  ): void => {
    list.sort((a, b) => a.pos - b.pos);
    let fd = -1;
    try {
      fd = fs.openSync(path, C.O_WRONLY | C.O_NOFOLLOW);
      let i = 0;
      while (i < list.length) {
        const p = list[i]!;
        if (p.zero) {
          p.out[p.k] = { hole: true };
          i++;
          continue;
        }
        const bufs = [p.plain];
        let end = p.pos + p.plain.length;
        let j = i + 1;
        while (j < list.length && bufs.length < 512 && !list[j]!.zero && list[j]!.pos === end) {
          bufs.push(list[j]!.plain);
          end += list[j]!.plain.length;
          j++;
        }
        writeFully(fd, bufs, p.pos);
        for (let k = i; k < j; k++) list[k]!.out[list[k]!.k] = {};
        i = j;
      }
      fs.closeSync(fd);
    } catch (err) {
      if (fd >= 0) {
        try {
          fs.closeSync(fd);
        } catch {
          // already reported
        }
      }
      const e = errorOf(err);
      for (const p of list) if (!p.out[p.k] || p.out[p.k]!.hole !== true) p.out[p.k] = e;
    }
  };
  return (plains: (Uint8Array | null)[], orders: (BlobWrite[] | null)[]): (BlobWritten[] | null)[] => {
    const results: (BlobWritten[] | null)[] = [];
    const byPath = new Map<
      string,
      { pos: number; plain: Uint8Array; zero: boolean; out: BlobWritten[]; k: number }[]
    >();
    for (let i = 0; i < orders.length; i++) {
      const plain = plains[i];
      const os = orders[i];
      if (!plain || !os || os.length === 0) {
        results.push(null);
        continue;
      }
      const zero = isZero(plain);
      const out: BlobWritten[] = [];
      results.push(out);
      for (let k = 0; k < os.length; k++) {
        const o = os[k]!;
        out.push({});
        if (o.t === 'file') {
          out[k] = wholeFile(o, plain, zero);
          continue;
        }
        let list = byPath.get(o.path);
        if (!list) byPath.set(o.path, (list = []));
        list.push({ pos: o.pos, plain, zero, out, k });
      }
    }
    for (const [path, list] of byPath) parts(path, list);
    return results;
  };
}
