/**
 * FastCDC content-defined chunking with a 32-bit Gear rolling hash and normalized chunking
 * (docs/FORMAT.md, "Chunking"). The Gear table is derived from the repository's secret seed so
 * chunk boundaries (and therefore chunk sizes) do not fingerprint known content.
 *
 * Streaming: `push` accepts any number of bytes and returns the chunks it completed; `finish`
 * returns the tail. Memory is bounded by one `max`-sized buffer.
 */
import { createHmac } from 'node:crypto';
import { UserError } from '../domain/errors.ts';
import { CHUNKER_BOUNDS, type ChunkerParams } from './format.ts';
import { GEAR_SCAN_WASM, type GearScanExports } from './gear-scan.ts';

/** 256 32-bit values: gear[i] = first 4 bytes (big-endian) of HMAC-SHA256(seed, "nightshift-gear" || i). */
export function deriveGearTable(seed: Uint8Array): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const mac = createHmac('sha256', seed).update('nightshift-gear').update(Uint8Array.of(i)).digest();
    table[i] = mac.readUInt32BE(0);
  }
  return table;
}

/** Throws a UserError unless min < avg < max, avg is a power of two, and all lie within CHUNKER_BOUNDS. */
export function validateChunkerParams(p: ChunkerParams): void {
  const ok =
    Number.isInteger(p.min) &&
    Number.isInteger(p.avg) &&
    Number.isInteger(p.max) &&
    p.min >= CHUNKER_BOUNDS.min &&
    p.max <= CHUNKER_BOUNDS.max &&
    p.min < p.avg &&
    p.avg < p.max &&
    (p.avg & (p.avg - 1)) === 0;
  if (!ok) {
    throw new UserError(`invalid chunker parameters min=${p.min} avg=${p.avg} max=${p.max}`, {
      hint: `need ${CHUNKER_BOUNDS.min} <= min < avg < max <= ${CHUNKER_BOUNDS.max} with avg a power of two`,
    });
  }
}

/** A mask of `bits` ones in the high end of a 32-bit word: the high bits mix the most recent 32 bytes. */
function highMask(bits: number): number {
  return bits >= 32 ? -1 : (((1 << bits) - 1) << (32 - bits)) | 0;
}

/** Where the gear scan's memory holds the bytes to scan (the gear table is below), and how many at once. */
const DATA = 1024;
const SLAB = 64 * 1024;
let gearScanModule: WebAssembly.Module | undefined;

export class Chunker {
  readonly params: ChunkerParams;
  private readonly wasm: { scan: GearScanExports; mem: Uint8Array };
  /** Stricter mask before the average point, looser after (normalization level 2). */
  private readonly maskS: number;
  private readonly maskL: number;
  private readonly buf: Uint8Array;
  private len = 0;
  private hash = 0;

  constructor(params: ChunkerParams, gearTable: Uint32Array) {
    validateChunkerParams(params);
    if (gearTable.length !== 256) throw new Error('gear table must have 256 entries');
    this.params = { ...params };
    gearScanModule ??= new WebAssembly.Module(GEAR_SCAN_WASM);
    const scan = new WebAssembly.Instance(gearScanModule, {}).exports as unknown as GearScanExports;
    scan.memory.grow(Math.ceil((DATA + SLAB) / 65536) - scan.memory.buffer.byteLength / 65536);
    new Uint32Array(scan.memory.buffer, 0, 256).set(gearTable);
    this.wasm = { scan, mem: new Uint8Array(scan.memory.buffer, DATA, SLAB) };
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = highMask(bits + 2);
    this.maskL = highMask(bits - 2);
    this.buf = new Uint8Array(params.max);
  }

  /** Feeds bytes; returns the chunks completed by them (each a fresh copy the caller owns). */
  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    const { min, avg, max } = this.params;
    const buf = this.buf;
    let i = 0;
    const n = data.length;
    while (i < n) {
      let len = this.len;
      if (len < min) {
        // The first `min` bytes of a chunk are never a cut point: copy without hashing.
        const take = Math.min(min - len, n - i);
        buf.set(data.subarray(i, i + take), len);
        this.len = len + take;
        i += take;
        continue;
      }
      // Bytes of `data` that still fit below the average point, then below max; the gear scan
      // (gear-scan.wat) rolls over them a slab at a time, copied into its memory.
      const endS = Math.min(n, i + Math.max(0, avg - len));
      const endL = Math.min(n, i + (max - len));
      const { scan, mem } = this.wasm;
      let h = this.hash;
      let cut = -1;
      for (let j = i; j < endL && cut < 0;) {
        const take = Math.min(SLAB, endL - j);
        mem.set(data.subarray(j, j + take));
        const r = scan.scan(0, Math.min(take, Math.max(0, endS - j)), take, h, this.maskS, this.maskL);
        if (r >= 0) cut = j + r;
        else h = scan.hash.value as number;
        j += take;
      }
      if (cut < 0 && len + (endL - i) === max) cut = endL;
      const end = cut < 0 ? n : cut;
      buf.set(data.subarray(i, end), len);
      len += end - i;
      i = end;
      if (cut >= 0) {
        out.push(buf.slice(0, len));
        this.len = 0;
        this.hash = 0;
      } else {
        this.len = len;
        this.hash = h;
      }
    }
    return out;
  }

  /** Returns the last (possibly short) chunk, if any bytes are pending, and resets. */
  finish(): Uint8Array[] {
    if (this.len === 0) return [];
    const last = this.buf.slice(0, this.len);
    this.len = 0;
    this.hash = 0;
    return [last];
  }
}

/** Chunks a whole async stream of buffers (e.g. a fs.ReadStream). */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  chunker: Chunker,
): AsyncGenerator<Uint8Array> {
  for await (const data of source) {
    for (const c of chunker.push(data)) yield c;
  }
  for (const c of chunker.finish()) yield c;
}
