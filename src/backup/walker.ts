/**
 * Walks host paths for a backup as a stream of SourceEntry, depth-first, with a few directory
 * listings in memory per level (the one being walked and up to OPEN_AHEAD opened ahead), so a tree
 * of a million files costs memory proportional to its depth and widest directories, not its size. The given paths are recorded as absolute, normalised paths;
 * their parent directories are recorded too, so a restore recreates `/home/ann/x` as
 * `<target>/home/ann/x`.
 *
 * Unreadable or vanished entries are reported through `ctx.warn` and skipped; special files are
 * recorded as `other` and never opened; regular files are opened with O_NOFOLLOW|O_NONBLOCK and
 * checked to still be the file that was listed.
 */
import { constants as C, promises as fsp } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UserError } from '../domain/errors.ts';
import { sharedBlobPool, type LstatResult } from './blob-workers.ts';
import { mtimeMsOf } from './mtime.ts';
import type { FileIdentity, SourceContext, SourceEntry, TreeNode } from './ports.ts';
import type { PatternSet } from './patterns.ts';
import { compareNames } from './tree.ts';

export interface WalkOptions {
  paths: string[];
  excludes?: PatternSet;
  /** A directory holding a file of one of these names is left out entirely. */
  excludeIfPresent?: string[];
  /** Do not descend into directories on another filesystem than the path they were reached from. */
  oneFileSystem?: boolean;
  /** Bytes per read() of file content. */
  readSize?: number;
}

/** Bytes per read: at least one max-size chunk, so zero runs are detected per block. */
const READ_SIZE = 1024 * 1024;
const STAT_BATCH = 256;

/** Absolute, normalised, de-duplicated paths; a path inside another given path is dropped. Sorted for the walk. */
export function normaliseRoots(paths: string[]): string[] {
  if (paths.length === 0) {
    throw new UserError('no paths to back up', { hint: 'name one or more files or directories' });
  }
  const abs = [...new Set(paths.map((p) => resolvePath(p)))];
  const sorted = abs.sort((a, b) => compareComponents(split(a), split(b)));
  const out: string[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last !== undefined && (last === '/' || p === last || p.startsWith(last + '/'))) continue;
    out.push(p);
  }
  return out;
}

function split(p: string): string[] {
  return p.split('/').filter((n) => n !== '');
}

function compareComponents(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareNames(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** The fields of an lstat the walk records (from a worker's batch, or fs.lstat). */
type Stat = LstatResult;

function toStat(st: BigIntStats): Stat {
  return {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    dev: st.dev,
    ino: st.ino,
    nlink: Number(st.nlink),
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
  };
}

export function nodeType(st: { mode: number }): TreeNode['type'] {
  switch (st.mode & C.S_IFMT) {
    case C.S_IFREG:
      return 'file';
    case C.S_IFDIR:
      return 'dir';
    case C.S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

function identityOf(st: Stat): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

function metaOf(st: Stat): SourceEntry['node'] {
  const type = nodeType(st);
  const meta: SourceEntry['node'] = {
    type,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: mtimeMsOf(st.mtimeNs),
    size: type === 'file' ? st.size : 0,
  };
  if (type === 'file' && st.nlink > 1) {
    meta.hardlink = { dev: Number(st.dev), ino: Number(st.ino), nlink: st.nlink };
  }
  return meta;
}

/** Checks the roots exist before anything is written, so a typo fails fast and cleanly. */
export async function checkRoots(roots: string[]): Promise<void> {
  for (const r of roots) {
    try {
      await fsp.lstat(r);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UserError(`cannot back up ${r}: ${code === 'ENOENT' ? 'no such file or directory' : code}`, {
        hint: 'check the path, or leave it out',
        code: 'not_found',
      });
    }
  }
}

export async function* walk(opts: WalkOptions, ctx: SourceContext): AsyncGenerator<SourceEntry> {
  const roots = normaliseRoots(opts.paths);
  const emitted: string[] = []; // ancestors already yielded, as a path stack
  for (const root of roots) {
    const comps = split(root);
    // Parent directories of the root, unless a previous root already yielded them.
    let common = 0;
    while (common < emitted.length && common < comps.length - 1 && emitted[common] === comps[common])
      common++;
    emitted.length = common;
    for (let i = common; i < comps.length - 1; i++) {
      const p = '/' + comps.slice(0, i + 1).join('/');
      let st: Stat;
      try {
        st = toStat(await fsp.lstat(p, { bigint: true }));
      } catch (err) {
        ctx.warn(p, err);
        break;
      }
      yield { path: comps.slice(0, i + 1), node: { ...metaOf(st), type: 'dir', size: 0 } };
      emitted.push(comps[i]!);
    }
    if (emitted.length !== comps.length - 1) continue;
    yield* walkTree(root, comps, opts, ctx);
  }
}

interface Listed {
  name: string;
  p: string;
  st: Stat;
  linkTarget?: string;
}

type Batch = (Listed | undefined)[];

/** A directory listed, with the lstat of its first batch of names asked for. */
interface Opened {
  names: string[];
  first: Promise<Batch>;
}

interface Frame {
  dir: string;
  comps: string[];
  names: string[];
  next: number;
  pending: Batch;
  pi: number;
  /** The lstat of the batch after `pending`, already asked for. */
  ahead: Promise<Batch> | undefined;
  /** Subdirectories in `pending` already being opened, by index; `pf` is the next index to consider. */
  opening: Map<number, Promise<Opened | undefined>>;
  pf: number;
}

/**
 * Directories opened ahead of the walk, per level: the listing and first lstat batch of the next
 * few subdirectories, and the next lstat batch of each directory, are in flight while the entries
 * before them are processed. Without it the walk waits on one round trip after another (readdir,
 * then lstat, per directory) and a no-change backup's main thread sat idle a third of the time.
 * Memory: per level of the walk's path, at most this many listings and lstat batches ahead.
 */
const OPEN_AHEAD = 4;

/** Marks a promise as handled: a lookahead the walk never reaches (it was stopped) must not crash the process. */
function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

function frameOf(dir: string, comps: string[], o: Opened): Frame {
  const f: Frame = {
    dir,
    comps,
    names: o.names,
    next: 0,
    pending: [],
    pi: 0,
    ahead: undefined,
    opening: new Map(),
    pf: 0,
  };
  if (o.names.length > 0) {
    f.next = Math.min(STAT_BATCH, o.names.length);
    f.ahead = o.first;
  }
  return f;
}

async function statEntry(p: string, name: string, ctx: SourceContext): Promise<Listed | undefined> {
  try {
    const st = toStat(await fsp.lstat(p, { bigint: true }));
    const out: Listed = { name, p, st };
    if (nodeType(st) === 'symlink') out.linkTarget = await fsp.readlink(p);
    return out;
  } catch (err) {
    ctx.warn(p, err);
    return undefined;
  }
}

/**
 * lstat of a batch of siblings (excluded ones left undefined): in one message to a blob worker when
 * there is one (a promise and a thread-pool round trip per entry cost the main thread more than the
 * syscall), else concurrently on the thread pool, which hides the per-call latency.
 */
async function statBatch(
  dir: string,
  names: string[],
  opts: WalkOptions,
  ctx: SourceContext,
): Promise<(Listed | undefined)[]> {
  const paths = names.map((name) => join(dir, name));
  const keep = paths.map((p) => !opts.excludes?.matches(p));
  const pool = sharedBlobPool({ lowPriority: ctx.lowPriority === true });
  if (!pool) return Promise.all(paths.map((p, i) => (keep[i] ? statEntry(p, names[i]!, ctx) : undefined)));
  const wanted = paths.filter((_, i) => keep[i]);
  const got = wanted.length > 0 ? await pool.lstatMany(wanted) : [];
  let k = 0;
  return paths.map((p, i) => {
    if (!keep[i]) return undefined;
    const r = got[k++]!;
    if (r instanceof Error) {
      ctx.warn(p, r);
      return undefined;
    }
    const out: Listed = { name: names[i]!, p, st: r };
    if (r.linkTarget !== undefined) out.linkTarget = r.linkTarget;
    return out;
  });
}

async function* walkTree(
  root: string,
  rootComps: string[],
  opts: WalkOptions,
  ctx: SourceContext,
): AsyncGenerator<SourceEntry> {
  if (rootComps.length > 0 && opts.excludes?.matches(root)) return;
  const first = await statEntry(root, rootComps.at(-1) ?? '', ctx);
  if (!first) return;
  const rootDev = first.st.dev;
  let rootNames: string[] | undefined = [];
  if (nodeType(first.st) === 'dir') {
    rootNames = await listDir(root, opts, ctx);
    if (rootNames === undefined) return; // excluded by a marker file
  }
  if (rootComps.length > 0) yield entryFor(first, rootComps, opts, ctx);
  const stack: Frame[] = [
    frameOf(root, rootComps, { names: rootNames, first: firstBatch(root, rootNames, opts, ctx) }),
  ];

  const openSubdir = (s: Listed): Promise<Opened | undefined> =>
    openDir(s.p, opts.oneFileSystem === true && s.st.dev !== rootDev, opts, ctx);
  // Opens the subdirectories of the current batch ahead of the walk, up to OPEN_AHEAD at a time.
  const openAhead = (f: Frame): void => {
    while (f.opening.size < OPEN_AHEAD && f.pf < f.pending.length) {
      const i = f.pf++;
      const s = f.pending[i];
      if (s && nodeType(s.st) === 'dir') f.opening.set(i, settled(openSubdir(s)));
    }
  };

  while (stack.length > 0) {
    if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('aborted');
    const top = stack[stack.length - 1]!;
    if (top.pi >= top.pending.length) {
      if (top.ahead === undefined) {
        stack.pop();
        continue;
      }
      top.pending = await top.ahead;
      top.pi = 0;
      top.pf = 0;
      top.opening.clear();
      top.ahead = undefined;
      if (top.next < top.names.length) {
        const batch = top.names.slice(top.next, top.next + STAT_BATCH);
        top.next += batch.length;
        top.ahead = settled(statBatch(top.dir, batch, opts, ctx));
      }
      openAhead(top);
      continue;
    }
    const i = top.pi++;
    const s = top.pending[i];
    if (!s) continue;
    const comps = [...top.comps, s.name];
    if (nodeType(s.st) === 'dir') {
      const opening = top.opening.get(i) ?? openSubdir(s);
      top.opening.delete(i);
      openAhead(top);
      const opened = await opening;
      if (opened === undefined) continue; // excluded by a marker file
      yield entryFor(s, comps, opts, ctx);
      // Depth-first: the rest of this directory waits until the subdirectory is done.
      stack.push(frameOf(s.p, comps, opened));
    } else {
      yield entryFor(s, comps, opts, ctx);
    }
  }
}

/** Lists a directory and asks for the lstat of its first batch; undefined when a marker file excludes it. */
async function openDir(
  dir: string,
  crossesDevice: boolean,
  opts: WalkOptions,
  ctx: SourceContext,
): Promise<Opened | undefined> {
  const names = crossesDevice ? [] : await listDir(dir, opts, ctx);
  if (names === undefined) return undefined;
  return { names, first: settled(firstBatch(dir, names, opts, ctx)) };
}

function firstBatch(dir: string, names: string[], opts: WalkOptions, ctx: SourceContext): Promise<Batch> {
  return names.length === 0 ? Promise.resolve([]) : statBatch(dir, names.slice(0, STAT_BATCH), opts, ctx);
}

function join(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}

/** Sorted names in a directory; [] when unreadable (warned); undefined when a marker file excludes it. */
async function listDir(dir: string, opts: WalkOptions, ctx: SourceContext): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    ctx.warn(dir, err);
    return [];
  }
  if (opts.excludeIfPresent?.some((m) => names.includes(m))) return undefined;
  return names.sort(compareNames);
}

function entryFor(s: Listed, comps: string[], opts: WalkOptions, ctx: SourceContext): SourceEntry {
  const node = metaOf(s.st);
  if (s.linkTarget !== undefined) node.linkTarget = s.linkTarget;
  const entry: SourceEntry = { path: comps, node };
  if (node.type === 'file') {
    const identity = identityOf(s.st);
    entry.identity = identity;
    entry.hostPath = s.p;
    entry.open = (signal) => readFile(s.p, identity, opts.readSize ?? READ_SIZE, ctx, signal);
  }
  return entry;
}

const OPEN_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;

async function openNoAtime(p: string): Promise<fsp.FileHandle> {
  // O_NOATIME keeps backups from disturbing atime-based tools, but only the owner (or root) may use it.
  try {
    return await fsp.open(p, OPEN_FLAGS | (C.O_NOATIME ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return fsp.open(p, OPEN_FLAGS);
  }
}

/**
 * Reads a file's content. Throws when it cannot be opened or is no longer the listed file; warns
 * (and yields what it read) when it changed while being read.
 */
async function* readFile(
  p: string,
  id: FileIdentity,
  readSize: number,
  ctx: SourceContext,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const fh = await openNoAtime(p);
  let held: Buffer[] = [];
  let inflight: Promise<unknown> | undefined;
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || st.ino !== id.ino || st.dev !== id.dev) {
      throw Object.assign(new Error('replaced by another file while the backup ran'), { code: 'EREPLACED' });
    }
    // Two buffers: the next block is read while the consumer chunks the current one. A yielded
    // buffer is reused once the consumer asks for the next block.
    // Small files get small buffers: eight files in flight then cost little memory.
    const bufSize = id.size < SMALL_READ ? SMALL_READ : readSize;
    const bufs = [takeBuffer(bufSize), takeBuffer(bufSize)];
    held = bufs;
    let cur = 0;
    let total = 0;
    let next: Promise<{ bytesRead: number }> | undefined = fh.read(bufs[0]!, 0, bufSize, null);
    inflight = next;
    while (next) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      total += bytesRead;
      const buf = bufs[cur]!;
      cur ^= 1;
      // A short read that reached the listed size is the end (one call fewer per small file);
      // growth after that is caught by the stat below.
      if (bytesRead < bufSize && total === id.size) next = undefined;
      else {
        next = fh.read(bufs[cur]!, 0, bufSize, null);
        inflight = next;
        // Until the consumer resumes us, `next` is settled only by this generator; keep it from rejecting unobserved.
        next.catch(() => undefined);
      }
      yield bytesRead === bufSize ? buf : buf.subarray(0, bytesRead);
    }
    const after = await fh.stat({ bigint: true });
    if (after.mtimeNs !== id.mtimeNs || Number(after.size) !== id.size || after.ctimeNs !== id.ctimeNs) {
      ctx.warn(
        p,
        Object.assign(new Error('changed while it was read; stored as read'), { code: 'ECHANGED' }),
      );
    }
  } finally {
    // A read may still be in flight into a buffer when the consumer stops early: let it land
    // before the buffers go back to the pool.
    await inflight?.catch(() => undefined);
    await fh.close();
    for (const b of held) giveBuffer(b);
  }
}

/**
 * Read buffers are recycled: a fresh multi-MiB buffer per file would make the garbage collector
 * the bottleneck on trees of many small files.
 */
const bufferPool = new Map<number, Buffer[]>();
const POOL_MAX = 16;
const SMALL_READ = 128 * 1024;

function takeBuffer(size: number): Buffer {
  return bufferPool.get(size)?.pop() ?? Buffer.allocUnsafe(size);
}

function giveBuffer(b: Buffer): void {
  let list = bufferPool.get(b.length);
  if (!list) bufferPool.set(b.length, (list = []));
  if (list.length < POOL_MAX) list.push(b);
}
