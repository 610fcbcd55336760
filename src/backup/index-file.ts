/**
 * Index files (docs/FORMAT.md, "Index"): which blobs each pack holds, so opening a repository
 * does not read pack headers. `index/<sha256 of file>`:
 *
 *   "NSI1" || seal(indexKey, zstd(JSON IndexJson), aad = "NSI1")
 *
 * `supersedes` lists index files this one replaces (written by prune before it deletes them).
 */
import { AuthError, compressParts, decompress, open, seal, sha256Hex } from './crypto.ts';
import { MAGIC } from './format.ts';
import { fromPacked, toPacked, type BlobEntry, type PackedEntry } from './pack.ts';

export interface IndexJson {
  v: 1;
  supersedes: string[];
  packs: { id: string; size: number; blobs: PackedEntry[] }[];
}

export interface IndexPack {
  id: string;
  size: number;
  blobs: BlobEntry[];
}

const AAD = Buffer.from(MAGIC.index);

/**
 * `packs` may be produced lazily (a backup builds them from the compact index one at a time): the
 * JSON text is made and compressed pack by pack, the same text `JSON.stringify` gives for the
 * whole `IndexJson`.
 */
export function encodeIndex(
  key: Uint8Array,
  packs: Iterable<IndexPack>,
  supersedes: string[] = [],
): { id: string; bytes: Buffer } {
  function* text(): Generator<string> {
    yield `{"v":1,"supersedes":${JSON.stringify(supersedes)},"packs":[`;
    let first = true;
    for (const p of packs) {
      const part: IndexJson['packs'][number] = { id: p.id, size: p.size, blobs: p.blobs.map(toPacked) };
      yield (first ? '' : ',') + JSON.stringify(part);
      first = false;
    }
    yield ']}';
  }
  const bytes = Buffer.concat([AAD, seal(key, compressParts(text()), AAD)]);
  return { id: sha256Hex(bytes), bytes };
}

export function decodeIndex(
  key: Uint8Array,
  bytes: Uint8Array,
): { packs: IndexPack[]; supersedes: string[] } {
  if (Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== MAGIC.index)
    throw new AuthError('not an index file');
  let json: IndexJson;
  try {
    json = JSON.parse(decompress(open(key, bytes.subarray(4), AAD)).toString('utf8')) as IndexJson;
  } catch (err) {
    if (err instanceof AuthError) throw err;
    throw new AuthError('index content is malformed');
  }
  if (json.v !== 1 || !Array.isArray(json.packs)) throw new AuthError('index has an unknown layout');
  return {
    supersedes: Array.isArray(json.supersedes) ? json.supersedes : [],
    packs: json.packs.map((p) => ({
      id: p.id,
      size: p.size,
      blobs: p.blobs.map((b) => fromPacked(b, p.id)),
    })),
  };
}
