/**
 * The archiver: turns a source (host paths, a stdin stream) into a snapshot.
 *
 * API (used by the backup CLI and the backup payload):
 *   backup(repo, opts): Promise<{ snapshot: SnapshotMeta; stats: BackupStats }>
 *     opts.paths             host paths (recorded absolute and normalised), or
 *     opts.stdin             { stream, name }: one file named `name` from a stream, or
 *     opts.source            any other Source (database dumps, later)
 *     opts.excludes          glob patterns (patterns.ts); opts.excludeFiles: files of patterns
 *     opts.excludeIfPresent  marker file names; opts.oneFileSystem
 *     opts.tags, opts.host   recorded on the snapshot; opts.parent: recorded as its parent
 *     opts.filesCache        FilesCache.open(dir): unchanged files are not read again
 *     opts.onProgress        Progress after each file (throttled) and once at the end
 *     opts.onWarning         a path that could not be read (skipped; counted in stats.errors)
 *     opts.signal            aborts; no snapshot is written
 *
 * Content is chunked with the repository's chunker; runs of zeros (sparse files) become
 * max-size zero chunks without hashing each one. Trees are written bottom-up as directories
 * complete, so memory stays proportional to the walk's depth. Host files are read, chunked and
 * hashed on the blob worker threads (`Repository.readHostFile`), several at once; the main thread
 * walks and decides which chunks are new, in file order, and the worker that read a new chunk
 * compresses and seals it: chunk bytes never cross threads, only sealed ones do.
 * Other sources (streams, dumps) and a process without workers chunk on the main thread.
 */
import { hostname as osHostname, userInfo } from 'node:os';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Clock } from '../domain/clock.ts';
import { SystemClock } from '../domain/clock.ts';
import { UserError } from '../domain/errors.ts';
import type { FilesCache } from './files-cache.ts';
import { parsePatternFile, PatternSet } from './patterns.ts';
import type {
  BlobId,
  FileStep,
  HostFileReader,
  Repository,
  SnapshotMeta,
  Source,
  SourceContext,
  SourceEntry,
  StreamChunker,
  TreeNode,
} from './ports.ts';
import { FilesSource } from './sources/files.ts';
import { StdinSource } from './sources/stdin.ts';
import { StreamsSource, type VirtualStream } from './sources/streams.ts';
import { encodeTree } from './tree.ts';
import { checkRoots } from './walker.ts';
import { Semaphore } from './semaphore.ts';
import { sharedBlobPool } from './blob-workers.ts';

export interface BackupOptions {
  paths?: string[];
  excludes?: string[];
  excludeFiles?: string[];
  excludeIfPresent?: string[];
  oneFileSystem?: boolean;
  tags?: string[];
  host?: string;
  stdin?: { stream: Readable | AsyncIterable<Uint8Array>; name: string };
  source?: Source;
  /** Streamed files under virtual paths (database dumps...), beside `paths` or alone. */
  streams?: VirtualStream[];
  filesCache?: FilesCache;
  parent?: SnapshotMeta;
  onProgress?: (p: Progress) => void;
  onWarning?: (w: BackupWarning) => void;
  signal?: AbortSignal;
  clock?: Clock;
  /**
   * Files read at the same time. Default 256 when files are read on worker threads, at most 32 MiB
   * of them under 1 MiB (requests made in one turn travel as one message, so more files in flight
   * mean fewer messages and fewer idle threads), else 8.
   */
  concurrency?: number;
}

export interface Progress {
  files: number;
  dirs: number;
  bytesRead: number;
  /** Bytes of files done, including unchanged files that were not read. */
  bytesDone: number;
  errors: number;
  /** The file being read most recently. */
  current?: string;
  /** Known only when the source can tell in advance. */
  totalFiles?: number;
  totalBytes?: number;
  elapsedMs: number;
}

export interface BackupWarning {
  path: string;
  message: string;
  /** 'changed': stored as read while it changed; 'error': skipped. */
  kind: 'error' | 'changed';
}

export interface BackupStats {
  files: number;
  dirs: number;
  symlinks: number;
  others: number;
  /** Files whose content came from the files cache without reading. */
  filesUnchanged: number;
  bytesRead: number;
  /** Total size of all files in the snapshot. */
  bytesTotal: number;
  /** Plaintext bytes of blobs the repository did not have yet. */
  bytesNew: number;
  /** Bytes those new blobs take in the repository (compressed, encrypted). */
  bytesStored: number;
  chunksNew: number;
  treesNew: number;
  errors: number;
  changed: number;
  durationMs: number;
  [key: string]: number;
}

export interface BackupResult {
  snapshot: SnapshotMeta;
  stats: BackupStats;
}

const WINDOW_PER_FILE = 4;
const BIG_FILE = 1024 * 1024;
/**
 * Files in flight when they are read on workers, and the bytes of those under BIG_FILE among them.
 * The 1 GiB dataset's first backup: 8 files 7.55 s, 32 files 6.4-6.5 s, 128 files 5.8-5.9 s,
 * 256 files 5.7 s (2 cores); the small files' round trips to the workers were what the threads
 * waited on.
 */
const FILES_IN_FLIGHT = 256;
const SMALL_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/** Bytes per read of a host file (walker.ts reads the same): zero runs are detected per block. */
const READ_SIZE = 1024 * 1024;
/**
 * Bytes a worker reads and chunks per request (one more step is read ahead): one read. A step's
 * chunks stay on the worker until decided, so the step sets what large files hold there; 4 MiB
 * steps made a first backup of the 1 GiB dataset peak at 240-250 MiB RSS, 1 MiB steps at 195-200
 * MiB, in the same time.
 */
const STEP_BYTES = READ_SIZE;
/** Chunks of one file being deduplicated and sealed at once on the worker path. */
const WORKER_WINDOW = 16;

export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const clock = opts.clock ?? new SystemClock();
  const started = clock.now();
  const source = await makeSource(opts, started);
  const archiver = new Archiver(repo, opts, started, clock);
  const scan = opts.onProgress && source instanceof FilesSource ? archiver.estimate(source) : undefined;
  let tree: BlobId;
  try {
    tree = await archiver.run(source);
  } finally {
    archiver.stopEstimate();
    await scan;
  }
  const stats = archiver.finishStats();
  await repo.flush();
  const snapshot = await repo.saveSnapshot(
    {
      time: new Date(started).toISOString(),
      hostname: opts.host ?? osHostname(),
      username: safeUsername(),
      paths: source.paths,
      tags: [...new Set(opts.tags ?? [])],
      ...(opts.parent ? { parent: opts.parent.id } : {}),
      tree,
      summary: stats,
    },
    archiver.referenced,
  );
  opts.filesCache?.finish();
  return { snapshot, stats };
}

function safeUsername(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

async function makeSource(opts: BackupOptions, nowMs: number): Promise<Source> {
  const streams = opts.streams ?? [];
  const kinds = [
    opts.paths?.length || streams.length > 0 ? 'paths' : '',
    opts.stdin ? 'stdin' : '',
    opts.source ? 'source' : '',
  ];
  if (kinds.filter(Boolean).length !== 1) {
    throw new UserError('give either paths to back up or --stdin, not both and not neither', {
      hint: "e.g. 'nightshift backup run ~/agent' or 'pg_dump db | nightshift backup run --stdin --stdin-name db.sql'",
    });
  }
  if (opts.source) return opts.source;
  if (opts.stdin) return new StdinSource({ ...opts.stdin, mtimeMs: nowMs });
  if (!opts.paths?.length) return new StreamsSource(undefined, streams);
  const patterns = [...(opts.excludes ?? [])];
  for (const f of opts.excludeFiles ?? []) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read exclude file ${f}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
        hint: 'give a readable file with one pattern per line',
      });
    }
    patterns.push(...parsePatternFile(text));
  }
  const excludeIfPresent = opts.excludeIfPresent ?? [];
  for (const m of excludeIfPresent) {
    if (m === '' || m.includes('/')) {
      throw new UserError(`invalid --exclude-if-present ${JSON.stringify(m)}`, {
        hint: 'give a file name such as ".nobackup"',
      });
    }
  }
  const source = new FilesSource({
    paths: opts.paths!,
    excludes: new PatternSet(patterns),
    excludeIfPresent,
    oneFileSystem: opts.oneFileSystem ?? false,
  });
  await checkRoots(source.paths);
  return streams.length > 0 ? new StreamsSource(source, streams) : source;
}

interface Frame {
  path: string[];
  node: SourceEntry['node'] | undefined;
  children: Promise<TreeNode | undefined>[];
}

interface FileContent {
  content: BlobId[];
  size: number;
}

class Archiver {
  readonly referenced = new Set<BlobId>();
  private readonly stats: BackupStats = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    others: 0,
    filesUnchanged: 0,
    bytesRead: 0,
    bytesTotal: 0,
    bytesNew: 0,
    bytesStored: 0,
    chunksNew: 0,
    treesNew: 0,
    errors: 0,
    changed: 0,
    durationMs: 0,
  };
  private readonly slots: Semaphore;
  private readonly bigSlots = new Semaphore(2);
  private readonly smallBytes = new Semaphore(SMALL_BYTES_IN_FLIGHT);
  private readonly hardlinks = new Map<string, Promise<FileContent | undefined>>();
  private fatal: unknown;
  private lastProgress = 0;
  private current: string | undefined;
  private readonly zeroIds = new Map<number, Promise<BlobId>>();
  private readonly scanAbort = new AbortController();
  private readonly chunkers: StreamChunker[] = [];
  private totals: { files: number; bytes: number } | undefined;

  constructor(
    private readonly repo: Repository,
    private readonly opts: BackupOptions,
    private readonly started: number,
    private readonly clock: Clock,
  ) {
    const onWorkers =
      repo.readHostFile !== undefined && sharedBlobPool({ lowPriority: repo.lowPriority === true }) !== null;
    this.slots = new Semaphore(Math.max(1, opts.concurrency ?? (onWorkers ? FILES_IN_FLIGHT : 8)));
    opts.filesCache?.begin(Date.now());
  }

  /**
   * Counts files and bytes with a metadata-only walk alongside the backup, so progress can show
   * totals (and an ETA) once the count is done.
   */
  async estimate(source: FilesSource): Promise<void> {
    let files = 0;
    let bytes = 0;
    const ctx: SourceContext = {
      warn: () => undefined,
      signal: this.scanAbort.signal,
      ...(this.repo.lowPriority === true ? { lowPriority: true } : {}),
    };
    try {
      for await (const e of source.entries(ctx)) {
        if (e.node.type === 'file') {
          files++;
          bytes += e.node.size;
        }
      }
      this.totals = { files, bytes };
    } catch {
      // Only an estimate: a failed or stopped count leaves the totals unknown.
    }
  }

  stopEstimate(): void {
    this.scanAbort.abort();
  }

  finishStats(): BackupStats {
    this.stats.durationMs = this.clock.now() - this.started;
    this.emitProgress(true);
    return { ...this.stats };
  }

  /** Walks the source and returns the root tree id. */
  async run(source: Source): Promise<BlobId> {
    const ctx: SourceContext = {
      warn: (path, err) => this.warn(path, err),
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      ...(this.repo.lowPriority === true ? { lowPriority: true } : {}),
    };
    const stack: Frame[] = [{ path: [], node: undefined, children: [] }];
    for await (const entry of source.entries(ctx)) {
      this.checkAbort();
      if (entry.path.length === 0) continue;
      while (stack.length > entry.path.length) this.pop(stack);
      const top = stack[stack.length - 1]!;
      if (!isParent(top.path, entry.path)) {
        throw new Error(`source yielded ${entry.path.join('/')} outside ${top.path.join('/') || 'the root'}`);
      }
      const name = entry.path[entry.path.length - 1]!;
      if (entry.node.type === 'dir') {
        this.stats.dirs++;
        stack.push({ path: entry.path, node: entry.node, children: [] });
      } else if (entry.node.type === 'file') {
        // Many small files in flight hide the round trips to the workers (and open/stat latency),
        // within a byte budget; large files are CPU-bound, so only a few at a time (each holds
        // read steps and chunks being sealed).
        const big = entry.node.size >= BIG_FILE;
        await this.slots.acquire();
        const weight = big ? await this.bigSlots.acquire() : await this.smallBytes.acquire(entry.node.size);
        this.checkAbort();
        const p = this.storeFile(entry).finally(() => {
          if (big) this.bigSlots.release(weight);
          else this.smallBytes.release(weight);
          this.slots.release();
        });
        top.children.push(this.guard(p.then((c) => (c ? fileNode(name, entry, c) : undefined))));
      } else {
        if (entry.node.type === 'symlink') this.stats.symlinks++;
        else this.stats.others++;
        top.children.push(Promise.resolve({ name, ...entry.node }));
      }
    }
    while (stack.length > 1) this.pop(stack);
    const root = await this.saveTree(stack[0]!.children);
    this.checkAbort();
    return root;
  }

  private checkAbort(): void {
    if (this.fatal !== undefined) throw this.fatal;
    const s = this.opts.signal;
    if (s?.aborted) throw s.reason ?? new Error('backup aborted');
  }

  /** Keeps a failure from going unhandled before the promise is awaited, and stops the walk early. */
  private guard<T>(p: Promise<T>): Promise<T> {
    p.catch((err: unknown) => {
      if (this.fatal === undefined) this.fatal = err;
    });
    return p;
  }

  private pop(stack: Frame[]): void {
    const frame = stack.pop()!;
    const parent = stack[stack.length - 1]!;
    const name = frame.path[frame.path.length - 1]!;
    const node = frame.node!;
    parent.children.push(
      this.guard(this.saveTree(frame.children).then((subtree) => ({ name, ...node, size: 0, subtree }))),
    );
  }

  private async saveTree(children: Promise<TreeNode | undefined>[]): Promise<BlobId> {
    const nodes = (await Promise.all(children)).filter((n): n is TreeNode => n !== undefined);
    const r = await this.repo.saveBlob('tree', encodeTree({ nodes }));
    if (r.isNew) {
      this.stats.treesNew++;
      this.stats.bytesStored += r.storedBytes;
    }
    this.referenced.add(r.id);
    return r.id;
  }

  private warn(path: string, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const kind = e?.code === 'ECHANGED' ? 'changed' : 'error';
    if (kind === 'changed') this.stats.changed++;
    else this.stats.errors++;
    const message = e?.code && e.code !== 'ECHANGED' ? `${describeErrno(e.code)}` : String(e?.message ?? err);
    this.opts.onWarning?.({ path, message, kind });
  }

  private async storeFile(entry: SourceEntry): Promise<FileContent | undefined> {
    const path = '/' + entry.path.join('/');
    const h = entry.node.hardlink;
    if (h) {
      // The other names of an inode already read in this backup share its content.
      const key = `${h.dev}:${h.ino}`;
      const seen = this.hardlinks.get(key);
      if (seen) {
        const c = await seen;
        if (c) this.countFile(c.size);
        return c;
      }
      const p = this.readOrReuse(entry, path);
      this.hardlinks.set(key, p);
      return p;
    }
    return this.readOrReuse(entry, path);
  }

  private countFile(size: number): void {
    this.stats.files++;
    this.stats.bytesTotal += size;
    this.emitProgress(false);
  }

  private async readOrReuse(entry: SourceEntry, path: string): Promise<FileContent | undefined> {
    const cache = this.opts.filesCache;
    if (cache && entry.identity) {
      const ids = cache.lookup(path, entry.identity);
      if (ids && ids.every((id) => this.repo.hasBlob(id))) {
        cache.touch(path);
        for (const id of ids) this.referenced.add(id);
        this.stats.filesUnchanged++;
        this.countFile(entry.identity.size);
        return { content: ids, size: entry.identity.size };
      }
    }
    const c = await this.readFile(entry, path);
    if (c) {
      if (cache && entry.identity) cache.record(path, entry.identity, c.content);
      this.countFile(c.size);
    }
    return c;
  }

  /** Reads and chunks one file; undefined (warned) when it could not be read. */
  private async readFile(entry: SourceEntry, path: string): Promise<FileContent | undefined> {
    const open = entry.open;
    if (!open) return { content: [], size: 0 };
    this.current = path;
    const id = entry.identity;
    const reader =
      entry.hostPath !== undefined && id
        ? this.repo.readHostFile?.({ path: entry.hostPath, ...id }, READ_SIZE)
        : undefined;
    if (reader) return this.chunkOnWorker(entry, reader, path);
    // Chunkers are reused (each holds a max-size buffer); finish() leaves one clean.
    const chunker = this.chunkers.pop() ?? this.repo.newChunker();
    try {
      return await this.chunkFile(entry, open, path, chunker);
    } finally {
      chunker.finish();
      this.chunkers.push(chunker);
    }
  }

  private async chunkFile(
    entry: SourceEntry,
    open: NonNullable<SourceEntry['open']>,
    path: string,
    chunker: StreamChunker,
  ): Promise<FileContent | undefined> {
    const max = chunker.params.max;
    const ids: BlobId[] = [];
    const pending: Promise<void>[] = [];
    let size = 0;
    const save = async (chunk: Uint8Array): Promise<void> => {
      const i = ids.push('') - 1;
      const p = this.saveData(chunk).then((id) => {
        ids[i] = id;
      });
      pending.push(p);
      if (pending.length >= WINDOW_PER_FILE) await pending.shift();
    };
    const it = open(this.opts.signal)[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (err) {
        await Promise.allSettled(pending);
        this.checkAbort();
        if (entry.required) throw readFailed(path, err);
        this.warn(path, err);
        return undefined;
      }
      if (r.done) break;
      const block = r.value;
      size += block.length;
      this.stats.bytesRead += block.length;
      if (block.length >= max && isZero(block)) {
        // Sparse regions: cut here and store whole max-size zero chunks without hashing each one.
        for (const c of chunker.finish()) await save(c);
        const whole = block.length - (block.length % max);
        for (let off = 0; off < whole; off += max) {
          const i = ids.push('') - 1;
          const p = this.zeroChunk(max).then((id) => {
            ids[i] = id;
          });
          pending.push(p);
          if (pending.length >= WINDOW_PER_FILE) await pending.shift();
        }
        if (whole < block.length) for (const c of chunker.push(block.subarray(whole))) await save(c);
        continue;
      }
      for (const c of chunker.push(block)) await save(c);
    }
    for (const c of chunker.finish()) await save(c);
    await Promise.all(pending);
    return { content: ids, size };
  }

  /**
   * A host file read, chunked and hashed on a worker: the main thread only decides which chunks are
   * new (in file order); the worker keeps their bytes and seals the new ones.
   */
  private async chunkOnWorker(
    entry: SourceEntry,
    reader: HostFileReader,
    path: string,
  ): Promise<FileContent | undefined> {
    const ids: BlobId[] = [];
    const pending: Promise<void>[] = [];
    let size = 0;
    const ask = (): Promise<FileStep> => {
      const p = reader.next(STEP_BYTES);
      // Settled below, or left behind when the backup stops: never an unhandled rejection.
      p.catch(() => undefined);
      return p;
    };
    let next = ask();
    try {
      for (;;) {
        let step: FileStep;
        try {
          step = await next;
        } catch (err) {
          await Promise.allSettled(pending);
          this.checkAbort();
          if (entry.required) throw readFailed(path, err);
          this.warn(path, err);
          return undefined;
        }
        if (!step.done) next = ask();
        size += step.bytesRead;
        this.stats.bytesRead += step.bytesRead;
        for (const c of step.chunks) {
          const i = ids.push('') - 1;
          const saved = c.zero
            ? this.zeroChunk(c.length)
            : c.held !== undefined
              ? this.saveHeld(reader, c.id, c.length, c.held)
              : this.saveData(c.data!, c.id);
          pending.push(
            saved.then((id) => {
              ids[i] = id;
            }),
          );
          if (c.held !== undefined) reader.release(c.held + 1);
          if (pending.length >= WORKER_WINDOW) await pending.shift();
        }
        if (step.done) {
          if (step.changed) {
            this.warn(
              path,
              Object.assign(new Error('changed while it was read; stored as read'), { code: 'ECHANGED' }),
            );
          }
          break;
        }
        if (this.fatal !== undefined || this.opts.signal?.aborted) {
          await Promise.allSettled(pending);
          this.checkAbort();
        }
      }
    } finally {
      reader.close();
    }
    await Promise.all(pending);
    return { content: ids, size };
  }

  /** Saves a data chunk; with `id` (computed by a worker) its bytes are moved to be sealed. */
  private async saveData(chunk: Uint8Array, id?: BlobId): Promise<BlobId> {
    const length = chunk.length;
    const r = await this.repo.saveBlob('data', chunk, id === undefined ? {} : { id, transfer: true });
    if (r.isNew) {
      this.stats.chunksNew++;
      this.stats.bytesNew += length;
      this.stats.bytesStored += r.storedBytes;
    }
    this.referenced.add(r.id);
    return r.id;
  }

  /** Saves a chunk whose bytes the worker that read it holds: only a new one is sealed (there). */
  private async saveHeld(reader: HostFileReader, id: BlobId, length: number, held: number): Promise<BlobId> {
    const r = await this.repo.saveHeldBlob!('data', id, length, (key) => reader.seal(held, key));
    if (r.isNew) {
      this.stats.chunksNew++;
      this.stats.bytesNew += length;
      this.stats.bytesStored += r.storedBytes;
    }
    this.referenced.add(r.id);
    return r.id;
  }

  /** All zero chunks of one size share one id: computed and stored once per backup. */
  private zeroChunk(size: number): Promise<BlobId> {
    let p = this.zeroIds.get(size);
    if (!p) {
      p = this.saveData(Buffer.alloc(size));
      this.zeroIds.set(size, p);
    }
    return p;
  }

  private emitProgress(force: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const now = this.clock.now();
    if (!force && now - this.lastProgress < 100) return;
    this.lastProgress = now;
    cb({
      files: this.stats.files,
      dirs: this.stats.dirs,
      bytesRead: this.stats.bytesRead,
      bytesDone: this.stats.bytesTotal,
      errors: this.stats.errors,
      ...(this.current !== undefined ? { current: this.current } : {}),
      ...(this.totals ? { totalFiles: this.totals.files, totalBytes: this.totals.bytes } : {}),
      elapsedMs: now - this.started,
    });
  }
}

function isParent(parent: string[], child: string[]): boolean {
  if (child.length !== parent.length + 1) return false;
  for (let i = 0; i < parent.length; i++) if (parent[i] !== child[i]) return false;
  return true;
}

function fileNode(name: string, entry: SourceEntry, c: FileContent): TreeNode {
  return { name, ...entry.node, size: c.size, content: c.content };
}

const ZEROS = Buffer.alloc(1024 * 1024);

function isZero(b: Uint8Array): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (Buffer.compare(b.subarray(off, off + n), ZEROS.subarray(0, n)) !== 0) return false;
  }
  return true;
}

function describeErrno(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'vanished before it could be read; skipped';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; skipped';
    case 'ELOOP':
      return 'became a symlink while the backup ran; skipped';
    case 'EREPLACED':
      return 'was replaced by another file while the backup ran; skipped';
    default:
      return `cannot be read (${code}); skipped`;
  }
}

function readFailed(path: string, err: unknown): UserError {
  return new UserError(`reading ${path} failed: ${(err as Error)?.message ?? err}`, {
    hint: 'the stream broke off; no snapshot was written',
    exitCode: 1,
    code: 'source_failed',
  });
}
