/**
 * Creating repositories and managing their keys: init (a passphrase or age recipients), keygen
 * (an age identity), and the password keys of a passphrase repository. Secrets are written only
 * to 0600 files that never replace an existing one, and never returned.
 */
import { resolve as resolvePath } from 'node:path';
import { writerKeyPath, withRepository } from '../backup/access.ts';
import { displayLocation } from '../backup/backends/open-store.ts';
import { addKey, keygen, listKeys, removeKey, type KeyInfo } from '../backup/keys.ts';
import { initRepository } from '../backup/repository.ts';
import type { RepositoryRef } from './backups.ts';
import { writeSecretFile } from './secret-file.ts';

export interface CreatedRepository {
  id: string;
  /** Absolute location. */
  location: string;
  mode: string;
  /** Recipients mode: where the writer key was written (in the home). */
  writerKey?: string;
}

/**
 * Creates a repository keyed by a password or encrypted to age recipients; a recipients
 * repository's writer key is kept in the home (0600).
 */
export async function createRepository(
  homeDir: string,
  location: string,
  key: { password: string } | { recipients: string[] },
): Promise<CreatedRepository> {
  const { repo, writerKey } = await initRepository(location, key);
  let keyPath: string | undefined;
  try {
    if (writerKey !== undefined) {
      keyPath = writerKeyPath(homeDir, repo.id);
      writeSecretFile(keyPath, writerKey, 'writer key');
    }
  } finally {
    await repo.close();
  }
  return {
    id: repo.id,
    // Local paths absolute; s3:/sftp: locations as given.
    location: displayLocation(location),
    mode: repo.mode,
    ...(keyPath ? { writerKey: keyPath } : {}),
  };
}

/** Makes an age identity, writes it to `outFile` (0600, never over a file) and returns its recipient. */
export async function createIdentity(outFile: string): Promise<{ recipient: string; identityFile: string }> {
  const { recipient, fileText } = await keygen();
  const identityFile = resolvePath(outFile);
  writeSecretFile(identityFile, fileText, 'identity');
  return { recipient, identityFile };
}

/** The repository's key files (the one in use marked `current`). */
export function listRepositoryKeys(ref: RepositoryRef): Promise<KeyInfo[]> {
  return withRepository({ ...ref, access: 'any', lock: 'shared' }, (repo) => listKeys(repo));
}

/** Adds a password to a passphrase repository. */
export function addRepositoryKey(ref: RepositoryRef, newPassword: string): Promise<KeyInfo> {
  return withRepository({ ...ref, access: 'any', lock: 'exclusive' }, (repo) => addKey(repo, newPassword));
}

/** Removes a password key by id or unique prefix (not the last one, not the one in use). */
export function removeRepositoryKey(ref: RepositoryRef, idOrPrefix: string): Promise<KeyInfo> {
  return withRepository({ ...ref, access: 'any', lock: 'exclusive' }, (repo) => removeKey(repo, idOrPrefix));
}
