/**
 * Opening a repository with whatever key is at hand (a password, age identities, or the writer key
 * kept in the home) under the repository lock. Shared by the `backup` CLI and the backup jobs, so
 * both open, lock and refuse the same way.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openBlobStore, type RemoteAccess } from '../backup/backends/open-store.ts';
import { parseConfig } from '../backup/config.ts';
import { CONFIG_FILE } from '../backup/format.ts';
import { acquireLock, type RepoLock } from '../backup/lock.ts';
import type { BlobStore } from '../backup/ports.ts';
import {
  openRepository,
  READ_NEEDS_IDENTITY,
  unreachable,
  type OpenOptions,
  type Repo,
} from '../backup/repository.ts';
import { EXIT, UserError } from '../domain/errors.ts';

/** Where the writer key of a recipients repository is kept on this host. */
export function writerKeyPath(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-keys', `${repoId}.key`);
}

/** The files cache of a repository (speeds up incremental backups; disposable). */
export function cacheDir(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-cache', repoId);
}

/** A location (opened with `remote` credentials) or an already open store. */
export function storeOf(location: string | BlobStore, remote?: RemoteAccess): BlobStore {
  return typeof location === 'string' ? openBlobStore(location, remote) : location;
}

/**
 * The config's plaintext body (mode, id), or undefined when there is no repository there. A
 * repository that cannot be reached at all (network, credentials) throws the reason.
 */
export async function peekConfig(
  location: string | BlobStore,
  remote?: RemoteAccess,
): Promise<{ id: string; mode: string } | undefined> {
  const store = storeOf(location, remote);
  let bytes: Uint8Array;
  try {
    bytes = await store.read(CONFIG_FILE);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreachable(store, err);
  } finally {
    if (typeof location === 'string') await store.close?.();
  }
  try {
    return parseConfig(bytes).cfg;
  } catch {
    return undefined; // damaged: opening reports why
  }
}

/** `read` needs to decrypt data; `write` and `any` are content with the writer key. */
export type Access = 'write' | 'read' | 'any';
export type LockMode = 'shared' | 'exclusive' | 'none';

export interface RepoKeys {
  password?: string;
  identities?: string[];
  /** An explicit writer key file; default: the one kept in the home for this repository. */
  writerKeyFile?: string;
}

/**
 * Opens the repository with the given keys. `read` access refuses a writer-only session up front,
 * so a command never half-runs before finding out it cannot decrypt.
 */
export async function openRepoWithKeys(
  homeDir: string,
  location: string | BlobStore,
  keys: RepoKeys,
  access: Access,
  remote?: RemoteAccess,
): Promise<Repo> {
  const store = storeOf(location, remote);
  const opts: OpenOptions = {};
  if (keys.password !== undefined) opts.password = keys.password;
  const identities = keys.identities ?? [];
  if (identities.length > 0) opts.identities = identities;
  const cfg = await peekConfig(store);
  if (cfg?.mode === 'recipients' && identities.length === 0) {
    if (access === 'read') throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
    const keyFile = keys.writerKeyFile ?? writerKeyPath(homeDir, cfg.id);
    if (!keys.writerKeyFile && !existsSync(keyFile))
      throw new UserError(`no writer key for repository ${cfg.id} in ${dirname(keyFile)}`, {
        hint: 'run this on the host that created the repository (or pass --home), pass --writer-key FILE, or --identity FILE',
        exitCode: EXIT.auth,
        code: 'auth',
      });
    opts.writerKeyFile = keyFile;
  }
  const repo = await openRepository(store, opts);
  if (access === 'read' && !repo.canRead) {
    await repo.close();
    throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
  }
  return repo;
}

/**
 * Takes the repository lock (before the index is read, so a concurrent prune cannot change it
 * underneath), opens the repository on the same store, runs `fn`, then closes and unlocks however
 * it ends. One connection serves the lock and the repository (remote stores connect once).
 */
export async function withLockedRepo<T>(
  location: string,
  lockMode: LockMode,
  open: (store: BlobStore) => Promise<Repo>,
  fn: (repo: Repo) => Promise<T>,
  remote?: RemoteAccess,
): Promise<T> {
  const store = openBlobStore(location, remote);
  const shared = new KeepOpen(store);
  let lock: RepoLock | undefined;
  try {
    if (lockMode !== 'none' && (await peekConfig(shared)))
      lock = await acquireLock(shared, { exclusive: lockMode === 'exclusive' });
    try {
      const repo = await open(shared);
      try {
        return await fn(repo);
      } finally {
        await repo.close();
      }
    } finally {
      await lock?.release();
    }
  } finally {
    await store.close?.();
  }
}

/** A store whose close() is left to its owner (the repository closes its store; the lock still needs it). */
class KeepOpen implements BlobStore {
  constructor(private readonly inner: BlobStore) {}
  get location(): string {
    return this.inner.location;
  }
  write(path: string, data: Uint8Array): Promise<void> {
    return this.inner.write(path, data);
  }
  read(path: string): Promise<Uint8Array> {
    return this.inner.read(path);
  }
  readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.readRange(path, offset, length);
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  size(path: string): Promise<number> {
    return this.inner.size(path);
  }
  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }
  async close(): Promise<void> {}
}
