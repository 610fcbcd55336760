/**
 * The in-memory union of all index files: blob id → location, and pack → blobs. A blob stored in
 * several packs (concurrent writers, an interrupted prune) keeps its first location; all packs
 * stay known so prune can account for them.
 *
 * Memory: no object per blob. Each listed blob is one row of typed arrays (32-byte id, pack
 * number, offset, sealed and plain length, key slot, flags: 51 bytes) plus 4 to 8 bytes of an
 * open-addressing hash table keyed by the id's first bytes (ids are HMACs, so they are uniform):
 * about 60 bytes per blob, against ~250 for a Map of objects with hex-string ids. `BlobEntry`
 * objects are built on demand by `get`, `allBlobs` and the `packs` view, and not kept.
 */
import type { BlobId } from './ports.ts';
import type { BlobEntry, PackedEntry } from './pack.ts';
import type { IndexPack } from './index-file.ts';
import { decodeHexId } from './hex-id.ts';

const ID_BYTES = 32;
const TREE = 1;
const COMPRESSED = 2;
const U32_MAX = 0xffffffff;

/** A pack as listed by the first index file that named it: its rows are `start` to `end`. */
interface PackRow {
  no: number;
  size: number;
  start: number;
  end: number;
}

/** A MasterIndex's state (image/adopt): what index-cache.ts keeps between runs. */
export interface MasterIndexImage {
  head: {
    rows: number;
    distinct: number;
    /** In pack-number order: id, size, first row, row after the last. */
    packs: [string, number, number, number][];
    /** Index file id → the pack ids it lists. */
    files: [string, string[]][];
  };
  arrays: {
    ids: Uint8Array<ArrayBuffer>;
    packNo: Uint32Array<ArrayBuffer>;
    offset: Uint32Array<ArrayBuffer>;
    length: Uint32Array<ArrayBuffer>;
    rawLength: Uint32Array<ArrayBuffer>;
    slot: Uint16Array<ArrayBuffer>;
    flags: Uint8Array<ArrayBuffer>;
    table: Uint32Array<ArrayBuffer>;
  };
}

export class MasterIndex {
  /** Rows: every listed blob, duplicates included, in the order they were added. */
  private rows = 0;
  private ids = new Uint8Array(0);
  private packNo = new Uint32Array(0);
  private offset = new Uint32Array(0);
  private length = new Uint32Array(0);
  private rawLength = new Uint32Array(0);
  private slot = new Uint16Array(0);
  private flags = new Uint8Array(0);
  /** Hash table of row + 1 (0 = empty) for the first row of each distinct id. */
  private table = new Uint32Array(0);
  private distinct = 0;
  private readonly packIds: string[] = [];
  private readonly packRows = new Map<string, PackRow>();
  /** Pack id → the pack with its blobs, built on each access. */
  readonly packs: ReadonlyMap<string, IndexPack> = new PackView(this.packRows, (r, id) => this.packOf(r, id));
  /** Index file id → pack ids it lists. */
  readonly files = new Map<string, string[]>();
  private readonly scratch = Buffer.alloc(ID_BYTES);

  /** Forgets everything (before re-reading the index files, e.g. after prune). */
  clear(): void {
    this.rows = 0;
    this.distinct = 0;
    this.ids = new Uint8Array(0);
    this.packNo = new Uint32Array(0);
    this.offset = new Uint32Array(0);
    this.length = new Uint32Array(0);
    this.rawLength = new Uint32Array(0);
    this.slot = new Uint16Array(0);
    this.flags = new Uint8Array(0);
    this.table = new Uint32Array(0);
    this.packIds.length = 0;
    this.packRows.clear();
    this.files.clear();
  }

  /** The whole state as a head and exact-length arrays (views, not copies), for index-cache.ts. */
  image(): MasterIndexImage {
    const n = this.rows;
    return {
      head: {
        rows: n,
        distinct: this.distinct,
        packs: this.packIds.map((id) => {
          const p = this.packRows.get(id)!;
          return [id, p.size, p.start, p.end];
        }),
        files: [...this.files],
      },
      arrays: {
        ids: this.ids.subarray(0, n * ID_BYTES),
        packNo: this.packNo.subarray(0, n),
        offset: this.offset.subarray(0, n),
        length: this.length.subarray(0, n),
        rawLength: this.rawLength.subarray(0, n),
        slot: this.slot.subarray(0, n),
        flags: this.flags.subarray(0, n),
        table: this.table,
      },
    };
  }

  /**
   * Takes over an image (the arrays are used, not copied). Only into an empty index, and only an
   * image whose parts agree with each other: a mismatch throws and leaves the index empty.
   */
  adopt(img: MasterIndexImage): void {
    if (!this.isEmpty) throw new Error('index is not empty');
    const { head: h, arrays: a } = img;
    const n = h.rows;
    const ok =
      Number.isInteger(n) &&
      n >= 0 &&
      Number.isInteger(h.distinct) &&
      h.distinct <= n &&
      a.ids.length === n * ID_BYTES &&
      [a.packNo, a.offset, a.length, a.rawLength, a.slot, a.flags].every((x) => x.length === n) &&
      (a.table.length === 0
        ? n === 0
        : (a.table.length & (a.table.length - 1)) === 0 && h.distinct * 2 <= a.table.length) &&
      h.packs.every(
        ([, size, start, end]) => Number.isInteger(size) && start >= 0 && start <= end && end <= n,
      );
    if (!ok) throw new Error('index image is inconsistent');
    for (let r = 0; r < n; r++)
      if (a.packNo[r]! >= h.packs.length) throw new Error('index image is inconsistent');
    for (const v of a.table) if (v > n) throw new Error('index image is inconsistent');
    this.rows = n;
    this.distinct = h.distinct;
    this.ids = a.ids;
    this.packNo = a.packNo;
    this.offset = a.offset;
    this.length = a.length;
    this.rawLength = a.rawLength;
    this.slot = a.slot;
    this.flags = a.flags;
    this.table = a.table;
    h.packs.forEach(([id, size, start, end], no) => {
      this.packIds.push(id);
      this.packRows.set(id, { no, size, start, end });
    });
    for (const [f, packs] of h.files) this.files.set(f, packs);
  }

  addFile(fileId: string, packs: IndexPack[]): void {
    this.files.set(
      fileId,
      packs.map((p) => p.id),
    );
    for (const p of packs) this.addPack(p);
  }

  addPack(p: IndexPack): void {
    const known = this.packRows.get(p.id);
    if (known) {
      // A pack listed twice keeps its first listing; only blobs not known yet are added.
      for (const b of p.blobs) if (!this.has(b.id)) this.addRow(b, known.no);
      return;
    }
    const no = this.packIds.push(p.id) - 1;
    this.reserve(this.rows + p.blobs.length);
    const start = this.rows;
    for (const b of p.blobs) this.addRow(b, no);
    this.packRows.set(p.id, { no, size: p.size, start, end: this.rows });
  }

  has(id: BlobId): boolean {
    return this.find(id) >= 0;
  }

  get(id: BlobId): BlobEntry | undefined {
    const r = this.find(id);
    return r < 0 ? undefined : this.entry(r, id);
  }

  /** Every location of a blob (usually one). */
  locations(id: BlobId): BlobEntry[] {
    const first = this.find(id);
    if (first < 0) return [];
    const out = [this.entry(first, id)];
    const key = this.scratch;
    for (let r = 0; r < this.rows; r++) {
      if (r === first || this.packNo[r] === this.packNo[first]) continue;
      if (key.compare(this.ids, r * ID_BYTES, r * ID_BYTES + ID_BYTES) === 0) out.push(this.entry(r, id));
    }
    return out;
  }

  /** The size the first index file naming the pack gave it. */
  packSize(packId: string): number | undefined {
    return this.packRows.get(packId)?.size;
  }

  /**
   * Whether the pack's rows are exactly `entries` (its header's list), in the same order: ids,
   * types, offsets, lengths and key slots, compared without building an entry per blob (check
   * of a million files built a million). False also when they only differ in order or number:
   * the caller then compares blob by blob.
   */
  listsAsHeader(packId: string, entries: PackedEntry[]): boolean {
    const p = this.packRows.get(packId);
    if (!p || p.end - p.start !== entries.length) return false;
    const key = this.scratch;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const r = p.start + i;
      if (!Array.isArray(e) || typeof e[1] !== 'string' || !decodeHexId(e[1], key, 0)) return false;
      if (!this.rowHasId(r, key)) return false;
      const tree = (this.flags[r]! & TREE) !== 0;
      if (
        this.offset[r] !== e[2] ||
        this.length[r] !== e[3] ||
        this.slot[r] !== e[6] ||
        tree !== (e[0] === 1)
      )
        return false;
    }
    return true;
  }

  /** Nothing listed yet (no blob, no pack). */
  get isEmpty(): boolean {
    return this.rows === 0 && this.packIds.length === 0;
  }

  get blobCount(): number {
    return this.distinct;
  }

  /** Each distinct blob once, at its first location. */
  *allBlobs(): IterableIterator<BlobEntry> {
    for (let r = 0; r < this.rows; r++) {
      const id = this.idAt(r);
      if (this.find(id) === r) yield this.entry(r, id);
    }
  }

  private packOf(p: PackRow, id: string): IndexPack {
    const blobs: BlobEntry[] = [];
    for (let r = p.start; r < p.end; r++) blobs.push(this.entry(r, this.idAt(r)));
    return { id, size: p.size, blobs };
  }

  private idAt(r: number): BlobId {
    return Buffer.from(this.ids.buffer, this.ids.byteOffset + r * ID_BYTES, ID_BYTES).toString('hex');
  }

  private entry(r: number, id: BlobId): BlobEntry {
    const f = this.flags[r]!;
    return {
      id,
      type: f & TREE ? 'tree' : 'data',
      pack: this.packIds[this.packNo[r]!]!,
      offset: this.offset[r]!,
      length: this.length[r]!,
      rawLength: this.rawLength[r]!,
      compressed: (f & COMPRESSED) !== 0,
      slot: this.slot[r]!,
    };
  }

  /**
   * The row of `id`'s first location, or -1. Leaves the id's bytes in `scratch`. The bytes are
   * compared in a loop: Buffer.compare with offsets crosses into C++ on every probe (~1.3 s of a
   * check of a million files).
   */
  private find(id: BlobId): number {
    const key = this.scratch;
    if (this.distinct === 0 || !decodeHexId(id, key, 0)) return -1;
    const mask = this.table.length - 1;
    for (
      let h = (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) & mask;
      ;
      h = (h + 1) & mask
    ) {
      const v = this.table[h]!;
      if (v === 0) return -1;
      if (this.rowHasId(v - 1, key)) return v - 1;
    }
  }

  /** Row `r`'s id is the 32 bytes of `key`. */
  private rowHasId(r: number, key: Uint8Array): boolean {
    const ids = this.ids;
    const c = r * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (ids[c + i] !== key[i]) return false;
    return true;
  }

  /** The first row holding row `r`'s id (the id as bytes: loading an index checks each id's hex once). */
  private findRow(r: number): number {
    if (this.distinct === 0) return -1;
    const ids = this.ids;
    const o = r * ID_BYTES;
    const mask = this.table.length - 1;
    for (
      let h = (ids[o]! | (ids[o + 1]! << 8) | (ids[o + 2]! << 16) | (ids[o + 3]! << 24)) & mask;
      ;
      h = (h + 1) & mask
    ) {
      const v = this.table[h]!;
      if (v === 0) return -1;
      const c = (v - 1) * ID_BYTES;
      let i = 0;
      while (i < ID_BYTES && ids[c + i] === ids[o + i]) i++;
      if (i === ID_BYTES) return v - 1;
    }
  }

  private addRow(b: BlobEntry, pack: number): void {
    for (const n of [b.offset, b.length, b.rawLength]) {
      if (!Number.isInteger(n) || n < 0 || n > U32_MAX) throw new Error('malformed blob entry');
    }
    if (!Number.isInteger(b.slot) || b.slot < 0 || b.slot > 0xffff) throw new Error('malformed blob entry');
    this.reserve(this.rows + 1);
    // Written into the next row before it counts: a malformed id leaves no row behind.
    if (!decodeHexId(b.id, this.ids, this.rows * ID_BYTES)) throw new Error('malformed blob entry');
    const r = this.rows++;
    this.packNo[r] = pack;
    this.offset[r] = b.offset;
    this.length[r] = b.length;
    this.rawLength[r] = b.rawLength;
    this.slot[r] = b.slot;
    this.flags[r] = (b.type === 'tree' ? TREE : 0) | (b.compressed ? COMPRESSED : 0);
    if (this.findRow(r) >= 0) return;
    // At most half full, so probes stay short: 2 to 4 table slots per distinct blob.
    if ((this.distinct + 1) * 2 > this.table.length) this.rehash(Math.max(1024, this.table.length * 2));
    this.insert(r);
    this.distinct++;
  }

  private insert(r: number): void {
    const mask = this.table.length - 1;
    const o = r * ID_BYTES;
    let h =
      (this.ids[o]! | (this.ids[o + 1]! << 8) | (this.ids[o + 2]! << 16) | (this.ids[o + 3]! << 24)) & mask;
    while (this.table[h] !== 0) h = (h + 1) & mask;
    this.table[h] = r + 1;
  }

  private rehash(size: number): void {
    const old = this.table;
    this.table = new Uint32Array(size);
    for (const v of old) if (v !== 0) this.insert(v - 1);
  }

  /** Grows the row arrays by half again (at least to `n` rows). */
  private reserve(n: number): void {
    const cap = this.packNo.length;
    if (n <= cap) return;
    const next = Math.max(n, 1024, Math.ceil(cap * 1.5));
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array>(
      a: T,
      make: (n: number) => T,
      per = 1,
    ): T => {
      const b = make(next * per);
      b.set(a);
      return b;
    };
    this.ids = grow(this.ids, (k) => new Uint8Array(k), ID_BYTES);
    this.packNo = grow(this.packNo, (k) => new Uint32Array(k));
    this.offset = grow(this.offset, (k) => new Uint32Array(k));
    this.length = grow(this.length, (k) => new Uint32Array(k));
    this.rawLength = grow(this.rawLength, (k) => new Uint32Array(k));
    this.slot = grow(this.slot, (k) => new Uint16Array(k));
    this.flags = grow(this.flags, (k) => new Uint8Array(k));
  }
}

/** The packs as a read-only map whose values are built when asked for. */
class PackView implements ReadonlyMap<string, IndexPack> {
  constructor(
    private readonly rows: Map<string, PackRow>,
    private readonly build: (r: PackRow, id: string) => IndexPack,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  get(id: string): IndexPack | undefined {
    const r = this.rows.get(id);
    return r ? this.build(r, id) : undefined;
  }

  keys(): MapIterator<string> {
    return this.rows.keys();
  }

  *values(): MapIterator<IndexPack> {
    for (const [id, r] of this.rows) yield this.build(r, id);
  }

  *entries(): MapIterator<[string, IndexPack]> {
    for (const [id, r] of this.rows) yield [id, this.build(r, id)];
  }

  [Symbol.iterator](): MapIterator<[string, IndexPack]> {
    return this.entries();
  }

  forEach(fn: (value: IndexPack, key: string, map: ReadonlyMap<string, IndexPack>) => void): void {
    for (const [id, p] of this.entries()) fn(p, id, this);
  }
}
