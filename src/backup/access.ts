/**
 * Opening a repository for a command or a job: with whatever key is at hand (a password, age
 * identities, or the writer key kept in the home), under the repository lock, for the access asked
 * for. The `backup` commands and the backup jobs both open repositories through `withRepository`
 * here, so both open, lock and refuse the same way.
 *
 * The config is read once per open: its plaintext head (id, mode) decides which key to use and
 * whether there is a repository to lock, and the same bytes are handed to `openRepository`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXIT, UserError } from '../domain/errors.ts';
import { openBlobStore, type RemoteAccess } from './backends/open-store.ts';
import { parseConfig } from './config.ts';
import { CONFIG_FILE } from './format.ts';
import { acquireLock, type RepoLock } from './lock.ts';
import type { BlobStore } from './ports.ts';
import {
  openRepository,
  READ_NEEDS_IDENTITY,
  unreachable,
  type OpenOptions,
  type Repo,
} from './repository.ts';

/** Where the writer key of a recipients repository is kept on this host. */
export function writerKeyPath(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-keys', `${repoId}.key`);
}

/** The files cache of a repository (speeds up incremental backups; disposable). */
export function cacheDir(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-cache', repoId);
}

/**
 * The blob store a repository location names (a directory, s3:..., sftp:...; see
 * backends/open-store.ts), with `remote` logins or the conventional environment's.
 */
export function repositoryStore(location: string, remote?: RemoteAccess): BlobStore {
  return openBlobStore(location, remote);
}

/** The config's plaintext head, and its bytes for the open that follows. */
export interface RepositoryHead {
  id: string;
  mode: string;
  configBytes: Uint8Array;
}

/**
 * The config's plaintext head, or undefined when there is no repository there (or its config is
 * damaged: the open then says why). A repository that cannot be reached at all throws the reason.
 */
export async function peekRepository(
  location: string | BlobStore,
  remote?: RemoteAccess,
): Promise<RepositoryHead | undefined> {
  const store = typeof location === 'string' ? repositoryStore(location, remote) : location;
  let configBytes: Uint8Array;
  try {
    configBytes = await store.read(CONFIG_FILE);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreachable(store, err);
  } finally {
    if (typeof location === 'string') await store.close?.();
  }
  try {
    const { cfg } = parseConfig(configBytes);
    return { id: cfg.id, mode: cfg.mode, configBytes };
  } catch {
    return undefined;
  }
}

/** `read` needs to decrypt data; `write` and `any` are content with the writer key. */
export type Access = 'write' | 'read' | 'any';
export type LockMode = 'shared' | 'exclusive' | 'none';

export interface RepositoryKeys {
  password?: string;
  identities?: string[];
  /** An explicit writer key file; default: the one kept in the home for this repository. */
  writerKeyFile?: string;
}

/** Which repository, with which key, for what, under which lock. */
export interface RepositoryUse {
  location: string;
  keys: RepositoryKeys;
  access: Access;
  lock: LockMode;
  /** The home: where the writer key of a recipients repository is looked for by default. */
  homeDir: string;
  /** Logins for a remote repository (absent: the conventional environment). */
  remote?: RemoteAccess;
  /** Blob work on the low-priority (nice 19) worker threads: a --nice profile's backup, verify, drill, copy. */
  lowPriority?: boolean;
  /** false: open without reading the index (listing snapshots); `Repo.ensureIndex` reads it later. */
  index?: boolean;
  /** The work seals or opens blobs: start the worker threads early (default: for `write` access). */
  workers?: boolean;
}

/**
 * Opens the repository without a lock, for a quick look (a health check listing snapshots); the
 * caller closes it. Work that reads or changes data goes through withRepository.
 */
export async function openRepositoryFor(use: Omit<RepositoryUse, 'lock'>): Promise<Repo> {
  const store = repositoryStore(use.location, use.remote);
  return openWithKeys(store, await peekRepository(store), use);
}

/**
 * Opens the repository with the given keys. `read` access refuses a writer-only session up front,
 * so a command never half-runs before finding out it cannot decrypt.
 */
async function openWithKeys(
  store: BlobStore,
  head: RepositoryHead | undefined,
  use: Omit<RepositoryUse, 'lock'>,
): Promise<Repo> {
  const { keys, access } = use;
  const opts: OpenOptions = {};
  if (keys.password !== undefined) opts.password = keys.password;
  const identities = keys.identities ?? [];
  if (identities.length > 0) opts.identities = identities;
  if (head?.mode === 'recipients' && identities.length === 0) {
    if (access === 'read') throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
    const keyFile = keys.writerKeyFile ?? writerKeyPath(use.homeDir, head.id);
    if (!keys.writerKeyFile && !existsSync(keyFile))
      throw new UserError(`no writer key for repository ${head.id} in ${dirname(keyFile)}`, {
        hint: 'run this on the host that created the repository (or pass --home), pass --writer-key FILE, or --identity FILE',
        exitCode: EXIT.auth,
        code: 'auth',
      });
    opts.writerKeyFile = keyFile;
  }
  if (head) {
    opts.configBytes = head.configBytes;
    opts.snapshotCache = join(cacheDir(use.homeDir, head.id), 'snapshots.json');
    opts.indexCache = join(cacheDir(use.homeDir, head.id), 'index.bin');
  }
  if (use.lowPriority === true) opts.lowPriority = true;
  if (use.index === false) opts.index = false;
  if (use.workers ?? access === 'write') opts.workers = true;
  const repo = await openRepository(store, opts);
  if (access === 'read' && !repo.canRead) {
    await repo.close();
    throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
  }
  return repo;
}

/**
 * Takes the repository lock (before the index is read, so a concurrent prune cannot change it
 * underneath), opens the repository, runs `fn`, then closes and unlocks however it ends.
 */
export async function withRepository<T>(use: RepositoryUse, fn: (repo: Repo) => Promise<T>): Promise<T> {
  // The lock has a store of its own: it is released after the repository (and its store) closed.
  const lockStore = repositoryStore(use.location, use.remote);
  try {
    const head = await peekRepository(lockStore);
    let lock: RepoLock | undefined;
    if (use.lock !== 'none' && head)
      lock = await acquireLock(lockStore, { exclusive: use.lock === 'exclusive' });
    try {
      const repo = await openWithKeys(repositoryStore(use.location, use.remote), head, use);
      try {
        return await fn(repo);
      } finally {
        await repo.close();
      }
    } finally {
      await lock?.release();
    }
  } finally {
    // Remote stores hold a connection.
    await lockStore.close?.();
  }
}
