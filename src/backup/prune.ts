/**
 * `prune` frees the space of blobs no snapshot references, and `forgetSnapshots` removes
 * snapshot files (which blobs become garbage is decided by the next prune).
 *
 * Reachability comes from each snapshot's blob list, so a recipients-mode writer can prune
 * without reading trees; repacking copies sealed blobs verbatim with their pack key slots.
 *
 * Crash-safe order: write new packs → write one new index listing every kept pack (superseding
 * the old index files) → delete old index files → delete packs and temp files no longer needed.
 * A crash at any point leaves every snapshot's blobs reachable through some index file.
 */
import { EXIT, UserError } from '../domain/errors.ts';
import { DIRS, PACK_TARGET_SIZE, TEMP_PREFIX } from './format.ts';
import { encodeIndex, type IndexPack } from './index-file.ts';
import { headerLength, openHeader, packPath } from './pack.ts';
import type { BlobId } from './ports.ts';
import type { Repo } from './repository.ts';
import { snapshotPath } from './snapshot-file.ts';

export interface PruneOptions {
  /** Compute and report, change nothing. */
  dryRun?: boolean;
  /** A pack whose unused bytes exceed this fraction is repacked (default 0.2); below it, kept as is. */
  repackThreshold?: number;
}

export interface PruneReport {
  dryRun: boolean;
  snapshots: number;
  blobsUsed: number;
  blobsRemoved: number;
  packsKept: number;
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  /** Packs no index listed (interrupted backups), removed. */
  unindexedPacksRemoved: number;
  tempFilesRemoved: number;
  indexFilesReplaced: number;
  bytesBefore: number;
  bytesAfter: number;
  bytesFreed: number;
  bytesRepacked: number;
}

export async function prune(repo: Repo, opts: PruneOptions = {}): Promise<PruneReport> {
  const threshold = opts.repackThreshold ?? 0.2;
  const dryRun = opts.dryRun ?? false;
  await repo.ensureIndex();
  await repo.flush();
  if (repo.damagedIndex.length > 0) {
    throw new UserError(`cannot prune: index file ${repo.damagedIndex[0]!.file} is damaged`, {
      hint: 'run `nightshift backup check` and repair the repository first; prune could delete data it cannot see',
      exitCode: EXIT.failed,
      code: 'damaged',
    });
  }
  // One snapshot at a time: only the union of the blobs they use is held, not every snapshot's list.
  const used = new Set<BlobId>();
  let snapshots = 0;
  for (const sid of await repo.snapshotIds()) {
    let blobs: BlobId[];
    try {
      blobs = (await repo.readSnapshot(sid)).blobs;
    } catch (e) {
      throw new UserError(
        `cannot prune: snapshot ${snapshotPath(sid)} is damaged (${(e as Error).message})`,
        {
          hint: 'run `nightshift backup check`; forget the damaged snapshot to let prune proceed',
          exitCode: EXIT.failed,
          code: 'damaged',
        },
      );
    }
    snapshots++;
    for (const b of blobs) used.add(b);
  }

  const present = new Set(await repo.listPacks());
  // Choose one present location for every used blob.
  const keepAt = new Map<BlobId, string>();
  for (const [id, p] of repo.index.packs) {
    if (!present.has(id)) continue;
    for (const b of p.blobs) if (used.has(b.id) && !keepAt.has(b.id)) keepAt.set(b.id, id);
  }
  const lost = [...used].filter((b) => !keepAt.has(b));
  if (lost.length > 0) {
    throw new UserError(
      `cannot prune: ${lost.length} blobs that snapshots reference are missing from the repository`,
      {
        hint: 'run `nightshift backup check` to see which snapshots are affected and forget them first',
        exitCode: EXIT.failed,
        code: 'damaged',
      },
    );
  }

  const report: PruneReport = {
    dryRun,
    snapshots,
    blobsUsed: used.size,
    blobsRemoved: 0,
    packsKept: 0,
    packsDeleted: 0,
    packsRepacked: 0,
    packsWritten: 0,
    unindexedPacksRemoved: 0,
    tempFilesRemoved: 0,
    indexFilesReplaced: repo.index.files.size,
    bytesBefore: 0,
    bytesAfter: 0,
    bytesFreed: 0,
    bytesRepacked: 0,
  };

  const keep: IndexPack[] = [];
  const repack: IndexPack[] = [];
  const drop: string[] = [];
  for (const [id, p] of repo.index.packs) {
    if (!present.has(id)) continue;
    report.bytesBefore += p.size;
    const kept = p.blobs.filter((b) => keepAt.get(b.id) === id);
    const keptBytes = kept.reduce((n, b) => n + b.length, 0);
    const allBytes = p.blobs.reduce((n, b) => n + b.length, 0);
    report.blobsRemoved += p.blobs.length - kept.length;
    if (kept.length === 0) drop.push(id);
    else if (allBytes - keptBytes > threshold * allBytes) repack.push({ ...p, blobs: kept });
    else {
      keep.push(p);
      report.blobsRemoved -= p.blobs.length - kept.length; // they stay in a kept pack
    }
  }
  const unindexed = [...present].filter((id) => !repo.index.packs.has(id));
  const temps: string[] = [];
  for (const dir of Object.values(DIRS)) {
    for (const f of await repo.store.list(dir))
      if (f.split('/').pop()!.startsWith(TEMP_PREFIX)) temps.push(`${dir}/${f}`);
  }
  for (const id of unindexed) report.bytesBefore += await repo.store.size(packPath(id));
  report.packsKept = keep.length;
  report.packsDeleted = drop.length;
  report.packsRepacked = repack.length;
  report.unindexedPacksRemoved = unindexed.length;
  report.tempFilesRemoved = temps.length;
  report.bytesRepacked = repack.reduce((n, p) => n + p.blobs.reduce((m, b) => m + b.length, 0), 0);

  const nothingToDo =
    drop.length === 0 && repack.length === 0 && unindexed.length === 0 && temps.length === 0;
  if (dryRun || nothingToDo) {
    report.indexFilesReplaced = 0;
    // A dry run estimates repacked packs by the sealed blobs they would carry.
    report.bytesAfter = nothingToDo
      ? report.bytesBefore
      : keep.reduce((n, p) => n + p.size, 0) + report.bytesRepacked;
    report.bytesFreed = report.bytesBefore - report.bytesAfter;
    return report;
  }

  // 1. new packs: sealed blobs copied verbatim with their key slots
  const written: IndexPack[] = [];
  let builder = repo.newPackBuilder();
  const flushBuilder = async (): Promise<void> => {
    if (builder.count === 0) return;
    const { id, size, entries, write } = builder.finish(repo.headerKey);
    await write((path, bytes) => repo.store.write(path, bytes));
    written.push({ id, size, blobs: entries });
    builder = repo.newPackBuilder();
  };
  for (const p of repack) {
    const bytes = await repo.store.read(packPath(p.id));
    const hlen = headerLength(bytes);
    const header = openHeader(repo.headerKey, bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4));
    for (const b of p.blobs) {
      const slot = header.slots[b.slot];
      if (!slot) throw new Error(`pack ${p.id} has no key slot ${b.slot}`);
      const s = builder.addSlot(slot);
      builder.addSealed(
        b.type,
        b.id,
        Buffer.from(bytes.subarray(b.offset, b.offset + b.length)),
        b.rawLength,
        b.compressed,
        s,
      );
      if (builder.size >= PACK_TARGET_SIZE) await flushBuilder();
    }
  }
  await flushBuilder();
  report.packsWritten = written.length;

  // 2. one index listing everything kept, superseding the old files
  const oldIndex = [...repo.index.files.keys()];
  const { id: newIndexId, bytes: indexBytes } = encodeIndex(repo.indexKey, [...keep, ...written], oldIndex);
  await repo.store.write(`${DIRS.index}/${newIndexId}`, indexBytes);

  // 3. old index files, then 4. packs and leftovers
  for (const f of oldIndex) if (f !== newIndexId) await repo.store.remove(`${DIRS.index}/${f}`);
  for (const id of [...drop, ...repack.map((p) => p.id), ...unindexed]) await repo.store.remove(packPath(id));
  for (const t of temps) await repo.store.remove(t);

  repo.index.clear();
  await repo.loadIndex();
  report.bytesAfter = [...keep, ...written].reduce((n, p) => n + p.size, 0);
  report.bytesFreed = report.bytesBefore - report.bytesAfter;
  return report;
}

/** Removes snapshot files by id or unique prefix; returns the full ids removed. */
export async function forgetSnapshots(repo: Repo, ids: string[]): Promise<string[]> {
  const full: string[] = [];
  for (const i of ids) full.push(await repo.resolveSnapshotId(i));
  for (const id of full) await repo.store.remove(snapshotPath(id));
  return full;
}
