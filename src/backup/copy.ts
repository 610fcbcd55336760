/**
 * Copying snapshots between repositories (a second site, a USB disk): every blob is read and
 * verified from the source, saved into the destination under the destination's own keys (so
 * the copy is re-encrypted, and deduplicated against what the destination already holds), trees
 * are rewritten with the destination's blob ids, and the snapshot is saved last, after all it
 * points to is durable. A snapshot already copied (same time, host and paths) is skipped, so a
 * copy can be repeated after an interruption.
 */
import type { BlobId, Repository, SnapshotMeta, TreeNode } from './ports.ts';
import { encodeTree, loadTree } from './tree.ts';

export interface CopyResult {
  /** Source snapshot id -> destination snapshot id. */
  copied: { from: string; to: string }[];
  skipped: string[];
  blobsNew: number;
  bytesNew: number;
}

function sameSnapshot(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return (
    a.time === b.time &&
    a.hostname === b.hostname &&
    [...a.paths].sort().join('\0') === [...b.paths].sort().join('\0')
  );
}

export async function copySnapshots(
  from: Repository,
  to: Repository,
  snapshots: SnapshotMeta[],
  signal?: AbortSignal,
): Promise<CopyResult> {
  const result: CopyResult = { copied: [], skipped: [], blobsNew: 0, bytesNew: 0 };
  const existing = await to.listSnapshots();
  // Blob ids are keyed per repository: the same content gets another id at the destination.
  const mapped = new Map<BlobId, BlobId>();
  const referenced = new Set<BlobId>();

  const copyBlob = async (id: BlobId): Promise<BlobId> => {
    const known = mapped.get(id);
    if (known !== undefined) {
      referenced.add(known);
      return known;
    }
    const r = await to.saveBlob('data', await from.loadBlob(id));
    if (r.isNew) {
      result.blobsNew++;
      result.bytesNew += r.storedBytes;
    }
    mapped.set(id, r.id);
    referenced.add(r.id);
    return r.id;
  };

  // Trees are walked for every snapshot (cheap; their data blobs are mapped once) so each
  // snapshot's list of referenced blobs is complete.
  const copyTree = async (id: BlobId): Promise<BlobId> => {
    if (signal?.aborted) throw signal.reason ?? new Error('copy aborted');
    const tree = await loadTree(from, id);
    const nodes: TreeNode[] = [];
    for (const n of tree.nodes) {
      const copy: TreeNode = { ...n };
      if (n.content) {
        copy.content = [];
        for (const c of n.content) copy.content.push(await copyBlob(c));
      }
      if (n.subtree) copy.subtree = await copyTree(n.subtree);
      nodes.push(copy);
    }
    const r = await to.saveBlob('tree', encodeTree({ nodes }));
    if (r.isNew) {
      result.blobsNew++;
      result.bytesNew += r.storedBytes;
    }
    referenced.add(r.id);
    return r.id;
  };

  for (const snap of snapshots) {
    if (existing.some((e) => sameSnapshot(e, snap))) {
      result.skipped.push(snap.id);
      continue;
    }
    referenced.clear();
    const tree = await copyTree(snap.tree);
    const meta: Omit<SnapshotMeta, 'id'> = {
      time: snap.time,
      hostname: snap.hostname,
      paths: snap.paths,
      tags: snap.tags,
      tree,
    };
    if (snap.username !== undefined) meta.username = snap.username;
    if (snap.summary !== undefined) meta.summary = snap.summary;
    const saved = await to.saveSnapshot(meta, referenced);
    result.copied.push({ from: snap.id, to: saved.id });
  }
  await to.flush();
  return result;
}
