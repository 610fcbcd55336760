/**
 * `check`: verifies a repository's structure and, with readData, every (or a sample of) blob.
 * Problems are collected, not thrown, into a report the CLI prints or emits as JSON. Every
 * message names the file it concerns.
 */
import { createHash, randomInt } from 'node:crypto';
import { EXIT, UserError } from '../domain/errors.ts';
import { parseConfig, verifyConfig } from './config.ts';
import type { BlobWorkerPool, RangeBlob } from './blob-workers.ts';
import { Semaphore } from './semaphore.ts';
import { sha256Hex } from './crypto.ts';
import { CONFIG_FILE, DIRS, TEMP_PREFIX } from './format.ts';
import { parsePassphraseKeyFile } from './kdf.ts';
import { isAgeFile } from './keys.ts';
import { decryptBlob, packPath, fromPacked, type BlobEntry } from './pack.ts';
import type { BlobId } from './ports.ts';
import { READ_NEEDS_IDENTITY, type Repo } from './repository.ts';
import { RawIdSet, snapshotPath } from './snapshot-file.ts';
import { decodeTree, refusedEntry } from './tree.ts';

export interface CheckIssue {
  /** Repository-relative file the issue concerns, when there is one. */
  file?: string;
  message: string;
}

export interface CheckOptions {
  /** true: decrypt and verify every blob; { subsetPercent }: a random sample of packs. */
  readData?: boolean | { subsetPercent: number };
}

export interface CheckReport {
  ok: boolean;
  /** Percent of packs asked to be read back (100 for all), when data was read at all. */
  readPercent?: number;
  errors: CheckIssue[];
  warnings: CheckIssue[];
  /** Harmless leftovers of interrupted work (temp files, unindexed packs); prune removes them. */
  info: CheckIssue[];
  counts: {
    snapshots: number;
    keys: number;
    indexFiles: number;
    packs: number;
    blobs: number;
    treesChecked: number;
    packsRead: number;
    blobsRead: number;
    bytesRead: number;
    tempFiles: number;
    unindexedPacks: number;
  };
}

export async function check(repo: Repo, opts: CheckOptions = {}): Promise<CheckReport> {
  const readData = opts.readData ?? false;
  if (readData && !repo.canRead)
    throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
  let subset = 100;
  if (typeof readData === 'object') {
    subset = readData.subsetPercent;
    if (!(subset > 0 && subset <= 100)) {
      throw new UserError(`invalid read-data subset ${subset}%`, {
        hint: 'pass a percentage between 0 and 100, e.g. --read-data-subset=10%',
      });
    }
  }
  const errors: CheckIssue[] = [];
  const warnings: CheckIssue[] = [];
  const info: CheckIssue[] = [];
  const counts: CheckReport['counts'] = {
    snapshots: 0,
    keys: 0,
    indexFiles: 0,
    packs: 0,
    blobs: repo.index.blobCount,
    treesChecked: 0,
    packsRead: 0,
    blobsRead: 0,
    bytesRead: 0,
    tempFiles: 0,
    unindexedPacks: 0,
  };
  const store = repo.store;
  const err = (file: string | undefined, message: string): void => {
    errors.push(file === undefined ? { message } : { file, message });
  };

  // Temp leftovers anywhere.
  for (const dir of Object.values(DIRS)) {
    for (const f of await store.list(dir)) {
      if (f.split('/').pop()!.startsWith(TEMP_PREFIX)) {
        counts.tempFiles++;
        info.push({
          file: `${dir}/${f}`,
          message: 'leftover temporary file of an interrupted write (prune removes it)',
        });
      }
    }
  }

  // config
  try {
    const { body, mac } = parseConfig(await store.read(CONFIG_FILE));
    if (!verifyConfig(body, mac, repo.keys.metaKey))
      err(CONFIG_FILE, 'config is damaged: its MAC does not verify');
  } catch (e) {
    err(CONFIG_FILE, `config is damaged: ${(e as Error).message}`);
  }

  // keys
  for (const k of await repo.listFiles(DIRS.keys)) {
    counts.keys++;
    const file = `${DIRS.keys}/${k}`;
    const bytes = await store.read(file);
    if (sha256Hex(bytes) !== k) err(file, `key file ${file} is damaged: content does not match its name`);
    else if (!parsePassphraseKeyFile(bytes) && !isAgeFile(bytes))
      err(file, `key file ${file} is not a key file`);
  }

  // index files, read from the repository even when this host's index cache holds them (a damaged
  // one is skipped and recorded, so it is found even when the cache has its content)
  await repo.ensureIndex({ cache: false });
  counts.indexFiles = repo.index.files.size + repo.damagedIndex.length;
  for (const d of repo.damagedIndex) err(d.file, `index file ${d.file} is damaged: ${d.why}`);

  // packs: present vs indexed, headers vs index
  const present = new Set(await repo.listPacks());
  counts.packs = present.size;
  const missingPacks = new Set<string>();
  for (const id of repo.index.packs.keys()) {
    const file = packPath(id);
    if (!present.has(id)) {
      missingPacks.add(id);
      continue;
    }
    try {
      const size = await store.size(file);
      const indexed = repo.index.packSize(id);
      if (size !== indexed) throw new Error(`size ${size} differs from the index (${indexed})`);
      const h = await repo.readPackHeader(id);
      // Usually the index lists a pack exactly as its header does; only otherwise blob by blob.
      if (repo.index.listsAsHeader(id, h.blobs)) continue;
      const p = repo.index.packs.get(id)!;
      const fromHeader = new Map(h.blobs.map((b) => [b[1], fromPacked(b, id)]));
      for (const b of p.blobs) {
        const hb = fromHeader.get(b.id);
        if (
          !hb ||
          hb.offset !== b.offset ||
          hb.length !== b.length ||
          hb.type !== b.type ||
          hb.slot !== b.slot
        ) {
          throw new Error(`blob ${b.id.slice(0, 16)} is listed differently in the pack header and the index`);
        }
      }
    } catch (e) {
      err(file, `pack ${file} is damaged: ${(e as Error).message}`);
    }
  }
  for (const id of present) {
    if (!repo.index.packs.has(id)) {
      counts.unindexedPacks++;
      info.push({
        file: packPath(id),
        message: 'pack not listed in any index (left by an interrupted backup; prune removes it)',
      });
    }
  }

  // snapshots: decode, reachability list vs index and packs, trees when readable
  const affected = new Map<string, Set<string>>(); // missing pack -> snapshots
  const checkedTrees = new Set<BlobId>();
  for (const sid of await repo.snapshotIds()) {
    counts.snapshots++;
    const file = snapshotPath(sid);
    let rec;
    try {
      rec = await repo.readSnapshot(sid);
    } catch (e) {
      err(file, `snapshot ${file} is damaged: ${(e as Error).message}`);
      continue;
    }
    // The list stays as stored (32 bytes an id): a million-blob snapshot as a Set of hex strings
    // cost ~100 MB, and the ids are only looked up.
    const listed = new RawIdSet(rec.ids);
    let missing = 0;
    for (let o = 0; o < rec.ids.length; o += 32) {
      const e = repo.index.get(rec.ids.toString('hex', o, o + 32));
      if (!e) missing++;
      else if (missingPacks.has(e.pack)) {
        const set = affected.get(e.pack) ?? new Set<string>();
        set.add(sid);
        affected.set(e.pack, set);
      }
    }
    if (missing > 0)
      err(file, `snapshot ${sid.slice(0, 12)} references ${missing} blobs that no index lists`);
    if (!listed.has(rec.meta.tree)) err(file, `snapshot ${sid.slice(0, 12)} does not list its root tree`);
    if (repo.canRead) {
      await walkTrees(repo, rec.meta.tree, sid, listed, checkedTrees, missingPacks, err);
    }
  }
  counts.treesChecked = checkedTrees.size;
  for (const id of missingPacks) {
    const snaps = [...(affected.get(id) ?? [])].map((s) => s.slice(0, 12));
    err(
      packPath(id),
      `pack ${packPath(id)} is missing` +
        (snaps.length > 0
          ? `; snapshots affected: ${snaps.join(', ')}`
          : '; no snapshot references its blobs'),
    );
  }

  // read data: packs are read in spans and their blobs opened on the worker threads, two packs at once
  if (readData) {
    const packs = [...repo.index.packs.keys()].filter((p) => present.has(p));
    const chosen = samplePacks(packs, subset);
    const pool = repo.blobPool();
    const reading: Promise<void>[] = [];
    const ranges = new Semaphore(Math.max(1, (pool?.size ?? 0) * 2));
    for (const id of chosen) {
      const p = readPackData(repo, id, pool, ranges, counts, err);
      p.catch(() => undefined);
      reading.push(p);
      if (reading.length > 1) await reading.shift();
    }
    await Promise.all(reading);
  }

  return {
    ok: errors.length === 0,
    ...(readData ? { readPercent: subset } : {}),
    errors,
    warnings,
    info,
    counts,
  };
}

/**
 * A random sample of `percent` of the packs, rounded up, so that a sample of a small repository
 * still reads at least one pack (5% of 3 packs reads one, not none).
 */
export function samplePacks<T>(packs: readonly T[], percent: number): T[] {
  if (percent >= 100) return [...packs];
  const want = Math.min(packs.length, Math.ceil((packs.length * percent) / 100));
  const pool = [...packs];
  // Partial Fisher-Yates: the first `want` slots end up a uniform sample.
  for (let i = 0; i < want; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, want);
}

/**
 * Walks the trees of one snapshot not yet checked through another, a level at a time: each level's
 * trees are read together (repo.readBlobs reads each pack's ranges once), not with a read per tree.
 */
async function walkTrees(
  repo: Repo,
  root: BlobId,
  sid: string,
  listed: RawIdSet,
  seen: Set<BlobId>,
  missingPacks: Set<string>,
  err: (file: string | undefined, message: string) => void,
): Promise<void> {
  const file = snapshotPath(sid);
  // Each tree with the path it was first reached by, so a refused entry can be named.
  let level = new Map<BlobId, string>([[root, '']]);
  while (level.size > 0) {
    const wanted = new Map<BlobId, string>();
    for (const [id, dirPath] of level) {
      if (seen.has(id)) continue;
      seen.add(id);
      const e = repo.index.get(id);
      if (!e || missingPacks.has(e.pack)) continue; // reported above
      wanted.set(id, dirPath);
    }
    const next = new Map<BlobId, string>();
    await repo.readBlobs(wanted.keys(), (id, r) => {
      const dirPath = wanted.get(id)!;
      let tree;
      try {
        if ('error' in r) throw r.error;
        // Without a write plan readBlobs always hands over the plaintext.
        if (!('plain' in r)) throw new Error('no plaintext was read');
        tree = decodeTree(r.plain, id);
      } catch (x) {
        err(
          packPath(repo.index.get(id)!.pack),
          `tree ${id.slice(0, 16)} of snapshot ${sid.slice(0, 12)} cannot be read: ${(x as Error).message}`,
        );
        return;
      }
      const refused = refusedEntry(tree.nodes);
      if (refused)
        err(
          file,
          `snapshot ${sid.slice(0, 12)} holds ${JSON.stringify(`${dirPath}/${refused.name}`)}, which restore and dump refuse: ${refused.why}`,
        );
      for (const n of tree.nodes) {
        for (const c of n.content ?? []) {
          if (!repo.index.has(c))
            err(file, `file ${n.name} in snapshot ${sid.slice(0, 12)} refers to a blob no index lists`);
          else if (!listed.has(c))
            err(file, `snapshot ${sid.slice(0, 12)} does not list blob ${c.slice(0, 16)} it uses`);
        }
        if (n.subtree) {
          if (!listed.has(n.subtree))
            err(file, `snapshot ${sid.slice(0, 12)} does not list tree ${n.subtree.slice(0, 16)} it uses`);
          if (!repo.index.has(n.subtree))
            err(file, `a directory in snapshot ${sid.slice(0, 12)} refers to a tree no index lists`);
          else if (!next.has(n.subtree)) next.set(n.subtree, `${dirPath}/${n.name}`);
        }
      }
    });
    level = next;
  }
}

/** Blobs in offset order, grouped into ranges of one key slot and at most CHECK_RANGE bytes. */
function rangesOf(blobs: BlobEntry[]): BlobEntry[][] {
  const sorted = [...blobs].sort((a, b) => a.offset - b.offset);
  const out: BlobEntry[][] = [];
  let cur: BlobEntry[] = [];
  for (const b of sorted) {
    const first = cur[0];
    if (first && (b.slot !== first.slot || b.offset + b.length - first.offset > CHECK_RANGE)) {
      out.push(cur);
      cur = [];
    }
    cur.push(b);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const CHECK_RANGE = 2 * 1024 * 1024;

/**
 * Reads one pack in order, in spans of about CHECK_RANGE bytes, hashing it to check its name, and
 * opens and verifies every blob its header lists. Each span is moved to a worker as it was read
 * (no copy), and at most `ranges` spans are held at once: memory stays at a few spans, whatever
 * the pack size (a whole pack per read held 2 x 16 MiB plus copies of its ranges).
 */
async function readPackData(
  repo: Repo,
  id: string,
  pool: BlobWorkerPool | null,
  ranges: Semaphore,
  counts: CheckReport['counts'],
  err: (file: string | undefined, message: string) => void,
): Promise<void> {
  const file = packPath(id);
  const opening: Promise<void>[] = [];
  try {
    const size = await repo.store.size(file);
    const h = await repo.readPackHeader(id);
    const blobs = h.blobs.map((pe) => fromPacked(pe, id));
    const keys = new Map<number, Promise<Buffer>>();
    const keyOf = (slot: number): Promise<Buffer> => {
      let k = keys.get(slot);
      if (!k) {
        const s = h.slots[slot];
        k = s ? repo.unwrapSlot(s) : Promise.reject(new Error(`pack header has no key slot ${slot}`));
        k.catch(() => undefined);
        keys.set(slot, k);
      }
      return k;
    };
    const blobErr = (b: BlobEntry, why: string): void =>
      err(file, `pack ${file}: blob ${b.id.slice(0, 16)} is damaged: ${why}`);
    const hash = createHash('sha256');
    let pos = 0;
    for (const group of rangesOf(blobs)) {
      const last = group[group.length - 1]!;
      const end = Math.max(pos, Math.min(size, last.offset + last.length));
      await ranges.acquire();
      let buf: Uint8Array;
      try {
        // From where the previous span ended, so bytes between blobs are hashed too.
        buf = await repo.store.readRange(file, pos, end - pos, pool?.rangeBuffer(end - pos));
      } catch (e) {
        ranges.release();
        throw e;
      }
      hash.update(buf);
      const base = pos;
      pos = end;
      let key: Buffer;
      try {
        key = await keyOf(group[0]!.slot);
      } catch (e) {
        ranges.release();
        for (const b of group) blobErr(b, (e as Error).message);
        continue;
      }
      const p = openGroup(repo, group, base, buf, pool, key)
        .then(
          (results) => results.forEach((r, i) => (r === null ? counts.blobsRead++ : blobErr(group[i]!, r))),
          (e: unknown) => group.forEach((b) => blobErr(b, (e as Error).message)),
        )
        .finally(() => ranges.release());
      opening.push(p);
    }
    if (pos < size) hash.update(await repo.store.readRange(file, pos, size - pos));
    counts.packsRead++;
    counts.bytesRead += size;
    if (hash.digest('hex') !== id) err(file, `pack ${file} is damaged: content does not match its name`);
  } catch (e) {
    err(file, `pack ${file} is damaged: ${(e as Error).message}`);
  } finally {
    await Promise.all(opening);
  }
}

/**
 * Opens the blobs of one span (`buf` starts at pack offset `base`; moved to a worker when there is
 * one): per blob, null when it verified or why it did not.
 */
async function openGroup(
  repo: Repo,
  group: BlobEntry[],
  base: number,
  buf: Uint8Array,
  pool: BlobWorkerPool | null,
  key: Buffer,
): Promise<(string | null)[]> {
  if (pool) {
    const entries = group.map((b) => ({ ...b, offset: b.offset - base, type: b.type === 'tree' ? 1 : 0 }));
    const opened = await pool.openRange(key, repo.keys.macKey, buf, entries as RangeBlob[], {
      discard: true,
    });
    return opened.map((o) => ('plain' in o ? null : o.error));
  }
  return group.map((b) => {
    try {
      decryptBlob(key, repo.keys.macKey, b, buf.subarray(b.offset - base, b.offset - base + b.length));
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  });
}
