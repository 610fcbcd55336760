/**
 * Snapshot files (docs/FORMAT.md, "Snapshots"): `snapshots/<sha256 of file>`.
 *
 *   "NSS1" || seal(snapshotKey, zstd(u32le(len(json)) || json || blobIds), aad = "NSS1")
 *
 * `json` holds time, host, tags, parent, root tree and summary, readable with the writer key;
 * `blobIds` (32 bytes each) is every blob the snapshot references, so prune and check can compute
 * reachability without reading trees. In recipients mode the paths are not in `json` but in
 * `sealedPaths`: an age file (readable by `age -d -i IDENTITY`) of JSON `{"paths": [...]}`.
 */
import { AuthError, compress, decompress, open, seal, sha256Hex } from './crypto.ts';
import { MAGIC } from './format.ts';
import type { BlobId, SnapshotSummary } from './ports.ts';

export interface SnapshotJson {
  v: 1;
  time: string;
  hostname: string;
  username?: string;
  tags: string[];
  parent?: string;
  tree: BlobId;
  summary?: SnapshotSummary;
  /** passphrase mode */
  paths?: string[];
  /** recipients mode: base64 of an age file */
  sealedPaths?: string;
}

const AAD = Buffer.from(MAGIC.snapshot);
const SNAPSHOT_ZSTD_LEVEL = 1;

export function encodeSnapshot(
  key: Uint8Array,
  json: SnapshotJson,
  blobs: Iterable<BlobId>,
): { id: string; bytes: Buffer } {
  const head = Buffer.from(JSON.stringify(json));
  const unique = blobs instanceof Set ? (blobs as ReadonlySet<BlobId>) : new Set(blobs);
  // One buffer, the ids written into it: a buffer per id cost a million allocations.
  const plain = Buffer.allocUnsafe(4 + head.length + 32 * unique.size);
  plain.writeUInt32LE(head.length, 0);
  head.copy(plain, 4);
  let o = 4 + head.length;
  for (const b of unique) {
    if (plain.write(b, o, 32, 'hex') !== 32) throw new Error(`not a blob id: ${b.slice(0, 16)}`);
    o += 32;
  }
  // The ids are MACs and do not compress: the fast level spares ~10x the time on a long list.
  const bytes = Buffer.concat([AAD, seal(key, compress(plain, SNAPSHOT_ZSTD_LEVEL), AAD)]);
  return { id: sha256Hex(bytes), bytes };
}

/**
 * Opens a snapshot file: its metadata, and its blob list as the raw 32-byte ids (`blobIdsOf` turns
 * them into ids; listing snapshots never needs them, and a million-file snapshot lists a million).
 */
export function decodeSnapshot(key: Uint8Array, bytes: Uint8Array): { json: SnapshotJson; ids: Buffer } {
  if (Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== MAGIC.snapshot)
    throw new AuthError('not a snapshot file');
  const plain = (() => {
    const opened = open(key, bytes.subarray(4), AAD);
    try {
      return decompress(opened);
    } catch {
      throw new AuthError('snapshot content is malformed');
    }
  })();
  const n = plain.readUInt32LE(0);
  let json: SnapshotJson;
  try {
    json = JSON.parse(plain.subarray(4, 4 + n).toString('utf8')) as SnapshotJson;
  } catch {
    throw new AuthError('snapshot content is malformed');
  }
  const rest = plain.subarray(4 + n);
  if (json.v !== 1 || rest.length % 32 !== 0) throw new AuthError('snapshot has an unknown layout');
  return { json, ids: rest };
}

/** The blob ids of a snapshot's raw id list (decodeSnapshot's `ids`). */
export function blobIdsOf(ids: Buffer): BlobId[] {
  const blobs: BlobId[] = new Array<BlobId>(ids.length / 32);
  for (let i = 0, o = 0; o < ids.length; i++, o += 32) blobs[i] = ids.toString('hex', o, o + 32);
  return blobs;
}

export function snapshotPath(id: string): string {
  return `snapshots/${id}`;
}

/**
 * Membership in a snapshot's raw blob list without a string per id: an open-addressing table of
 * offsets into the list (ids are MACs, so their first bytes hash evenly), compared in full on a
 * hit. For a million-blob snapshot it holds ~8 MB beside the list, against ~100 MB for a Set of
 * hex strings.
 */
export class RawIdSet {
  private readonly slots: Uint32Array;
  private readonly mask: number;

  constructor(private readonly ids: Buffer) {
    const n = ids.length / 32;
    let size = 16;
    while (size < n * 2) size *= 2;
    this.slots = new Uint32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < n; i++) {
      let h = ids.readUInt32LE(i * 32) & this.mask;
      while (this.slots[h] !== 0) {
        if (this.equalAt(this.slots[h]! - 1, ids, i * 32)) break;
        h = (h + 1) & this.mask;
      }
      this.slots[h] = i + 1;
    }
  }

  has(id: BlobId): boolean {
    if (id.length !== 64) return false;
    const want = Buffer.from(id, 'hex');
    if (want.length !== 32) return false;
    let h = want.readUInt32LE(0) & this.mask;
    while (this.slots[h] !== 0) {
      if (this.equalAt(this.slots[h]! - 1, want, 0)) return true;
      h = (h + 1) & this.mask;
    }
    return false;
  }

  private equalAt(i: number, other: Buffer, at: number): boolean {
    return this.ids.compare(other, at, at + 32, i * 32, i * 32 + 32) === 0;
  }
}
