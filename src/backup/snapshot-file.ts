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

export function encodeSnapshot(
  key: Uint8Array,
  json: SnapshotJson,
  blobs: Iterable<BlobId>,
): { id: string; bytes: Buffer } {
  const head = Buffer.from(JSON.stringify(json));
  const ids: Buffer[] = [];
  for (const b of new Set(blobs)) ids.push(Buffer.from(b, 'hex'));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  const plain = Buffer.concat([len, head, ...ids]);
  const bytes = Buffer.concat([AAD, seal(key, compress(plain), AAD)]);
  return { id: sha256Hex(bytes), bytes };
}

export function decodeSnapshot(key: Uint8Array, bytes: Uint8Array): { json: SnapshotJson; blobs: BlobId[] } {
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
  const blobs: BlobId[] = [];
  for (let o = 0; o < rest.length; o += 32) blobs.push(rest.subarray(o, o + 32).toString('hex'));
  return { json, blobs };
}

export function snapshotPath(id: string): string {
  return `snapshots/${id}`;
}
