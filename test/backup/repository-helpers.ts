import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Repo } from '../../src/backup/repository.ts';
import type { BlobId } from '../../src/backup/ports.ts';

/** Low scrypt cost keeps key tests quick; the default parameters are exercised once in keys.test.ts. */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
export const PASSWORD = 'correct horse battery staple';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ns-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random bytes (incompressible), distinct per seed. */
export function noise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let o = 0; o < size; o += 32) {
    block.copy(out, o);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Saves data blobs and a tiny tree, then a snapshot referencing them all. */
export async function snapshotOf(
  repo: Repo,
  blobs: Uint8Array[],
  opts: { paths?: string[]; hostname?: string; time?: string; tags?: string[] } = {},
): Promise<{ id: string; ids: BlobId[]; tree: BlobId }> {
  const ids: BlobId[] = [];
  for (const b of blobs) ids.push((await repo.saveBlob('data', b)).id);
  const tree = JSON.stringify({
    nodes: [{ name: 'f', type: 'file', mode: 0o100644, uid: 0, gid: 0, mtimeMs: 0, size: 0, content: ids }],
  });
  const t = await repo.saveBlob('tree', Buffer.from(tree));
  const meta = await repo.saveSnapshot(
    {
      time: opts.time ?? new Date().toISOString(),
      hostname: opts.hostname ?? 'host-a',
      paths: opts.paths ?? ['/data'],
      tags: opts.tags ?? [],
      tree: t.id,
    },
    [...ids, t.id],
  );
  return { id: meta.id, ids, tree: t.id };
}
