/**
 * Blob sealing and opening on worker threads, so zstd, AES-GCM and HMAC run on the other cores
 * while the main thread walks, chunks and writes. The worker body is plain JavaScript (evaluated,
 * not loaded from a .ts file) so it runs the same under tsx, the bin launcher and tests.
 *
 * - `encrypt` implements exactly `encryptBlob` from pack.ts: zstd when it pays (the same
 *   `compressWorthIt`, whose source text the workers run), then seal with the given AAD.
 * - `openRange` implements `decryptBlob` for every blob of one read of a pack: AEAD open, zstd
 *   decompress, length and HMAC-to-id check. A blob that fails is reported alone; the others of the
 *   range still open. One message per range keeps the per-blob cost of small files low.
 * - `readHostFile` reads, chunks and hashes a host file on one worker (file-chunker.ts) and keeps
 *   the chunk bytes there: the main thread gets ids and lengths, and has that same worker seal the
 *   chunks it finds new. Chunk bytes never cross threads; only sealed blobs come back. Held bytes
 *   are bounded by the files in flight (each at most two read steps plus its chunks being sealed).
 *
 * One piece (over 500 lines) because the worker source and the pool that speaks to it share one
 * message protocol: split, each half would have to be read with the other open.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { compressWorthIt, FAST_LEVEL } from './compression.ts';
import { makeFileChunker } from './file-chunker.ts';
import { GEAR_SCAN_WASM } from './gear-scan.ts';
import { utimeSecondsOf } from './mtime.ts';
import { makeBlobWriter } from './restore-writer.ts';
import type { BlobWrite, BlobWritten, FileStep, HostFileReader, ListedFile, SealedBlob } from './ports.ts';
import { MIN_COMPRESSION_GAIN, ZSTD_LEVEL } from './format.ts';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, createDecipheriv, createHmac, randomFillSync } = require('node:crypto');
const fs = require('node:fs');
// A low-priority pool's thread lowers its own CPU priority before it takes any work. On Linux
// setpriority(0) names the calling thread only, so the process's other threads keep theirs.
if (workerData.nice) {
  try {
    require('node:os').setPriority(19);
  } catch {}
}
// Transpilers that keep function names (tsx) wrap inner functions in __name(fn, "name").
var __name = (f) => f;
const { Decompressor } = require(workerData.zstdPath);
// zstd-napi's low-level binding (zstd-napi/binding): contexts that compress into a given buffer.
const zstd = require(workerData.zstdBindingPath);
const compressWorthIt = ${compressWorthIt.toString()};
const makeFileChunker = ${makeFileChunker.toString()};
const chunkers = new Map();
let gearScan;
const writeBlobs = (${makeBlobWriter.toString()})(fs, ${utimeSecondsOf.toString()});
// The cipher's output pieces (and, for a backup, what it seals) are memory outside the JS heap,
// which V8 collects late: a young-generation collection every MiB opened or sealed frees those
// behind it (young, and dead once used) at once. V8 alone let them pile up by tens of MiB: in a
// first backup of 1 GiB they grew each worker's malloc arena to ~40 MiB, and check --read-data,
// with a full collection every 16 MiB instead, peaked ~20 MiB higher.
require('v8').setFlagsFromString('--expose-gc');
const collect = require('vm').runInNewContext('gc');
let minorChurn = 0;
function youngChurn(n) {
  minorChurn += n;
  if (minorChurn < 1024 * 1024) return;
  minorChurn = 0;
  collect({ type: 'minor' });
}
const files = new Map();
// Each level compresses into a scratch buffer of its own, kept: Compressor.compress() allocates a
// new output per blob, which this thread's heap then held until a collection (about 60 MiB of a
// first backup's peak). The result is encrypted before either is used again.
function compressInto(level) {
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.compressionLevel, level);
  let out = null;
  return (b) => {
    const bound = zstd.compressBound(b.length);
    if (!out || out.length < bound) out = Buffer.allocUnsafeSlow(bound);
    return out.subarray(0, cctx.compress2(out, b));
  };
}
let fast, strong;
// Nonces drawn 1,024 at a time: a call to the random generator per blob measured tens of us on
// these threads (it contends with the other threads' OpenSSL calls), ~5% of a worker's time.
const nonces = Buffer.alloc(12 * 1024);
let nonceAt = nonces.length;
function nextNonce() {
  if (nonceAt === nonces.length) {
    randomFillSync(nonces);
    nonceAt = 0;
  }
  nonceAt += 12;
  return nonces.subarray(nonceAt - 12, nonceAt);
}
// Sealed blobs go back in parts: the cipher's output and nonce ‖ tag (28 bytes). The output is
// written in pieces into this thread's spare memory (\`take\`) and moved to the main thread, which
// hands the memory back ('give') once it has copied the blob into its pack: a fresh buffer per
// blob page-faulted here, and left the main thread external memory that set off twice as many
// full collections there (55 against 22 in a first backup of 1 GiB).
function sealBytes(m, data) {
  if (!fast) {
    fast = compressInto(workerData.fastLevel);
    strong = compressInto(workerData.level);
  }
  const c = compressWorthIt(data, fast, strong, workerData.minGain);
  const compressed = c !== null;
  const aad = Buffer.from(m.aadBase);
  aad[4] = m.type;
  aad[5] = compressed ? 1 : 0;
  const nonce = nextNonce();
  const cipher = createCipheriv('aes-256-gcm', m.key, nonce);
  cipher.setAAD(aad);
  const src = compressed ? c : data;
  youngChurn(src.length);
  const body = take(src.length);
  // GCM is a stream cipher: the output is as long as the input; final() adds only the tag.
  if (cipherInto(cipher, src, body) !== src.length) throw new Error('unexpected cipher output length');
  const edges = Buffer.concat([nonce, cipher.getAuthTag()]);
  return [{ seq: m.seq, body, edges: new Uint8Array(edges), compressed }, [body.buffer]];
}
// Memory of sealed blobs the main thread is done with.
function giveBack(m) {
  for (const ab of m.bufs) give(new Uint8Array(ab));
  return null;
}
function seal(m) {
  return sealBytes(m, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
}
// Chunk bytes of files read here, by file and chunk number, kept until the main thread says
// whether each is new ('fseal') or decided ('fstep' release, 'fclose'): only new chunks' sealed
// bytes ever cross to the main thread.
const held = new Map();
function fileReply(m, r) {
  let h = held.get(m.fid);
  if (!h) held.set(m.fid, (h = { next: 0, chunks: new Map() }));
  for (const c of r.chunks) {
    if (!c.data) continue;
    c.held = h.next++;
    h.chunks.set(c.held, c);
  }
  if (r.done) files.delete(m.fid);
  // Only ids and lengths go back: the bytes stay here until 'fseal'.
  const chunks = r.chunks.map((c) => (c.zero ? { id: c.id, length: c.length, zero: true } : { id: c.id, length: c.length, held: c.held }));
  const step = { chunks, bytesRead: r.bytesRead, done: r.done };
  if (r.changed) step.changed = true;
  return [{ seq: m.seq, step }, []];
}
// Pack keys by number, as the main thread sent them (it mirrors this map to know which to resend).
const keys = new Map();
const AAD = Buffer.from('nsb1');
function fseal(m) {
  const h = held.get(m.fid);
  const c = h && h.chunks.get(m.held);
  if (!c) throw new Error('chunk is not held');
  h.chunks.delete(m.held);
  // The last held chunk of a finished file: nothing else of it will be asked for.
  if (m.end) {
    drop(h);
    held.delete(m.fid);
  }
  if (m.key) {
    keys.set(m.k, m.key);
    if (keys.size > workerData.keysKept) keys.delete(keys.keys().next().value);
  }
  const key = keys.get(m.k);
  if (!key) throw new Error('unknown pack key');
  const aadBase = Buffer.concat([AAD, Buffer.alloc(2), Buffer.from(c.id, 'hex')]);
  // Sealing copies the bytes out (compressed, encrypted): the buffer is free again after it.
  const r = sealBytes({ seq: m.seq, key, type: 0, aadBase }, Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
  give(c.data);
  return r;
}
function fopen(m) {
  const open = chunkers.get(m.cfg);
  if (!open) throw new Error('unknown chunker configuration');
  const f = open(m.file);
  files.set(m.fid, f);
  try {
    return fileReply(m, f.step(m.maxBytes));
  } catch (err) {
    files.delete(m.fid);
    throw err;
  }
}
function fstep(m) {
  const f = files.get(m.fid);
  if (!f) throw new Error('file is not open');
  // Chunks before 'release' were decided (sealed or already stored): drop the bytes of the rest.
  const h = held.get(m.fid);
  if (h) {
    for (const [k, c] of h.chunks) {
      if (k >= m.release) continue;
      h.chunks.delete(k);
      give(c.data);
    }
  }
  try {
    return fileReply(m, f.step(m.maxBytes));
  } catch (err) {
    files.delete(m.fid);
    throw err;
  }
}
function fclose(m) {
  const f = files.get(m.fid);
  files.delete(m.fid);
  const h = held.get(m.fid);
  if (h) drop(h);
  held.delete(m.fid);
  if (f) f.close();
  return [{}, []];
}
// Chunk buffers in power-of-two sizes, reused once their chunk is sealed or dropped: freed chunks
// would otherwise wait in this thread's heap for a collection (tens of MiB at a time).
const spare = new Map();
let spareBytes = 0;
function take(n) {
  let size = 16384;
  while (size < n) size *= 2;
  const list = spare.get(size);
  const ab = list && list.pop();
  if (ab) spareBytes -= size;
  return new Uint8Array(ab || new ArrayBuffer(size), 0, n);
}
function give(u) {
  const size = u.buffer.byteLength;
  if (spareBytes + size > workerData.spareBytes) return;
  let list = spare.get(size);
  if (!list) spare.set(size, (list = []));
  list.push(u.buffer);
  spareBytes += size;
}
function drop(h) {
  for (const c of h.chunks.values()) give(c.data);
  h.chunks.clear();
}
function fcfg(m) {
  gearScan ??= new WebAssembly.Module(workerData.gearScan);
  chunkers.set(m.cfg, makeFileChunker({ fs, createHmac, alloc: take, gearScan, ...m.deps }));
  return [{ seq: m.seq }, []];
}
// Opening writes into memory this thread keeps: the cipher's output comes in pieces of at most
// PIECE bytes (each copied into \`scratch\`), and a range's plaintexts are decompressed into one
// \`arena\`. Given a whole blob, the cipher allocates its whole output, a fresh buffer that costs
// a page fault per 4 KiB on first touch (about 8 us each on a virtual machine): opening in pieces
// ran AES-GCM at 1.5-2 GB/s instead of ~0.5, and a restore took ~15% less CPU.
const PIECE = 65536;
let scratch = null;
let arena = null;
let dctx;
function room(buf, n) {
  if (buf && buf.length >= n) return buf;
  let size = 1024 * 1024;
  while (size < n) size *= 2;
  return Buffer.allocUnsafeSlow(size);
}
// Runs \`c\` (a cipher, or a decipher: it throws when not authentic) over \`src\` into \`dst\`,
// which is as long: GCM adds no bytes.
function cipherInto(c, src, dst) {
  let w = 0;
  for (let o = 0; o < src.length; o += PIECE) {
    const p = c.update(src.subarray(o, o + PIECE));
    dst.set(p, w);
    w += p.length;
  }
  const f = c.final();
  if (f.length > 0) {
    dst.set(f, w);
    w += f.length;
  }
  return w;
}
// Opens one blob into \`slot\` (its raw length, in the arena) and checks it against its id.
function openOne(key, macKey, buf, e, slot) {
  if (e.length < 28) throw new Error('sealed message too short');
  const sealed = buf.subarray(e.offset, e.offset + e.length);
  const aad = Buffer.concat([Buffer.from('nsb1'), Uint8Array.of(e.type, e.compressed ? 1 : 0), Buffer.from(e.id, 'hex')]);
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const body = sealed.subarray(12, sealed.length - 16);
  scratch = room(scratch, body.length);
  let n;
  try {
    n = cipherInto(d, body, scratch);
  } catch {
    throw new Error('authentication failed');
  }
  if (e.compressed) {
    dctx ??= new zstd.DCtx();
    let got = -1;
    try {
      got = dctx.decompress(slot, scratch.subarray(0, n));
    } catch {}
    if (got !== e.rawLength) {
      // Not the length the index gives, or not zstd at all: opened again without a bound, only to
      // tell which.
      let whole;
      try {
        whole = new Decompressor().decompress(scratch.subarray(0, n));
      } catch {
        throw new Error('blob does not decompress');
      }
      if (whole.length !== e.rawLength) throw new Error('blob content does not match its id');
      slot.set(whole);
    }
  } else {
    if (n !== e.rawLength) throw new Error('blob content does not match its id');
    slot.set(scratch.subarray(0, n));
  }
  if (createHmac('sha256', macKey).update(slot).digest('hex') !== e.id)
    throw new Error('blob content does not match its id');
  return slot;
}
function open(m) {
  youngChurn(m.buf.byteLength);
  const buf = Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
  let total = 0;
  for (const e of m.entries) total += e.rawLength;
  arena = room(arena, total);
  const plains = [];
  const errors = [];
  const transfer = [];
  const opened = [];
  let at = 0;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i];
    const slot = arena.subarray(at, at + e.rawLength);
    at += e.rawLength;
    try {
      const p = openOne(m.key, m.macKey, buf, e, slot);
      opened.push(p);
      // Written here (restore-writer.ts), or only verified: nothing to send back.
      if (m.discard || (m.writes && m.writes[i])) {
        plains.push(null);
        errors.push(null);
        continue;
      }
      // A copy of its own (the arena serves the next range), so it can be transferred.
      const own = new Uint8Array(p);
      plains.push(own);
      errors.push(null);
      transfer.push(own.buffer);
    } catch (err) {
      opened.push(null);
      plains.push(null);
      errors.push(String((err && err.message) || err));
    }
  }
  // The arena's views are written before it serves another range.
  const written = m.writes ? writeBlobs(opened, m.writes) : undefined;
  // The range read goes back to be read into again (BlobWorkerPool.rangeBuffer).
  transfer.push(m.buf.buffer);
  return [{ seq: m.seq, plains, errors, written, range: m.buf }, transfer];
}
function lstat(m) {
  const n = m.paths.length;
  const nums = new BigUint64Array(n * 7);
  const times = new BigInt64Array(n * 2);
  const errors = [];
  const links = [];
  for (let i = 0; i < n; i++) {
    const p = m.paths[i];
    try {
      const st = fs.lstatSync(p, { bigint: true });
      const o = i * 7;
      nums[o] = st.mode; nums[o + 1] = st.uid; nums[o + 2] = st.gid; nums[o + 3] = st.size;
      nums[o + 4] = st.dev; nums[o + 5] = st.ino; nums[o + 6] = st.nlink;
      times[i * 2] = st.mtimeNs; times[i * 2 + 1] = st.ctimeNs;
      if (st.isSymbolicLink()) links.push([i, fs.readlinkSync(p)]);
    } catch (err) {
      errors.push([i, String((err && err.code) || ''), String((err && err.message) || err)]);
    }
  }
  return [{ seq: m.seq, lstat: { nums, times, errors, links } }, [nums.buffer, times.buffer]];
}
const ops = { open, seal, fseal, fopen, fstep, fclose, fcfg, lstat, give: giveBack };
function handle(m) {
  try {
    const r = ops[m.op](m);
    // A request without a sequence number wants no answer.
    return m.seq === undefined ? null : r;
  } catch (err) {
    if (m.seq === undefined) return null;
    return [{ seq: m.seq, error: String((err && err.message) || err), code: err && err.code }, []];
  }
}
parentPort.on('message', (m) => {
  if (m.op !== 'batch') {
    const a = handle(m);
    if (a) parentPort.postMessage(a[0], a[1]);
    return;
  }
  // Requests queued in the same turn of the main thread come as one message and go back as one.
  const replies = [];
  const transfer = [];
  for (const x of m.msgs) {
    const a = handle(x);
    if (!a) continue;
    replies.push(a[0]);
    for (const b of a[1]) transfer.push(b);
  }
  if (replies.length > 0) parentPort.postMessage({ batch: replies }, transfer);
});
`;

/** Where a blob sits in a buffer handed to `openRange`, and what it must open to. */
export interface RangeBlob {
  id: string;
  type: 0 | 1;
  compressed: boolean;
  offset: number;
  length: number;
  rawLength: number;
}

/** Per blob of a range: its plaintext, or why it could not be opened. */
export type OpenedBlob = { plain: Buffer } | { error: string };
/** `openAndWrite`: also the outcome of the writes of a blob that had some. */
export type WrittenBlob = OpenedBlob | { written: BlobWritten[] };

interface WorkerReply {
  seq: number;
  error?: string;
  code?: string;
  step?: FileStep;
  lstat?: {
    nums: BigUint64Array;
    times: BigInt64Array;
    errors: [number, string, string][];
    links: [number, string][];
  };
  /** A sealed blob: the cipher's output, and nonce ‖ tag around it. */
  body?: Uint8Array;
  edges?: Uint8Array;
  compressed?: boolean;
  plains?: (Uint8Array | null)[];
  errors?: (string | null)[];
  /** The range an 'open' was given, handed back once its blobs are opened. */
  range?: Uint8Array;
  written?: (BlobWritten[] | null)[];
}

/** A request sent to a worker, waiting for its answer. */
interface AwaitedReply {
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

/** One worker thread, how many requests it has not answered yet, and what waits to be sent. */
interface PoolThread {
  worker: Worker;
  busy: number;
  queue: Record<string, unknown>[];
  transfer: ArrayBuffer[];
  /** Chunker configurations this worker has been given. */
  configs: Set<string>;
  /** Numbers of the pack keys this worker keeps (oldest first). */
  keys: Set<number>;
  /** Sizes of the files being read (and their chunks sealed) on this worker. */
  fileBytes: number;
}

/** The chunking secrets of one repository, as a worker needs them to read its files. */
export interface ChunkerConfig {
  /** Names the configuration (per pool); the same key must always come with the same values. */
  key: string;
  gear: Uint32Array;
  min: number;
  avg: number;
  max: number;
  macKey: Uint8Array;
  readSize: number;
}

/** What the walker needs of an lstat. */
export interface LstatResult {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  dev: bigint;
  ino: bigint;
  nlink: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Symlinks: their target. */
  linkTarget?: string;
}

/** Young generation of a worker thread (MiB), and the semi-space that gives it. */
const WORKER_YOUNG_MB = 2;
const WORKER_SEMI_SPACE_MB = 1;

/** Requests queued in one turn of the event loop go to a worker as one message. */
const BATCH_MAX = 64;

/** Pack keys a worker keeps for sealing file chunks (only a few packs are open at once). */
const KEYS_KEPT = 16;

/** Freed chunk buffers a worker keeps for reuse. */
const SPARE_BYTES = 16 * 1024 * 1024;

/** Ranges handed back by the workers that the pool keeps to lend to the next reads. */
const SPARE_RANGES = 8;
const SPARE_RANGE_BYTES = 32 * 1024 * 1024;
/** Lent range buffers are sized in steps of this, so a spare fits the next range of about its size. */
const RANGE_STEP = 256 * 1024;

const EMPTY = Buffer.alloc(0);

export class BlobWorkerPool {
  private readonly threads: PoolThread[] = [];
  private readonly awaiting = new Map<number, AwaitedReply>();
  private seq = 0;
  private next = 0;
  private readonly keyNumbers = new WeakMap<Uint8Array, number>();
  private keyCount = 0;
  // Ranges come back from the workers once opened and are lent to the next reads (LocalStore
  // reads into them): a fresh buffer per range page-faulted on first touch (~23% of the faults of
  // `check --read-data`) and then waited in this thread's heap for a collection.
  private readonly spareRanges: ArrayBuffer[] = [];
  private readonly lent = new WeakSet<ArrayBuffer>();

  /**
   * `lowPriority`: each thread sets nice 19 on itself as it starts (Linux only: elsewhere
   * setpriority(0) would lower the whole process, scheduler included, so the threads stay as they are).
   */
  constructor(size: number, opts: { lowPriority?: boolean } = {}) {
    const zstdPath = createRequire(import.meta.url).resolve('zstd-napi');
    const zstdBindingPath = createRequire(import.meta.url).resolve('zstd-napi/binding');
    const nice = opts.lowPriority === true && process.platform === 'linux';
    // resourceLimits alone does not hold when the process runs with --max-semi-space-size
    // (bin/nightshift's first line): V8's flag wins over an isolate's limits, and each worker got
    // 2 x 4 MiB of young generation. The flag is read as an isolate is made, so setting it here
    // shapes the workers made next and leaves the main thread's heap as it is. First backup of the
    // 1 GiB dataset: peak RSS 193-198 -> 184-186 MiB, in the same time.
    setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        // A small young generation: the threads' objects are short-lived, and V8's default for a
        // worker made a restore's two threads hold ~40 MiB more at its peak (2 MiB: 196 MiB in all).
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
        workerData: {
          zstdPath,
          zstdBindingPath,
          level: ZSTD_LEVEL,
          fastLevel: FAST_LEVEL,
          minGain: MIN_COMPRESSION_GAIN,
          nice,
          keysKept: KEYS_KEPT,
          spareBytes: SPARE_BYTES,
          gearScan: GEAR_SCAN_WASM,
        },
      });
      const thread: PoolThread = {
        worker,
        busy: 0,
        queue: [],
        transfer: [],
        configs: new Set(),
        keys: new Set(),
        fileBytes: 0,
      };
      const answer = (m: WorkerReply): void => {
        const reply = this.awaiting.get(m.seq);
        this.awaiting.delete(m.seq);
        if (--thread.busy === 0) worker.unref();
        if (!reply) return;
        if (m.range) this.keepRange(m.range.buffer as ArrayBuffer);
        if (m.error !== undefined) {
          reply.reject(m.code ? Object.assign(new Error(m.error), { code: m.code }) : new Error(m.error));
        } else reply.resolve(m);
      };
      worker.on('message', (m: WorkerReply | { batch: WorkerReply[] }) => {
        if ('batch' in m) for (const r of m.batch) answer(r);
        else answer(m);
      });
      const fail = (err: Error): void => {
        // A dead worker leaves the pool; its (and any unanswered) requests fail instead of hanging.
        const i = this.threads.indexOf(thread);
        if (i >= 0) this.threads.splice(i, 1);
        for (const [k, j] of this.awaiting) {
          j.reject(err);
          this.awaiting.delete(k);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`blob worker exited with code ${code}`)));
      worker.unref();
      this.threads.push(thread);
    }
  }

  /** The thread with the fewest bytes of files being read on it, round-robin among equals. */
  private leastLoaded(): PoolThread | undefined {
    if (this.threads.length === 0) return undefined;
    let best = this.threads[this.next++ % this.threads.length]!;
    for (const s of this.threads) if (s.fileBytes < best.fileBytes) best = s;
    return best;
  }

  private leastBusy(): PoolThread | undefined {
    if (this.threads.length === 0) return undefined;
    // Least busy worker, round-robin among equals.
    let best = this.threads[this.next++ % this.threads.length]!;
    for (const s of this.threads) if (s.busy < best.busy) best = s;
    return best;
  }

  private request(
    msg: Record<string, unknown>,
    transfer: ArrayBuffer[] = [],
    thread: PoolThread | undefined = this.leastBusy(),
  ): Promise<WorkerReply> {
    if (!thread || !this.threads.includes(thread)) {
      return Promise.reject(new Error('no blob worker is running'));
    }
    const seq = this.seq++;
    if (thread.busy++ === 0) thread.worker.ref();
    return new Promise((resolve, reject) => {
      this.awaiting.set(seq, { resolve, reject });
      thread.queue.push({ ...msg, seq });
      for (const b of transfer) thread.transfer.push(b);
      if (thread.queue.length >= BATCH_MAX) this.send(thread);
      else if (thread.queue.length === 1) setImmediate(() => this.send(thread));
    });
  }

  private send(thread: PoolThread): void {
    const msgs = thread.queue;
    if (msgs.length === 0) return;
    const transfer = thread.transfer;
    thread.queue = [];
    thread.transfer = [];

    if (msgs.length === 1) thread.worker.postMessage(msgs[0], transfer);
    else thread.worker.postMessage({ op: 'batch', msgs }, transfer);
  }

  /**
   * lstat (and readlink for symlinks) of many paths on a worker: synchronous calls there cost the
   * main thread one message instead of a promise and a thread-pool round trip per path.
   */
  async lstatMany(paths: string[]): Promise<(LstatResult | NodeJS.ErrnoException)[]> {
    const m = await this.request({ op: 'lstat', paths });
    const r = m.lstat;
    if (!r) throw new Error('lstat failed: no output');
    const out: (LstatResult | NodeJS.ErrnoException)[] = [];
    const { nums, times } = r;
    for (let i = 0; i < paths.length; i++) {
      const o = i * 7;
      out.push({
        mode: Number(nums[o]),
        uid: Number(nums[o + 1]),
        gid: Number(nums[o + 2]),
        size: Number(nums[o + 3]),
        dev: nums[o + 4]!,
        ino: nums[o + 5]!,
        nlink: Number(nums[o + 6]),
        mtimeNs: times[i * 2]!,
        ctimeNs: times[i * 2 + 1]!,
      });
    }
    for (const [i, code, message] of r.errors) out[i] = Object.assign(new Error(message), { code });
    for (const [i, target] of r.links) (out[i] as LstatResult).linkTarget = target;
    return out;
  }

  /**
   * Opens a host file on the worker with the fewest bytes of files in hand, checks it is still the
   * listed file, and reads and chunks it there in steps of about `maxBytes` (chunks in order, each
   * with its id and length). The bytes stay on that worker until `seal` or a later step or `close`
   * drops them. An open or read error rejects with its errno code.
   */
  readHostFile(cfg: ChunkerConfig, file: ListedFile): HostFileReader {
    // A file's chunks are also sealed where it is read: spread the bytes, not the requests.
    const thread = this.leastLoaded();
    if (thread) thread.fileBytes += file.size;
    let counted = thread !== undefined;
    const uncount = (): void => {
      if (counted) thread!.fileBytes -= file.size;
      counted = false;
    };
    const fid = this.seq++;
    let opened = false;
    let closed = false;
    let done = false;
    let decided = 0;
    let lastHeld = -1;
    const configure = (): void => {
      if (!thread || thread.configs.has(cfg.key)) return;
      thread.configs.add(cfg.key);
      const { key: _k, ...deps } = cfg;
      void this.request({ op: 'fcfg', cfg: cfg.key, deps }, [], thread).catch(() => undefined);
    };
    return {
      next: async (maxBytes) => {
        configure();
        const first = !opened;
        opened = true;
        const m = await this.request(
          first
            ? { op: 'fopen', fid, cfg: cfg.key, file, maxBytes }
            : { op: 'fstep', fid, maxBytes, release: decided },
          [],
          thread,
        ).catch((err: unknown) => {
          done = true;
          throw err;
        });
        if (!m.step) throw new Error('file read failed: no output');
        for (const c of m.step.chunks) if (c.held !== undefined) lastHeld = c.held;
        if (m.step.done) done = true;
        return m.step;
      },
      seal: async (held, key) => {
        if (!thread) throw new Error('no blob worker is running');
        // Chunks are decided in order: once the file's last one is sealed, the worker can forget it.
        const end = done && held === lastHeld;
        if (end) closed = true;
        let m: WorkerReply;
        try {
          m = await this.request({ op: 'fseal', fid, held, end, ...this.keyRef(thread, key) }, [], thread);
        } catch (err) {
          if ((err as Error).message === 'no blob worker is running') throw err;
          throw new Error(`blob encryption failed: ${(err as Error).message}`);
        }
        return this.sealedOf(m, thread);
      },
      release: (below) => {
        decided = Math.max(decided, below);
      },
      close: () => {
        uncount();
        // Also after the last step: the worker may still hold bytes of chunks found stored.
        if (!opened || closed || !thread) return;
        closed = true;
        this.notify({ op: 'fclose', fid }, thread);
      },
    };
  }

  /** Pack keys get numbers: a worker is sent each key once (while it keeps it), then its number. */
  private keyRef(thread: PoolThread, key: Uint8Array): { k: number; key?: Uint8Array } {
    let k = this.keyNumbers.get(key);
    if (k === undefined) this.keyNumbers.set(key, (k = this.keyCount++));
    if (thread.keys.has(k)) return { k };
    // The same eviction as the worker's (messages arrive in order), so both agree on what it kept.
    thread.keys.add(k);
    if (thread.keys.size > KEYS_KEPT) thread.keys.delete(thread.keys.values().next().value!);
    return { k, key };
  }

  /** A message that wants no answer (it also keeps no worker alive). */
  private notify(msg: Record<string, unknown>, thread: PoolThread, transfer: ArrayBuffer[] = []): void {
    if (!this.threads.includes(thread)) return;
    thread.queue.push(msg);
    for (const b of transfer) thread.transfer.push(b);
    if (thread.queue.length >= BATCH_MAX) this.send(thread);
    else if (thread.queue.length === 1) setImmediate(() => this.send(thread));
  }

  /**
   * Seals `data` like pack.ts `encryptBlob`. `aadBase` is the blob AAD with placeholder type and
   * compression bytes (positions 4 and 5), which the worker fills in.
   */
  async encrypt(
    key: Uint8Array,
    type: 0 | 1,
    aadBase: Uint8Array,
    data: Uint8Array,
    opts: { transfer?: boolean } = {},
  ): Promise<SealedBlob> {
    let m: WorkerReply;
    // A buffer the caller gives up is moved to the worker instead of copied.
    const move =
      opts.transfer === true && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    const thread = this.leastBusy();
    try {
      m = await this.request(
        { op: 'seal', key, type, aadBase, data },
        move ? [data.buffer as ArrayBuffer] : [],
        thread,
      );
    } catch (err) {
      if ((err as Error).message === 'no blob worker is running') throw err;
      throw new Error(`blob encryption failed: ${(err as Error).message}`);
    }
    return this.sealedOf(m, thread!);
  }

  /**
   * A worker's sealed blob as its three parts: nonce, the cipher's output, tag (not joined). The
   * output lies in the worker's spare memory: `release`, once it is copied, sends it back there.
   */
  private sealedOf(m: WorkerReply, thread: PoolThread): SealedBlob {
    if (!m.body || !m.edges || m.edges.length !== 28) throw new Error('blob encryption failed: no output');
    const edges = Buffer.from(m.edges.buffer, m.edges.byteOffset, m.edges.byteLength);
    const body = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength);
    const memory = m.body.buffer as ArrayBuffer;
    return {
      sealed: [edges.subarray(0, 12), body, edges.subarray(12)],
      compressed: !!m.compressed,
      release: () => this.notify({ op: 'give', bufs: [memory] }, thread, [memory]),
    };
  }

  /**
   * Memory to read a range of `length` bytes into (BlobStore.readRange's `into`) before handing
   * it to `openRange` or `openAndWrite`, which move it to a worker without a copy; the worker
   * hands it back once the range is opened.
   */
  rangeBuffer(length: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.spareRanges.length; i++) {
      const n = this.spareRanges[i]!.byteLength;
      if (n >= length && (best < 0 || n < this.spareRanges[best]!.byteLength)) best = i;
    }
    const ab =
      best >= 0
        ? this.spareRanges.splice(best, 1)[0]!
        : new ArrayBuffer(Math.ceil(Math.max(length, 1) / RANGE_STEP) * RANGE_STEP);
    this.lent.add(ab);
    return new Uint8Array(ab, 0, length);
  }

  private keepRange(ab: ArrayBuffer): void {
    if (ab.byteLength === 0) return;
    this.spareRanges.push(ab);
    let bytes = 0;
    for (const b of this.spareRanges) bytes += b.byteLength;
    // Over the bound, the smallest go first: they are the least likely to fit the next range.
    while (this.spareRanges.length > SPARE_RANGES || bytes > SPARE_RANGE_BYTES) {
      let min = 0;
      for (let i = 1; i < this.spareRanges.length; i++)
        if (this.spareRanges[i]!.byteLength < this.spareRanges[min]!.byteLength) min = i;
      bytes -= this.spareRanges.splice(min, 1)[0]!.byteLength;
    }
  }

  /**
   * Opens and verifies the blobs that lie in `buf` (one read of a pack, all sealed under `key`),
   * like pack.ts `decryptBlob`. `buf` is transferred to the worker: the caller must not use it after.
   * `discard`: only verify; opened blobs come back empty.
   */
  openRange(
    key: Uint8Array,
    macKey: Uint8Array,
    buf: Uint8Array,
    blobs: RangeBlob[],
    opts: { discard?: boolean } = {},
  ): Promise<OpenedBlob[]> {
    return this.open(key, macKey, buf, blobs, opts) as Promise<OpenedBlob[]>;
  }

  /**
   * `openRange`, and the worker writes each blob that has writes (restore-writer.ts) instead of
   * sending it back: its outcome comes back as `written`; a blob without writes comes back as
   * its plaintext.
   */
  openAndWrite(
    key: Uint8Array,
    macKey: Uint8Array,
    buf: Uint8Array,
    blobs: RangeBlob[],
    writes: (BlobWrite[] | null)[],
  ): Promise<WrittenBlob[]> {
    return this.open(key, macKey, buf, blobs, { writes });
  }

  private async open(
    key: Uint8Array,
    macKey: Uint8Array,
    buf: Uint8Array,
    blobs: RangeBlob[],
    opts: { discard?: boolean; writes?: (BlobWrite[] | null)[] },
  ): Promise<WrittenBlob[]> {
    // A view of memory shared with other data is copied out first: moving it would detach the rest.
    const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
    const own =
      whole || this.lent.has(buf.buffer as ArrayBuffer) ? buf : Uint8Array.prototype.slice.call(buf);
    const m = await this.request(
      {
        op: 'open',
        key,
        macKey,
        buf: own,
        entries: blobs,
        discard: opts.discard === true,
        writes: opts.writes,
      },
      [own.buffer as ArrayBuffer],
    );
    return blobs.map((_, i) => {
      const w = m.written?.[i];
      if (w) return { written: w };
      const p = m.plains?.[i];
      if (p) return { plain: Buffer.from(p.buffer, p.byteOffset, p.byteLength) };
      const e = m.errors?.[i];
      return e === null && opts.discard ? { plain: EMPTY } : { error: e ?? 'no output' };
    });
  }

  get size(): number {
    return this.threads.length;
  }

  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((s) => s.worker.terminate()));
  }
}

const shared: { normal?: BlobWorkerPool | null; low?: BlobWorkerPool | null } = {};

/**
 * The process-wide pool, or null when workers are disabled (NIGHTSHIFT_BLOB_WORKERS=0) or the
 * machine has a single core. Sized to the cores, at most 4. `lowPriority` (a --nice profile's
 * work) gives a second pool of the same size whose threads run at nice 19: a thread cannot raise
 * its priority again, so low-priority work never shares threads with the rest.
 */
export function sharedBlobPool(opts: { lowPriority?: boolean } = {}): BlobWorkerPool | null {
  const which = opts.lowPriority === true ? 'low' : 'normal';
  const have = shared[which];
  if (have !== undefined) return have && have.size > 0 ? have : null;
  const env = process.env.NIGHTSHIFT_BLOB_WORKERS;
  const n = env !== undefined && /^\d+$/.test(env) ? Number(env) : Math.min(4, availableParallelism());
  const pool =
    n >= 1 && (env !== undefined || availableParallelism() > 1)
      ? new BlobWorkerPool(n, { lowPriority: which === 'low' })
      : null;
  shared[which] = pool;
  return pool;
}
