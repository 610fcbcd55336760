/**
 * The in-memory union of all index files: blob id → location, and pack → blobs. A blob stored in
 * several packs (concurrent writers, an interrupted prune) keeps its first location; all packs
 * stay known so prune can account for them.
 */
import type { BlobId } from './ports.ts';
import type { BlobEntry } from './pack.ts';
import type { IndexPack } from './index-file.ts';

export class MasterIndex {
  private readonly blobs = new Map<BlobId, BlobEntry>();
  readonly packs = new Map<string, IndexPack>();
  /** Index file id → pack ids it lists. */
  readonly files = new Map<string, string[]>();

  /** Forgets everything (before re-reading the index files, e.g. after prune). */
  clear(): void {
    this.blobs.clear();
    this.packs.clear();
    this.files.clear();
  }

  addFile(fileId: string, packs: IndexPack[]): void {
    this.files.set(
      fileId,
      packs.map((p) => p.id),
    );
    for (const p of packs) this.addPack(p);
  }

  addPack(p: IndexPack): void {
    if (!this.packs.has(p.id)) this.packs.set(p.id, p);
    for (const b of p.blobs) if (!this.blobs.has(b.id)) this.blobs.set(b.id, b);
  }

  has(id: BlobId): boolean {
    return this.blobs.has(id);
  }

  get(id: BlobId): BlobEntry | undefined {
    return this.blobs.get(id);
  }

  /** Every location of a blob (usually one). */
  locations(id: BlobId): BlobEntry[] {
    const first = this.blobs.get(id);
    if (!first) return [];
    const out = [first];
    for (const p of this.packs.values()) {
      if (p.id === first.pack) continue;
      for (const b of p.blobs) if (b.id === id) out.push(b);
    }
    return out;
  }

  get blobCount(): number {
    return this.blobs.size;
  }

  allBlobs(): IterableIterator<BlobEntry> {
    return this.blobs.values();
  }
}
