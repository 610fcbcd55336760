/**
 * Pack files (docs/FORMAT.md, "Packs"): write-once files of encrypted blobs followed by an
 * encrypted header listing them, named by the SHA-256 of their bytes.
 *
 *   pack   := blob* header u32le(len(header))
 *   blob   := seal(packKey[slot], zstd?(plaintext), aad = "nsb1" || type || compressed || id)
 *   header := seal(headerKey, JSON PackHeader, aad = "nsp1")
 *
 * A pack key is random per pack. Its key slot wraps it with the master data key (passphrase
 * mode) or is an age file encrypted to the recipients (recipients mode), so a writer forgets it
 * once the pack is written. Repacking copies sealed blobs verbatim together with their slot.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { AuthError, KEY_BYTES, decompress, hmacHex, open, seal, sha256Hex } from './crypto.ts';
import { isHexId } from './hex-id.ts';
import { compressIfWorth } from './compression.ts';
import type { BlobId, BlobType, FileSink, SealedBlob } from './ports.ts';
import { PACK_TARGET_SIZE } from './format.ts';

export interface BlobEntry {
  id: BlobId;
  type: BlobType;
  pack: string;
  offset: number;
  /** Sealed length in the pack. */
  length: number;
  /** Plaintext length. */
  rawLength: number;
  compressed: boolean;
  /** Index into the pack header's key slots. */
  slot: number;
}

/** A wrapped pack key: `m` = sealed with the master data key, `a` = an age file to the recipients. */
export interface KeySlot {
  t: 'm' | 'a';
  /** base64 */
  k: string;
}

/** [type, id, offset, length, rawLength, compressed(0|1), slot] — compact in JSON. */
export type PackedEntry = [0 | 1, string, number, number, number, 0 | 1, number];

export interface PackHeader {
  v: 1;
  slots: KeySlot[];
  blobs: PackedEntry[];
}

const BLOB_AAD = Buffer.from('nsb1');
const HEADER_AAD = Buffer.from('nsp1');

export function packPath(id: string): string {
  return `data/${id.slice(0, 2)}/${id}`;
}

export function packIdFromPath(path: string): string | null {
  const m = /^(?:data\/)?([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(path);
  return m && m[2]!.startsWith(m[1]!) ? m[2]! : null;
}

export function toPacked(e: Omit<BlobEntry, 'pack'>): PackedEntry {
  return [e.type === 'tree' ? 1 : 0, e.id, e.offset, e.length, e.rawLength, e.compressed ? 1 : 0, e.slot];
}

export function fromPacked(p: PackedEntry, pack: string): BlobEntry {
  if (!Array.isArray(p) || p.length !== 7 || typeof p[1] !== 'string' || !isHexId(p[1])) {
    throw new Error('malformed blob entry');
  }
  return {
    type: p[0] === 1 ? 'tree' : 'data',
    id: p[1],
    pack,
    offset: p[2],
    length: p[3],
    rawLength: p[4],
    compressed: p[5] === 1,
    slot: p[6],
  };
}

/** The AAD binding a sealed blob to its type, compression flag and id. */
export function blobAad(type: BlobType, compressed: boolean, id: BlobId): Buffer {
  return Buffer.concat([
    BLOB_AAD,
    Uint8Array.of(type === 'tree' ? 1 : 0, compressed ? 1 : 0),
    Buffer.from(id, 'hex'),
  ]);
}

/** Compresses (when it pays) and seals one blob under a pack key. */
export function encryptBlob(
  packKey: Uint8Array,
  type: BlobType,
  id: BlobId,
  plaintext: Uint8Array,
): { sealed: Buffer; compressed: boolean } {
  const c = compressIfWorth(plaintext);
  const compressed = c !== null;
  return { sealed: seal(packKey, c ?? plaintext, blobAad(type, compressed, id)), compressed };
}

/**
 * Opens a sealed blob and verifies that its plaintext MACs to its id. Throws AuthError when the
 * bytes were altered or the entry does not match them.
 */
export function decryptBlob(
  packKey: Uint8Array,
  macKey: Uint8Array,
  entry: BlobEntry,
  sealed: Uint8Array,
): Buffer {
  const body = open(packKey, sealed, blobAad(entry.type, entry.compressed, entry.id));
  let plain: Buffer;
  try {
    plain = entry.compressed ? decompress(body) : body;
  } catch {
    throw new AuthError('blob does not decompress');
  }
  if (plain.length !== entry.rawLength || hmacHex(macKey, plain) !== entry.id) {
    throw new AuthError('blob content does not match its id');
  }
  return plain;
}

export function sealHeader(headerKey: Uint8Array, header: PackHeader): Buffer {
  return seal(headerKey, Buffer.from(JSON.stringify(header)), HEADER_AAD);
}

/** Parses the trailing header of a whole pack, or of its tail (at least header + 4 bytes). */
export function headerLength(tail: Uint8Array): number {
  if (tail.length < 4) throw new AuthError('pack too short');
  return Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength).readUInt32LE(tail.length - 4);
}

export function openHeader(headerKey: Uint8Array, sealedHeader: Uint8Array): PackHeader {
  const json = open(headerKey, sealedHeader, HEADER_AAD);
  let h: PackHeader;
  try {
    h = JSON.parse(json.toString('utf8')) as PackHeader;
  } catch {
    throw new AuthError('pack header is not valid JSON');
  }
  if (h.v !== 1 || !Array.isArray(h.slots) || !Array.isArray(h.blobs))
    throw new AuthError('pack header has an unknown layout');
  return h;
}

/** The stored length of a sealed blob, in one buffer or in parts. */
export function sealedLength(sealed: SealedBlob['sealed']): number {
  if (sealed instanceof Uint8Array) return sealed.length;
  let n = 0;
  for (const part of sealed) n += part.length;
  return n;
}

/** A pack buffer's usual size: the target plus room for the blobs that join a detached pack. */
const PACK_BUFFER_BYTES = PACK_TARGET_SIZE + 4 * 1024 * 1024;
/** At most this many pack buffers wait for reuse. */
const SPARE_BUFFERS = 4;
const spareBuffers: Buffer[] = [];

/**
 * Forgets the spare pack buffers (after a backup, so an idle process does not keep them). Written
 * packs hand their buffer back for the next pack: a buffer dropped after each pack lives until a
 * full garbage collection, which V8 runs only after tens of MiB of such memory.
 */
export function dropSpareBuffers(): void {
  spareBuffers.length = 0;
  spareStages.length = 0;
}

function spare(buf: Buffer): void {
  if (buf.length === PACK_BUFFER_BYTES && spareBuffers.length < SPARE_BUFFERS) spareBuffers.push(buf);
}

/** Bytes gathered before each write of a pack written through to its file. */
const STAGE_BYTES = 1024 * 1024;
const spareStages: Buffer[] = [];

/**
 * Accumulates sealed blobs for one pack; `finish` lays out the file and names it. With a sink
 * (a local repository) the bytes go to the pack's file as they come, in writes of 1 MiB, hashed on
 * the way: a pack is never held in memory whole, which saved ~45 MiB of a first backup's peak.
 * Without one (remote stores, which send a pack in one request) they are copied into one buffer
 * as they come, with no second copy of the pack when it is finished.
 */
export class PackBuilder {
  readonly key: Buffer;
  private buf: Buffer | null = null;
  private entries: Omit<BlobEntry, 'pack'>[] = [];
  private slots: KeySlot[] = [];
  size = 0;
  /** Blobs being sealed with this pack's key that are not added yet, and their plaintext bytes. */
  outstanding = 0;
  outstandingBytes = 0;
  private sink: FileSink | undefined;
  private hash: Hash | undefined;
  private stage: Buffer | null = null;
  private staged = 0;
  private readonly appends = new Set<Promise<void>>();

  /**
   * A new pack with a fresh random key in slot 0; or, for repacking, no own key (`key` unused).
   * `openSink` opens the pack's file when its first bytes come.
   */
  constructor(
    key: Buffer = randomBytes(KEY_BYTES),
    private readonly openSink?: () => FileSink,
  ) {
    this.key = key;
  }

  get count(): number {
    return this.entries.length;
  }

  addSealed(
    type: BlobType,
    id: BlobId,
    sealed: SealedBlob['sealed'],
    rawLength: number,
    compressed: boolean,
    slot = 0,
  ): void {
    const length = sealedLength(sealed);
    this.entries.push({ id, type, offset: this.size, length, rawLength, compressed, slot });
    if (sealed instanceof Uint8Array) this.append(sealed);
    else for (const part of sealed) this.append(part);
  }

  private append(bytes: Uint8Array): void {
    if (this.openSink) return this.stageBytes(bytes);
    const need = this.size + bytes.length;
    // Not zero-filled, so a buffer's pages cost memory only once bytes are written to them.
    this.buf ??= spareBuffers.pop() ?? Buffer.allocUnsafeSlow(PACK_BUFFER_BYTES);
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.size);
      spare(this.buf);
      this.buf = bigger;
    }
    this.buf.set(bytes, this.size);
    this.size = need;
  }

  private stageBytes(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length;) {
      this.stage ??= spareStages.pop() ?? Buffer.allocUnsafeSlow(STAGE_BYTES);
      const n = Math.min(bytes.length - off, STAGE_BYTES - this.staged);
      this.stage.set(bytes.subarray(off, off + n), this.staged);
      this.staged += n;
      off += n;
      if (this.staged === STAGE_BYTES) this.writeStage();
    }
    this.size += bytes.length;
  }

  /** Hands the staged bytes to the sink; the stage serves again once written. */
  private writeStage(): void {
    const stage = this.stage;
    if (!stage || this.staged === 0) return;
    const bytes = stage.subarray(0, this.staged);
    this.stage = null;
    this.staged = 0;
    (this.hash ??= createHash('sha256')).update(bytes);
    const write = (this.sink ??= this.openSink!()).append(bytes).then(() => {
      this.appends.delete(write);
      if (spareStages.length < SPARE_BUFFERS * 4) spareStages.push(stage);
    });
    this.appends.add(write);
  }

  add(type: BlobType, id: BlobId, plaintext: Uint8Array): { storedBytes: number } {
    const { sealed, compressed } = encryptBlob(this.key, type, id, plaintext);
    this.addSealed(type, id, sealed, plaintext.length, compressed, 0);
    return { storedBytes: sealed.length };
  }

  /** Registers a key slot (repacking); returns its index. Slot 0 must be this pack's own key, if used. */
  addSlot(slot: KeySlot): number {
    const i = this.slots.findIndex((s) => s.t === slot.t && s.k === slot.k);
    if (i >= 0) return i;
    this.slots.push(slot);
    return this.slots.length - 1;
  }

  /**
   * Lays out the pack: its id, entries and `write`, which stores it under `data/` (given the
   * store's whole-file write, used when there is no sink). The pack's buffer serves the next pack
   * once it is written.
   */
  finish(headerKey: Uint8Array): {
    id: string;
    size: number;
    entries: BlobEntry[];
    write: (writeFile: (path: string, bytes: Uint8Array) => Promise<void>) => Promise<void>;
  } {
    const header = sealHeader(headerKey, { v: 1, slots: this.slots, blobs: this.entries.map(toPacked) });
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    this.append(header);
    this.append(len);
    const size = this.size;
    if (this.openSink) {
      this.writeStage();
      const id = this.hash!.digest('hex');
      const sink = this.sink!;
      const appends = [...this.appends];
      return {
        id,
        size,
        entries: this.entries.map((e) => ({ ...e, pack: id })),
        write: async () => {
          await Promise.all(appends);
          await sink.commit(packPath(id));
        },
      };
    }
    const buf = this.buf!;
    const bytes = buf.subarray(0, size);
    this.buf = null;
    const id = sha256Hex(bytes);
    return {
      id,
      size,
      entries: this.entries.map((e) => ({ ...e, pack: id })),
      write: async (writeFile) => {
        await writeFile(packPath(id), bytes);
        // Written: the buffer serves the next pack (not after a failed write, which may still hold it).
        spare(buf);
      },
    };
  }
}
