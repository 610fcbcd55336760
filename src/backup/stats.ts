/**
 * `stats`: what the repository holds and what it costs on disk. Works with the writer key
 * (it reads only the index and snapshot files).
 */
import { DIRS } from './format.ts';
import type { Repo } from './repository.ts';

export interface RepoStats {
  snapshots: number;
  packs: number;
  indexFiles: number;
  blobs: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of all unique blobs (what deduplication leaves). */
  uniqueBytes: number;
  /** Sealed (compressed + encrypted) bytes of those blobs. */
  storedBytes: number;
  /** Bytes of all repository files (packs, index, snapshots, keys, config). */
  totalFileBytes: number;
  /** uniqueBytes / storedBytes (> 1 means compression saved space). */
  compressionRatio: number;
  /** Blobs stored raw because compression did not pay. */
  uncompressedBlobs: number;
  /** Sum of bytesRead over snapshot summaries, where recorded: the data the snapshots describe. */
  snapshotBytes: number;
}

export async function stats(repo: Repo): Promise<RepoStats> {
  const s: RepoStats = {
    snapshots: 0,
    packs: repo.index.packs.size,
    indexFiles: repo.index.files.size,
    blobs: repo.index.blobCount,
    dataBlobs: 0,
    treeBlobs: 0,
    uniqueBytes: 0,
    storedBytes: 0,
    totalFileBytes: 0,
    compressionRatio: 1,
    uncompressedBlobs: 0,
    snapshotBytes: 0,
  };
  for (const b of repo.index.allBlobs()) {
    if (b.type === 'tree') s.treeBlobs++;
    else s.dataBlobs++;
    s.uniqueBytes += b.rawLength;
    s.storedBytes += b.length;
    if (!b.compressed) s.uncompressedBlobs++;
  }
  s.compressionRatio = s.storedBytes > 0 ? s.uniqueBytes / s.storedBytes : 1;
  for (const r of await repo.listSnapshots()) {
    s.snapshots++;
    s.snapshotBytes += r.summary?.bytesRead ?? 0;
  }
  for (const dir of [DIRS.data, DIRS.index, DIRS.snapshots, DIRS.keys]) {
    for (const f of await repo.store.listSizes(dir)) s.totalFileBytes += f.size;
  }
  s.totalFileBytes += await repo.store.size('config');
  return s;
}
