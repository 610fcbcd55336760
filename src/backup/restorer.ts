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
 * lstat-checked to be a real directory, never a symlink (a directory this restore just created is
 * not checked again); a file is created with O_CREAT|O_EXCL|O_NOFOLLOW and no final name ever holds
 * a partial file: a file of several chunks is created here under a temporary name, its chunks
 * written there by the blob workers, and it is renamed over its final name when complete; a file of
 * one chunk is created at its final name by the worker that opened its blob, only after the blob
 * is authenticated and matches its id, and removed by it if writing fails. An existing symlink or
 * hardlink in the target is replaced, never written through. Content is byte-exact; all-zero
 * chunks become holes (sparse files restore quickly); modes, mtimes (directories after their
 * contents), symlinks and hardlinks are restored; ownership only when running as root.
 *
 * Damaged data: a file whose content cannot be read (a blob that is altered or missing, a pack that
 * is gone) is left out, its temporary file removed; every other file is still restored. At the end
 * each file left out is reported through onWarning (by path, with the reason) and counted in
 * `failed`. A directory whose tree cannot be read is reported the same way. A failed write (disk
 * full, permissions) stops the restore; a stopped restore leaves no temporary file.
 *
 * Speed: files are gathered in batches (at most BATCH_FILES files and BATCH_CHUNKS chunk
 * references); each batch's blobs are read pack by pack in offset order (Repository.readBlobs, one
 * read per range) and opened on the blob workers, which also write them (restore-writer.ts): a
 * small file costs its five system calls on a worker and no main-thread round trip, adjacent
 * chunks of one file go out in one writev. The main thread walks the trees, plans the writes,
 * creates the temporary files and finishes the files of several chunks (WRITE_SLOTS at a time).
 * One batch is read while the walk gathers the next. Memory: two batches' file lists, readBlobs'
 * ranges in flight (one more than there are workers, each at most 1 MiB sealed and 4 MiB opened),
 * and at most WRITE_SLOTS open files on the main thread.
 */
import { randomBytes } from 'node:crypto';
import { constants as C, promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UserError } from '../domain/errors.ts';
import { utimeSecondsOf } from './mtime.ts';
import { PatternSet } from './patterns.ts';
import type { BlobId, BlobWrite, BlobWritten, Repository, SnapshotMeta, TreeNode } from './ports.ts';
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
  /** Files (and unreadable directories) left out because their data is damaged or missing. */
  failed: number;
  /** Bytes written (holes not counted). */
  bytesWritten: number;
  /** Total size of restored files. */
  bytesTotal: number;
  verified: number;
  warnings: number;
  durationMs: number;
}

const BATCH_FILES = 4096;
const BATCH_CHUNKS = 65536;
/**
 * Main-thread file operations (links, symlinks, finishing files of several chunks) in flight:
 * creating files is latency-bound, so several at once. Each holds at most one open file.
 */
const WRITE_SLOTS = 8;
/** Temporary names of files being written: `.<random>.ns-restore` next to the final name. */
const TEMP_SUFFIX = '.ns-restore';

/** Why a restore under this policy keeps an existing entry, in the words shown to users. */
export function keptReason(policy: OverwritePolicy): string {
  return policy === 'never'
    ? 'already present (--overwrite never keeps existing files)'
    : 'unchanged (same size and mtime as in the snapshot)';
}
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

/**
 * One file being restored. A file of one chunk is written whole by the worker that opens its blob
 * (restore-writer.ts); a larger one is created under `tmp`, its chunks written there by the workers,
 * and renamed to `dest` when every chunk is in.
 */
interface FileTask {
  node: TreeNode;
  sp: string;
  dest: string;
  /** The temporary name (files of several chunks). */
  tmp: string;
  /** Byte offset of each content chunk. */
  offsets: number[];
  /** Length of the content. */
  size: number;
  remaining: number;
  /** Chunk writes ordered from the workers and not yet answered. */
  busy: number;
  holes: boolean;
  /** The temporary file exists (or is being created). */
  created: boolean;
  creating?: Promise<void>;
  state: 'writing' | 'done' | 'failed';
  /** Other names of the same inode, linked to this one when it is done. */
  links: LinkTask[];
}

interface LinkTask {
  node: TreeNode;
  sp: string;
  dest: string;
}

interface DirMeta {
  dest: string;
  node: TreeNode;
  sp: string;
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
    failed: 0,
    bytesWritten: 0,
    bytesTotal: 0,
    verified: 0,
    warnings: 0,
    durationMs: 0,
  };
  /** Hardlink groups by (dev, ino): the task of the name written, or the path it was written to. */
  private readonly links = new Map<string, FileTask | string | null>();
  private readonly slots = new Semaphore(WRITE_SLOTS);
  private readonly inflight = new Set<Promise<void>>();
  /** Tasks not yet done or failed, for cleanup when the restore stops early. */
  private readonly unfinished = new Set<FileTask>();
  private batch: FileTask[] = [];
  /** Per chunk id of the batch: the files (and chunk indexes) that hold it. */
  private needs = new Map<BlobId, { task: FileTask; i: number }[]>();
  private batchChunks = 0;
  /** The batch being read (see flushBatch). */
  private reading: Promise<void> = Promise.resolve();
  private readonly dirMeta: DirMeta[] = [];
  private readonly failures: { path: string; why: string }[] = [];
  private fatal: unknown;
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
    try {
      await this.restoreTree(this.snapshot.tree, [], base, async () => false, this.include.empty);
      await this.flushBatch();
      // The last batch's failure surfaces here.
      await this.reading;
      await this.drain();
      this.checkFatal();
    } finally {
      await this.cleanup();
    }
    // Directories get their mode and mtime after their contents are written (deepest first).
    for (const d of this.dirMeta) await this.applyMeta(d.dest, d.node, d.sp);
    this.failures.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const f of this.failures) this.warn(f.path, `not restored: ${f.why}`);
    this.stats.failed = this.failures.length;
    this.stats.durationMs = Date.now() - this.started;
    this.progress(true);
    return { ...this.stats };
  }

  private checkAbort(): void {
    this.checkFatal();
    const s = this.opts.signal;
    if (s?.aborted) throw s.reason ?? new Error('restore aborted');
  }

  private checkFatal(): void {
    if (this.fatal !== undefined) throw this.fatal;
  }

  /** Runs `work` in a write slot; its failure stops the restore (at the next check). */
  private async spawn(work: () => Promise<void>): Promise<void> {
    await this.slots.acquire();
    const p = work()
      .catch((err: unknown) => {
        this.fatal ??= err;
      })
      .finally(() => {
        this.slots.release();
        this.inflight.delete(p);
      });
    this.inflight.add(p);
  }

  private async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /**
   * Restores the entries of one tree into `dir`. `ensureDir` creates `dir` (and, through the
   * closures, its parents) on first use and says whether this restore created it (then nothing
   * can be in the way of its entries), so include patterns create only directories on the way to
   * something restored; an included directory is created even when empty.
   */
  private async restoreTree(
    treeId: BlobId,
    comps: string[],
    dir: string,
    ensureDir: () => Promise<boolean>,
    included: boolean,
  ): Promise<void> {
    let tree;
    try {
      tree = await loadTree(this.repo, treeId);
    } catch (err) {
      if (err instanceof UserError && err.code !== 'damaged' && err.code !== 'corrupt') throw err;
      this.failures.push({
        path: snapPath(comps),
        why: `the directory's listing cannot be read: ${(err as Error).message}`,
      });
      return;
    }
    const names = new Set<string>();
    for (const n of tree.nodes) {
      const why = unsafeNameReason(n.name);
      if (why) throw unsafe(snapPath([...comps, n.name]), `the name ${why}`);
      if (names.has(n.name)) throw unsafe(snapPath([...comps, n.name]), 'it appears twice in one directory');
      names.add(n.name);
    }
    for (const node of tree.nodes) {
      this.checkAbort();
      const childComps = [...comps, node.name];
      const sp = snapPath(childComps);
      if (this.exclude.matches(sp)) continue;
      const inc = included || this.include.matches(sp);
      if (!inc && !(node.type === 'dir' && this.include.mayMatchBelow(sp))) continue;
      const dest = dir + '/' + node.name;
      if (node.type === 'file') {
        const fresh = await ensureDir();
        await this.addFile(node, sp, dest, fresh);
        continue;
      }
      if (node.type !== 'dir') {
        await ensureDir();
        await this.spawn(() => this.restoreLeaf(node, sp, dest));
        continue;
      }
      if (!node.subtree) continue;
      let made = false;
      let making: Promise<boolean> | undefined;
      const ensureChild = (): Promise<boolean> =>
        (making ??= (async () => {
          const parentFresh = await ensureDir();
          const existed = parentFresh
            ? (await this.makeDir(dest, sp), false)
            : await this.prepareDir(dest, sp);
          made = true;
          return !existed;
        })());
      if (inc) await ensureChild();
      await this.restoreTree(node.subtree, childComps, dest, ensureChild, inc);
      if (made) {
        this.dirMeta.push({ dest, node, sp });
        this.stats.dirs++;
      }
    }
  }

  /** Creates a directory (0700 while its contents are written) or checks the existing one is a real directory; true when it existed. */
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
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Something is there already (raced in, or left by a previous run): it must be a real directory.
    const st = await fsp.lstat(dest);
    if (!st.isDirectory()) throw unsafe(sp, `${dest} in the target is not a directory`);
  }

  private async restoreLeaf(node: TreeNode, sp: string, dest: string): Promise<void> {
    if (node.type === 'symlink') await this.restoreSymlink(node, sp, dest);
    else this.warn(sp, 'special file (device, socket or fifo) not restored');
  }

  /**
   * Whether `dest` may be replaced according to the overwrite policy (a directory in the way is
   * removed when it may); false when what is there must be kept.
   */
  private async mayReplace(dest: string, node: TreeNode): Promise<boolean> {
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
    return true;
  }

  /** Clears the way for a new entry according to the overwrite policy; false when it must be kept. */
  private async clearSlot(dest: string, node: TreeNode): Promise<boolean> {
    if (!(await this.mayReplace(dest, node))) return false;
    await fsp.rm(dest, { force: true });
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
    const t = utimeSecondsOf(node.mtimeMs);
    await fsp.lutimes(dest, t, t).catch(() => undefined);
    this.stats.symlinks++;
  }

  /**
   * Runs an exclusive create (link, symlink). When something is already there, the overwrite
   * policy decides: undefined means it is kept. Trying first saves an lstat per entry on a fresh
   * restore.
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

  private skip(node: TreeNode, sp: string): void {
    this.stats.skipped++;
    this.countFile(node.size, sp);
  }

  /** Plans one file: decides the overwrite policy, then queues its chunks in the current batch. */
  private async addFile(node: TreeNode, sp: string, dest: string, fresh: boolean): Promise<void> {
    const h = node.hardlink;
    const key = h ? `${h.dev}:${h.ino}` : undefined;
    if (key !== undefined && this.links.has(key)) {
      const first = this.links.get(key)!;
      const link: LinkTask = { node, sp, dest };
      if (first === null)
        this.failures.push({ path: sp, why: 'it is a hardlink of a file that could not be restored' });
      else if (typeof first === 'string') await this.spawn(() => this.makeLink(first, link));
      else first.links.push(link);
      return;
    }
    if (!fresh && !(await this.mayReplace(dest, node))) {
      this.skip(node, sp);
      return;
    }
    const content = node.content ?? [];
    const offsets: number[] = [];
    let pos = 0;
    for (const id of content) {
      const size = this.repo.blobSize(id);
      if (size === undefined) {
        if (key !== undefined) this.links.set(key, null);
        this.failures.push({ path: sp, why: `its data (blob ${id.slice(0, 16)}) is not in the repository` });
        return;
      }
      offsets.push(pos);
      pos += size;
    }
    const slash = dest.lastIndexOf('/');
    const task: FileTask = {
      node,
      sp,
      dest,
      tmp:
        content.length > 1
          ? `${dest.slice(0, slash + 1)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`
          : dest,
      offsets,
      size: pos,
      remaining: content.length,
      busy: 0,
      holes: false,
      created: false,
      state: 'writing',
      links: [],
    };
    if (key !== undefined) this.links.set(key, task);
    this.unfinished.add(task);
    if (content.length === 0) {
      await this.spawn(() => this.finish(task));
      return;
    }
    if (this.batch.length >= BATCH_FILES) await this.flushBatch();
    this.batch.push(task);
    for (let i = 0; i < content.length; i++) {
      const id = content[i]!;
      let list = this.needs.get(id);
      if (!list) this.needs.set(id, (list = []));
      list.push({ task, i });
      // A very large file may span batches: its remaining chunks go into the next one.
      if (++this.batchChunks >= BATCH_CHUNKS) await this.flushBatch();
    }
  }

  /**
   * Hands the gathered batch over to be read, once the batch before it is read: one batch is read
   * while the walk gathers the next. (Reading each batch before gathering the next left the blob
   * workers idle for ~30% of a restore: the walk of the next 4,096 files, and the tail of each
   * batch's reads, happened with nothing else to do.)
   */
  private async flushBatch(): Promise<void> {
    const needs = this.needs;
    this.needs = new Map();
    this.batch = [];
    this.batchChunks = 0;
    if (needs.size === 0) return;
    await this.reading;
    const reading = this.readBatch(needs);
    // Its failure surfaces at the next flush, or at the end of `run`.
    reading.catch(() => undefined);
    this.reading = reading;
  }

  /**
   * Reads a batch's blobs pack by pack; the worker that opens a blob writes it where the batch's
   * files need it (`plan`), and its answer is booked here (`booked`).
   */
  private async readBatch(needs: Map<BlobId, { task: FileTask; i: number }[]>): Promise<void> {
    const delivered = new Set<BlobId>();
    /** Per blob: the targets its writes were ordered for, in the order of the writes. */
    const planned = new Map<BlobId, { task: FileTask; i: number }[]>();
    const plan = async (id: BlobId): Promise<BlobWrite[] | undefined> => {
      const writes: BlobWrite[] = [];
      const targets: { task: FileTask; i: number }[] = [];
      for (const t of needs.get(id) ?? []) {
        const { task } = t;
        if (task.state !== 'writing') continue;
        if (task.offsets.length === 1) {
          const { node } = task;
          const owner = isRoot && (node.uid !== 0 || node.gid !== 0) ? { uid: node.uid, gid: node.gid } : {};
          writes.push({
            t: 'file',
            path: task.dest,
            mode: node.mode & 0o7777,
            mtimeMs: node.mtimeMs,
            ...owner,
          });
        } else {
          await this.createTemp(task);
          if ((task.state as FileTask['state']) !== 'writing') continue;
          task.busy++;
          writes.push({ t: 'part', path: task.tmp, pos: task.offsets[t.i]! });
        }
        targets.push(t);
      }
      planned.set(id, targets);
      return writes.length > 0 ? writes : undefined;
    };
    await this.repo.readBlobs(
      needs.keys(),
      async (id, r) => {
        delivered.add(id);
        const targets = planned.get(id) ?? [];
        if ('written' in r) {
          for (let k = 0; k < targets.length; k++) await this.booked(targets[k]!, r.written[k] ?? {});
        } else {
          // Not written: its part writes are answered.
          for (const t of targets) if (t.task.offsets.length > 1) this.settle(t.task);
          if ('error' in r) for (const t of needs.get(id)!) this.fail(t.task, r.error.message);
        }
        this.checkAbort();
      },
      { plan },
    );
    for (const [id, targets] of needs) {
      if (!delivered.has(id))
        for (const t of targets) this.fail(t.task, `blob ${id.slice(0, 16)} was not read`);
    }
  }

  /** Creates the temporary file of a file of several chunks, once. */
  private createTemp(task: FileTask): Promise<void> {
    task.created = true;
    return (task.creating ??= (async () => {
      const fh = await fsp.open(task.tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      await fh.close();
    })());
  }

  /** A chunk write of a file of several chunks was answered: a failed file goes once none is left. */
  private settle(task: FileTask): void {
    if (--task.busy === 0 && task.state === 'failed') void this.spawn(() => this.discard(task));
  }

  /** Books the outcome of one write a worker made. A failed system call stops the restore. */
  private async booked(t: { task: FileTask; i: number }, w: BlobWritten): Promise<void> {
    const { task } = t;
    const whole = task.offsets.length === 1;
    if (!whole) this.settle(task);
    if (w.error !== undefined) {
      this.fatal ??= Object.assign(new Error(w.error), w.code ? { code: w.code } : {});
      return;
    }
    if (task.state !== 'writing') return;
    if (w.ownership !== undefined) this.warn(task.sp, `ownership: ${w.ownership}`);
    const len = (t.i + 1 < task.offsets.length ? task.offsets[t.i + 1]! : task.size) - task.offsets[t.i]!;
    if (w.hole) task.holes = true;
    else this.stats.bytesWritten += len;
    if (--task.remaining > 0) {
      this.progress(false, task.sp);
      return;
    }
    if (whole) await this.done(task);
    else await this.spawn(() => this.finish(task));
  }

  /** All chunks of a file of several chunks (or an empty file) are in: length, metadata, final name. */
  private async finish(task: FileTask): Promise<void> {
    const { node, sp } = task;
    if (task.state !== 'writing') return;
    const flags = C.O_WRONLY | C.O_NOFOLLOW;
    let fh: fsp.FileHandle;
    if (task.offsets.length > 1) fh = await fsp.open(task.tmp, flags);
    else {
      // An empty file: created at its final name (what the overwrite policy allows to replace goes).
      task.created = true;
      const make = (): Promise<fsp.FileHandle> => fsp.open(task.dest, flags | C.O_CREAT | C.O_EXCL, 0o600);
      fh = await make().catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        await fsp.rm(task.dest, { force: true });
        return make();
      });
    }
    try {
      // Sets the length when zero chunks were skipped as holes.
      if (task.holes) await fh.truncate(task.size);
      await fh.chmod(node.mode & 0o7777);
      if (isRoot && (node.uid !== 0 || node.gid !== 0))
        await fh.chown(node.uid, node.gid).catch((e) => this.warn(sp, `ownership: ${e.code}`));
      const t = utimeSecondsOf(node.mtimeMs);
      await fh.utimes(t, t);
    } finally {
      await fh.close();
    }
    if (task.tmp !== task.dest) await fsp.rename(task.tmp, task.dest);
    await this.done(task);
  }

  /** A file is complete under its final name. */
  private async done(task: FileTask): Promise<void> {
    const { node, sp } = task;
    task.state = 'done';
    this.unfinished.delete(task);
    if (task.size !== node.size)
      this.warn(sp, `content is ${task.size} bytes but the snapshot records ${node.size}`);
    this.stats.files++;
    this.stats.filesWritten++;
    this.countFile(node.size, sp, false);
    const key = node.hardlink ? `${node.hardlink.dev}:${node.hardlink.ino}` : undefined;
    if (key !== undefined) this.links.set(key, task.dest);
    if (!this.opts.verify && task.links.length === 0) return;
    await this.spawn(async () => {
      if (this.opts.verify) {
        const content = node.content ?? [];
        await this.verifyFile(
          task.dest,
          sp,
          content,
          content.map((id) => this.repo.blobSize(id)!),
        );
      }
      for (const l of task.links) await this.makeLink(task.dest, l);
    });
  }

  private async makeLink(first: string, l: LinkTask): Promise<void> {
    if (!(await this.create(l.dest, l.node, () => fsp.link(first, l.dest)))) return this.skip(l.node, l.sp);
    this.stats.hardlinks++;
    this.stats.filesWritten++;
    this.countFile(l.node.size, l.sp);
  }

  /** Leaves a file out: what was written of it goes once no write is using it; its other names are left out too. */
  private fail(task: FileTask, why: string): void {
    if (task.state !== 'writing') return;
    task.state = 'failed';
    this.unfinished.delete(task);
    this.failures.push({ path: task.sp, why });
    for (const l of task.links)
      this.failures.push({ path: l.sp, why: `it is a hardlink of ${task.sp}, which could not be restored` });
    const h = task.node.hardlink;
    if (h) this.links.set(`${h.dev}:${h.ino}`, null);
    if (task.busy === 0) void this.spawn(() => this.discard(task));
  }

  private async discard(task: FileTask): Promise<void> {
    if (task.busy > 0) return;
    if (task.created) await task.creating?.catch(() => undefined);
    if (task.created) await fsp.rm(task.tmp, { force: true });
    task.created = false;
  }

  /**
   * After a stop (error, abort): no temporary or partial file stays behind. readBlobs has returned,
   * so no worker is still writing; a file of one chunk a worker wrote is complete under its name.
   */
  private async cleanup(): Promise<void> {
    // A stopped restore: the batch still being read writes into temporary files removed below.
    await this.reading.catch(() => undefined);
    await this.drain().catch(() => undefined);
    for (const t of this.unfinished) {
      if (t.created) await t.creating?.catch(() => undefined);
      if (t.created) await fsp.rm(t.tmp, { force: true }).catch(() => undefined);
    }
    this.unfinished.clear();
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
    const t = utimeSecondsOf(node.mtimeMs);
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
