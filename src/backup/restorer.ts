/**
 * The restorer: writes a snapshot (or the parts selected by include/exclude patterns) into a
 * target directory.
 *
 * API (used by the backup CLI and restore drills):
 *   restore(repo, snapshot, opts): Promise<RestoreStats>
 *     opts.target      directory to restore into (created if missing)
 *     opts.include     patterns (patterns.ts) on snapshot paths, e.g. "/home/ann/notes"; default all
 *     opts.exclude     patterns to leave out
 *     opts.overwrite   'always' (default) | 'if-changed' (same size and mtime: kept) | 'never'
 *     opts.verify      re-read every written file and compare its chunk ids with the snapshot
 *     opts.onProgress  files/bytes done (totals from the snapshot summary when restoring it whole)
 *     opts.onWarning   entries that could not be restored (special files, ownership)
 *
 * Safety: the restore never writes outside the target. Tree names that are empty, `.`, `..`,
 * contain `/` or NUL are refused (UserError naming the path); every directory on the way is
 * lstat-checked to be a real directory, never a symlink; files are created with
 * O_CREAT|O_EXCL|O_NOFOLLOW after removing what was there, so an existing symlink or hardlink in
 * the target is replaced, never written through. Content is byte-exact; all-zero chunks become
 * holes (sparse files restore quickly); modes, mtimes (directories after their contents), symlinks
 * and hardlinks are restored; ownership only when running as root.
 */
import { constants as C, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UserError } from '../domain/errors.ts';
import { PatternSet } from './patterns.ts';
import type { BlobId, Repository, SnapshotMeta, TreeNode } from './ports.ts';
import { loadTree, unsafeNameReason } from './tree.ts';
import { Semaphore } from './semaphore.ts';

export type OverwritePolicy = 'always' | 'if-changed' | 'never';

export interface RestoreOptions {
  target: string;
  include?: string[];
  exclude?: string[];
  verify?: boolean;
  overwrite?: OverwritePolicy;
  onProgress?: (p: RestoreProgress) => void;
  onWarning?: (w: { path: string; message: string }) => void;
  signal?: AbortSignal;
}

export interface RestoreProgress {
  files: number;
  dirs: number;
  bytesWritten: number;
  bytesDone: number;
  totalFiles?: number;
  totalBytes?: number;
  current?: string;
}

export interface RestoreStats {
  /** Files in the restored selection: those written plus existing ones kept (`skipped`). */
  files: number;
  /** Files (and hard links) actually written by this restore. */
  filesWritten: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Existing files left alone by the overwrite policy. */
  skipped: number;
  /** Bytes written (holes not counted). */
  bytesWritten: number;
  /** Total size of restored files. */
  bytesTotal: number;
  verified: number;
  warnings: number;
  durationMs: number;
}

/** Why a restore under this policy keeps an existing entry, in the words shown to users. */
export function keptReason(policy: OverwritePolicy): string {
  return policy === 'never'
    ? 'already present (--overwrite never keeps existing files)'
    : 'unchanged (same size and mtime as in the snapshot)';
}

const PREFETCH = 4;
const isRoot = process.getuid?.() === 0;

export async function restore(
  repo: Repository,
  snapshot: SnapshotMeta,
  opts: RestoreOptions,
): Promise<RestoreStats> {
  const r = new Restorer(repo, snapshot, opts);
  return r.run();
}

/** Refusal of a path that could escape the target or write through a link. */
function unsafe(path: string, why: string): UserError {
  return new UserError(`refusing to restore ${JSON.stringify(path)}: ${why}`, {
    hint: 'the snapshot holds a path that would write outside the target; nothing was written there',
    exitCode: 1,
    code: 'unsafe_path',
  });
}

class Restorer {
  private readonly include: PatternSet;
  private readonly exclude: PatternSet;
  private readonly overwrite: OverwritePolicy;
  private readonly stats: RestoreStats = {
    files: 0,
    filesWritten: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    skipped: 0,
    bytesWritten: 0,
    bytesTotal: 0,
    verified: 0,
    warnings: 0,
    durationMs: 0,
  };
  private readonly links = new Map<string, Promise<string | undefined>>();
  private readonly slots = new Semaphore(8);
  /** Chunk ids known to be all zeros, with their size: written as holes without loading. */
  private readonly zeroChunks = new Map<BlobId, number>();
  private lastProgress = 0;
  private readonly started = Date.now();

  constructor(
    private readonly repo: Repository,
    private readonly snapshot: SnapshotMeta,
    private readonly opts: RestoreOptions,
  ) {
    this.include = new PatternSet(opts.include ?? []);
    this.exclude = new PatternSet(opts.exclude ?? []);
    const ow = opts.overwrite ?? 'always';
    if (!['always', 'if-changed', 'never'].includes(ow)) {
      throw new UserError(`invalid overwrite policy ${JSON.stringify(ow)}`, {
        hint: 'use always, if-changed or never',
      });
    }
    this.overwrite = ow;
  }

  async run(): Promise<RestoreStats> {
    if (!this.repo.canRead) {
      throw new UserError('this repository is encrypted to recipients; restoring needs --identity FILE', {
        hint: 'run the restore where the age identity is available, with --identity FILE',
        exitCode: 5,
        code: 'needs_identity',
      });
    }
    const target = resolvePath(this.opts.target);
    try {
      await fsp.mkdir(target, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UserError(`cannot create the restore target ${target}: ${(err as Error).message}`, {
        hint: 'choose a directory you can write',
      });
    }
    // The target itself may be reached through links the user chose; everything below it may not.
    const base = await fsp.realpath(target);
    const st = await fsp.lstat(base);
    if (!st.isDirectory()) throw new UserError(`the restore target ${target} is not a directory`);
    await this.restoreTree(this.snapshot.tree, [], base, async () => undefined, this.include.empty);
    this.stats.durationMs = Date.now() - this.started;
    this.progress(true);
    return { ...this.stats };
  }

  private checkAbort(): void {
    const s = this.opts.signal;
    if (s?.aborted) throw s.reason ?? new Error('restore aborted');
  }

  /**
   * Restores the entries of one tree into `dir`. `ensureDir` creates `dir` (and, through the
   * closures, its parents) on first use, so include patterns create only directories on the way to
   * something restored; an included directory is created even when empty.
   */
  private async restoreTree(
    treeId: BlobId,
    comps: string[],
    dir: string,
    ensureDir: () => Promise<void>,
    included: boolean,
  ): Promise<void> {
    const tree = await loadTree(this.repo, treeId);
    const names = new Set<string>();
    for (const n of tree.nodes) {
      const why = unsafeNameReason(n.name);
      if (why) throw unsafe(snapPath([...comps, n.name]), `the name ${why}`);
      if (names.has(n.name)) throw unsafe(snapPath([...comps, n.name]), 'it appears twice in one directory');
      names.add(n.name);
    }
    // Files of one directory are written a few at a time; the directory's own metadata waits for all of them.
    const writing: Promise<void>[] = [];
    for (const node of tree.nodes) {
      this.checkAbort();
      const childComps = [...comps, node.name];
      const sp = snapPath(childComps);
      if (this.exclude.matches(sp)) continue;
      const inc = included || this.include.matches(sp);
      if (!inc && !(node.type === 'dir' && this.include.mayMatchBelow(sp))) continue;
      const dest = dir + '/' + node.name;
      if (node.type !== 'dir') {
        await ensureDir();
        await this.slots.acquire();
        const w = this.restoreLeaf(node, sp, dest).finally(() => this.slots.release());
        w.catch(() => undefined);
        writing.push(w);
        continue;
      }
      if (!node.subtree) continue;
      let made = false;
      let making: Promise<void> | undefined;
      const ensureChild = (): Promise<void> =>
        (making ??= (async () => {
          await ensureDir();
          await this.prepareDir(dest, sp);
          made = true;
        })());
      if (inc) await ensureChild();
      await this.restoreTree(node.subtree, childComps, dest, ensureChild, inc);
      if (made) {
        // Directories get their mode and mtime after their contents are written.
        await this.applyMeta(dest, node, sp);
        this.stats.dirs++;
      }
    }
    for (const r of await Promise.allSettled(writing)) if (r.status === 'rejected') throw r.reason;
  }

  /** Creates a directory (0700 while its contents are written) or checks the existing one is a real directory. */
  private async prepareDir(dest: string, sp: string): Promise<boolean> {
    let st: Stats | undefined;
    try {
      st = await fsp.lstat(dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st?.isDirectory()) return true;
    if (st?.isSymbolicLink())
      throw unsafe(sp, `${dest} in the target is a symlink; a restore never writes through one`);
    if (st) {
      if (this.overwrite !== 'always') throw unsafe(sp, `${dest} exists and is not a directory`);
      await fsp.unlink(dest);
    }
    await this.makeDir(dest, sp);
    return false;
  }

  private async makeDir(dest: string, sp: string): Promise<void> {
    try {
      await fsp.mkdir(dest, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Re-check: whatever is there now must be a real directory, not a link someone raced in.
    const st = await fsp.lstat(dest);
    if (!st.isDirectory()) throw unsafe(sp, `${dest} in the target is not a directory`);
  }

  private async restoreLeaf(node: TreeNode, sp: string, dest: string): Promise<void> {
    if (node.type === 'file') await this.restoreFile(node, sp, dest);
    else if (node.type === 'symlink') await this.restoreSymlink(node, sp, dest);
    else this.warn(sp, 'special file (device, socket or fifo) not restored');
  }

  /** Clears the way for a new entry according to the overwrite policy; false when it must be kept. */
  private async clearSlot(dest: string, node: TreeNode): Promise<boolean> {
    let st: Stats;
    try {
      st = await fsp.lstat(dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    if (this.overwrite === 'never') return false;
    if (
      this.overwrite === 'if-changed' &&
      node.type === 'file' &&
      st.isFile() &&
      st.size === node.size &&
      Math.abs(st.mtimeMs - node.mtimeMs) < 1
    ) {
      return false;
    }
    if (st.isDirectory()) await fsp.rm(dest, { recursive: true });
    else await fsp.unlink(dest);
    return true;
  }

  private async restoreSymlink(node: TreeNode, sp: string, dest: string): Promise<void> {
    const made = await this.create(dest, node, async () => {
      await fsp.symlink(node.linkTarget ?? '', dest);
      return true;
    });
    if (!made) {
      this.stats.skipped++;
      return;
    }
    if (isRoot)
      await fsp.lchown(dest, node.uid, node.gid).catch((e) => this.warn(sp, `ownership: ${e.code}`));
    const t = node.mtimeMs / 1000;
    await fsp.lutimes(dest, t, t).catch(() => undefined);
    this.stats.symlinks++;
  }

  private async restoreFile(node: TreeNode, sp: string, dest: string): Promise<void> {
    const h = node.hardlink;
    const key = h ? `${h.dev}:${h.ino}` : undefined;
    const first = key ? await this.links.get(key) : undefined;
    if (first !== undefined) {
      if (!(await this.create(dest, node, () => fsp.link(first, dest)))) return this.skip(node, sp);
      this.stats.hardlinks++;
      this.stats.filesWritten++;
      this.countFile(node.size, sp);
      return;
    }
    // Other names of this inode wait for it and link to it (or write their own copy if this fails).
    let written: (name: string | undefined) => void = () => undefined;
    if (key) this.links.set(key, new Promise<string | undefined>((r) => (written = r)));
    try {
      const done = await this.writeFile(node, sp, dest);
      written(done ? dest : undefined);
    } catch (err) {
      written(undefined);
      throw err;
    }
  }

  private skip(node: TreeNode, sp: string): void {
    this.stats.skipped++;
    this.countFile(node.size, sp);
  }

  /**
   * Runs an exclusive create (O_EXCL open, link, symlink). When something is already there, the
   * overwrite policy decides: undefined means it is kept. Trying first saves an lstat per file on
   * a fresh restore.
   */
  private async create<T>(dest: string, node: TreeNode, make: () => Promise<T>): Promise<T | undefined> {
    try {
      return await make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!(await this.clearSlot(dest, node))) return undefined;
    return make();
  }

  /** Writes a file's content and metadata; false when an existing file was kept. */
  private async writeFile(node: TreeNode, sp: string, dest: string): Promise<boolean> {
    const fh = await this.create(dest, node, () =>
      fsp.open(dest, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600),
    );
    if (!fh) {
      this.skip(node, sp);
      return false;
    }
    const sizes: number[] = [];
    try {
      const content = node.content ?? [];
      let pos = 0;
      let holeAtEnd = false;
      // Loads a few chunks ahead so decryption overlaps with writing.
      const loads = new Map<number, Promise<Uint8Array | number>>();
      const load = (i: number): void => {
        const id = content[i];
        if (id === undefined || loads.has(i)) return;
        const z = this.zeroChunks.get(id);
        loads.set(i, z !== undefined ? Promise.resolve(z) : this.repo.loadBlob(id));
        loads.get(i)!.catch(() => undefined);
      };
      for (let i = 0; i < content.length; i++) {
        this.checkAbort();
        for (let k = i; k < Math.min(content.length, i + PREFETCH); k++) load(k);
        const data = await loads.get(i)!;
        loads.delete(i);
        if (typeof data === 'number') {
          pos += data; // a hole
          sizes.push(data);
          holeAtEnd = true;
          continue;
        }
        if (isZero(data)) {
          this.zeroChunks.set(content[i]!, data.length);
          holeAtEnd = true;
        } else {
          await writeAll(fh, data, pos);
          this.stats.bytesWritten += data.length;
          holeAtEnd = false;
        }
        pos += data.length;
        sizes.push(data.length);
        this.progress(false, sp);
      }
      if (pos !== node.size) {
        this.warn(sp, `content is ${pos} bytes but the snapshot records ${node.size}`);
      }
      // Sets the length when trailing zero chunks were skipped as a hole.
      if (holeAtEnd) await fh.truncate(pos);
      await fh.chmod(node.mode & 0o7777);
      if (isRoot && (node.uid !== 0 || node.gid !== 0))
        await fh.chown(node.uid, node.gid).catch((e) => this.warn(sp, `ownership: ${e.code}`));
      const t = node.mtimeMs / 1000;
      await fh.utimes(t, t);
    } finally {
      await fh.close();
    }
    if (this.opts.verify) await this.verifyFile(dest, sp, node.content ?? [], sizes);
    this.stats.files++;
    this.stats.filesWritten++;
    this.countFile(node.size, sp, false);
    return true;
  }

  /** Re-reads a restored file chunk by chunk and compares each chunk's id with the snapshot. */
  private async verifyFile(dest: string, sp: string, ids: BlobId[], sizes: number[]): Promise<void> {
    const fh = await fsp.open(dest, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      let pos = 0;
      for (let i = 0; i < ids.length; i++) {
        const buf = Buffer.alloc(sizes[i]!);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead !== buf.length || this.repo.blobId(buf) !== ids[i]) {
          throw new UserError(`verification failed: ${sp} differs from the snapshot at byte ${pos}`, {
            hint: 'the target disk may be failing, or the file was changed during the restore',
            exitCode: 1,
            code: 'verify_failed',
          });
        }
        pos += buf.length;
      }
      const st = await fh.stat();
      if (st.size !== pos)
        throw new UserError(`verification failed: ${sp} has ${st.size} bytes, expected ${pos}`);
    } finally {
      await fh.close();
    }
    this.stats.verified++;
  }

  private async applyMeta(dest: string, node: TreeNode, sp: string): Promise<void> {
    if (isRoot)
      await fsp.lchown(dest, node.uid, node.gid).catch((e) => this.warn(sp, `ownership: ${e.code}`));
    await fsp.chmod(dest, node.mode & 0o7777);
    const t = node.mtimeMs / 1000;
    await fsp.utimes(dest, t, t);
  }

  private countFile(size: number, sp: string, asFile = true): void {
    if (asFile) this.stats.files++;
    this.stats.bytesTotal += size;
    this.progress(false, sp);
  }

  private warn(path: string, message: string): void {
    this.stats.warnings++;
    this.opts.onWarning?.({ path, message });
  }

  private progress(force: boolean, current?: string): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const now = Date.now();
    if (!force && now - this.lastProgress < 100) return;
    this.lastProgress = now;
    const whole = this.include.empty && this.exclude.empty && this.snapshot.summary;
    cb({
      files: this.stats.files,
      dirs: this.stats.dirs,
      bytesWritten: this.stats.bytesWritten,
      bytesDone: this.stats.bytesTotal,
      ...(whole
        ? { totalFiles: this.snapshot.summary!.files, totalBytes: this.snapshot.summary!.bytesTotal ?? 0 }
        : {}),
      ...(current !== undefined ? { current } : {}),
    });
  }
}

function snapPath(comps: string[]): string {
  return '/' + comps.join('/');
}

async function writeAll(fh: fsp.FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, pos + off);
    off += bytesWritten;
  }
}

const ZEROS = Buffer.alloc(64 * 1024);

function isZero(b: Uint8Array): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (Buffer.compare(b.subarray(off, off + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}
