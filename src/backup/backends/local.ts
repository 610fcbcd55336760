/**
 * A repository in a local directory. Writes go to a temp name in the target directory, are
 * fsynced, renamed into place, and the directory is fsynced, so a crash leaves either the whole
 * file or a `.tmp-*` leftover that `check` reports and `prune` removes.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { EXIT, UserError } from '../../domain/errors.ts';
import type { BlobStore, FileSink } from '../ports.ts';
import { TEMP_PREFIX } from '../format.ts';

/** Open pack files kept for reads; restore reads many blobs from the same few packs. */
const MAX_OPEN_HANDLES = 32;

export class LocalBlobStore implements BlobStore {
  readonly location: string;
  /** One pack written while the next fills: a second in flight measured no faster, only ~15 MiB bigger. */
  readonly packWrites = 1;
  // Files are write-once, so a handle stays valid for the file's life; insertion order is LRU order.
  private readonly handles = new Map<string, Promise<FileHandle>>();
  /** Bytes of packs this store has written: what a command that stops leaves unused. */
  private packBytesWritten = 0;

  constructor(dir: string) {
    this.location = dir;
  }

  private abs(path: string): string {
    if (path.split('/').some((p) => p === '..') || path.startsWith('/')) {
      throw new Error(`invalid repository path ${JSON.stringify(path)}`);
    }
    return join(this.location, path);
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    try {
      await this.writeFile(path, data);
    } catch (err) {
      throw await writeError(err, this.location, this.packBytesWritten);
    }
    if (path.startsWith('data/')) this.packBytesWritten += data.length;
  }

  openSink(dir: string): FileSink {
    return new LocalFileSink(this.abs(dir), (path) => this.abs(path), {
      failed: (err) => writeError(err, this.location, this.packBytesWritten),
      written: (path, bytes) => {
        if (path.startsWith('data/')) this.packBytesWritten += bytes;
      },
    });
  }

  private async writeFile(path: string, data: Uint8Array): Promise<void> {
    const target = this.abs(path);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close();
      // e.g. a full disk: leave nothing half-written behind.
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    await placeFile(tmp, target);
  }

  async read(path: string): Promise<Uint8Array> {
    const fh = await open(this.abs(path), 'r');
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async readRange(path: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const fh = await this.handle(path);
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0)
        throw new Error(`${path} is shorter than expected (wanted ${offset + length} bytes)`);
      done += bytesRead;
    }
    return buf;
  }

  private async handle(path: string): Promise<FileHandle> {
    let h = this.handles.get(path);
    if (h) {
      this.handles.delete(path);
      this.handles.set(path, h);
      return h;
    }
    h = open(this.abs(path), 'r');
    this.handles.set(path, h);
    h.catch(() => this.handles.delete(path));
    if (this.handles.size > MAX_OPEN_HANDLES) {
      const [oldest, oldHandle] = this.handles.entries().next().value as [string, Promise<FileHandle>];
      this.handles.delete(oldest);
      // A read still using it finishes first: close only after the event loop moves on.
      void oldHandle.then(
        (fh) => setTimeout(() => void fh.close().catch(() => {}), 1000).unref(),
        () => {},
      );
    }
    return h;
  }

  /** Closes cached read handles. */
  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map((h) => h.then((fh) => fh.close()).catch(() => {})));
  }

  exists(path: string): Promise<boolean> {
    return exists(this.abs(path));
  }

  async list(dir: string): Promise<string[]> {
    const root = this.abs(dir);
    let entries;
    try {
      entries = await readdir(root, { recursive: true, withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: string[] = [];
    for (const e of entries) {
      if (!e.isFile()) continue;
      // Node 20 names the parent `path`, Node 22 `parentPath`.
      const parent = (e as { parentPath?: string }).parentPath ?? (e as { path?: string }).path ?? root;
      out.push(relative(root, join(parent, e.name)).split(sep).join('/'));
    }
    return out.sort();
  }

  async listSizes(dir: string): Promise<{ path: string; size: number }[]> {
    const out: { path: string; size: number }[] = [];
    for (const f of await this.list(dir)) {
      try {
        out.push({ path: f, size: (await stat(this.abs(`${dir}/${f}`))).size });
      } catch (err) {
        // Removed between the listing and the stat (a concurrent prune): not there any more.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }

  async size(path: string): Promise<number> {
    return (await stat(this.abs(path))).size;
  }

  async remove(path: string): Promise<void> {
    const target = this.abs(path);
    const h = this.handles.get(path);
    if (h) {
      this.handles.delete(path);
      await h.then((fh) => fh.close()).catch(() => {});
    }
    await rm(target, { force: true });
    await syncDir(dirname(target));
  }
}

/**
 * A failed write in words: what is wrong with the repository's place and how to fix it, for the
 * causes a user can act on (a file where the directory should be, a full disk, no permission).
 * Anything else is passed on as it is.
 */
async function writeError(err: unknown, location: string, packBytes: number): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    // Find the file standing where a directory is needed: the location or one of its parents.
    let p = location;
    for (;;) {
      const st = await stat(p).catch(() => undefined);
      if (st && !st.isDirectory()) {
        return new UserError(`${location} cannot hold a repository: ${p} is a file, not a directory`, {
          hint: 'give the repository a directory path (a new or empty directory is created for it)',
          code: 'not_a_directory',
        });
      }
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const mib = (packBytes / 1048576).toFixed(1);
    return new UserError(`no space left on the repository's disk (${location})`, {
      hint: `free space on that disk and run the command again; this command wrote ${mib} MiB of packs before the disk filled, which no snapshot uses now that it stopped: \`nightshift backup prune\` removes them`,
      exitCode: EXIT.failed,
      code: 'no_space',
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UserError(
      `cannot write to the repository at ${location}: ${code === 'EROFS' ? 'the filesystem is read-only' : 'permission denied'}`,
      {
        hint: 'run as a user who may write there, or give the repository a writable path',
        exitCode: EXIT.failed,
        code: 'not_writable',
      },
    );
  }
  return err;
}

/** Makes a rename or unlink in `dir` durable. */
/**
 * A file appended to under a temp name in `dir`, then fsynced and renamed to its name (which may
 * be in a subdirectory of `dir`, on the same filesystem): the same guarantees as `write`.
 */
class LocalFileSink implements FileSink {
  private readonly tmp: string;
  private readonly fh: Promise<FileHandle>;
  private at = 0;
  private failure: unknown;

  constructor(
    dir: string,
    private readonly abs: (path: string) => string,
    private readonly report: {
      failed: (err: unknown) => Promise<unknown>;
      written: (path: string, bytes: number) => void;
    },
  ) {
    this.tmp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    this.fh = mkdir(dir, { recursive: true }).then(() =>
      open(this.tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600),
    );
    this.fh.catch((err: unknown) => (this.failure ??= err));
  }

  append(bytes: Uint8Array): Promise<void> {
    // Positioned writes: appends run concurrently on the thread pool, each at its own offset.
    const at = this.at;
    this.at += bytes.length;
    return this.fh
      .then(async (fh) => {
        for (let done = 0; done < bytes.length;) {
          done += (await fh.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
        }
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      });
  }

  async commit(path: string): Promise<void> {
    try {
      if (this.failure !== undefined) throw this.failure;
      const fh = await this.fh;
      await fh.sync();
      await fh.close();
      const target = this.abs(path);
      await mkdir(dirname(target), { recursive: true });
      await placeFile(this.tmp, target);
    } catch (err) {
      await this.abort();
      throw await this.report.failed(err);
    }
    this.report.written(path, this.at);
  }

  async abort(): Promise<void> {
    await this.fh.then((fh) => fh.close()).catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

/** Renames a written, fsynced temp file to its name, durably; an existing file is kept instead. */
async function placeFile(tmp: string, target: string): Promise<void> {
  if (await exists(target)) {
    // Files are named by their content (or randomly), so an existing file already holds these bytes.
    await unlink(tmp);
    return;
  }
  await rename(tmp, target);
  await syncDir(dirname(target));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic there.
  } finally {
    await fh?.close();
  }
}
