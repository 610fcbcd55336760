/**
 * Opening a repository with whatever key is at hand (a password, age identities, or the writer key
 * kept in the home) under the repository lock. Shared by the `backup` CLI and the backup jobs, so
 * both open, lock and refuse the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { LocalBlobStore } from '../backup/backends/local.ts';
import { parseConfig } from '../backup/config.ts';
import { CONFIG_FILE } from '../backup/format.ts';
import { acquireLock, type RepoLock } from '../backup/lock.ts';
import { openRepository, READ_NEEDS_IDENTITY, type OpenOptions, type Repo } from '../backup/repository.ts';
import { EXIT, UserError } from '../domain/errors.ts';

/** Where the writer key of a recipients repository is kept on this host. */
export function writerKeyPath(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-keys', `${repoId}.key`);
}

/** The files cache of a repository (speeds up incremental backups; disposable). */
export function cacheDir(homeDir: string, repoId: string): string {
  return join(homeDir, 'backup-cache', repoId);
}

/** The config's plaintext body (mode, id), or undefined when it cannot be read; open reports why. */
export function peekConfig(location: string): { id: string; mode: string } | undefined {
  try {
    return parseConfig(readFileSync(join(location, CONFIG_FILE))).cfg;
  } catch {
    return undefined;
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
  location: string,
  keys: RepoKeys,
  access: Access,
): Promise<Repo> {
  const opts: OpenOptions = {};
  if (keys.password !== undefined) opts.password = keys.password;
  const identities = keys.identities ?? [];
  if (identities.length > 0) opts.identities = identities;
  const cfg = peekConfig(location);
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
  const repo = await openRepository(location, opts);
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
export async function withLockedRepo<T>(
  location: string,
  lockMode: LockMode,
  open: () => Promise<Repo>,
  fn: (repo: Repo) => Promise<T>,
): Promise<T> {
  let lock: RepoLock | undefined;
  if (lockMode !== 'none' && peekConfig(location))
    lock = await acquireLock(new LocalBlobStore(resolvePath(location)), {
      exclusive: lockMode === 'exclusive',
    });
  try {
    const repo = await open();
    try {
      return await fn(repo);
    } finally {
      await repo.close();
    }
  } finally {
    await lock?.release();
  }
}
