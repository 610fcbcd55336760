/**
 * The one place a repository location string becomes a blob store: a directory, an S3 bucket or
 * an SFTP directory (src/domain/repository-location.ts parses the spelling). Credentials come
 * from the caller (secret references a profile resolved) or else the conventional environment:
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN / AWS_REGION for S3;
 * $NIGHTSHIFT_SSH_KEY (a key file), ~/.ssh/id_ed25519|id_ecdsa|id_rsa or ssh-agent for SFTP,
 * checked against $NIGHTSHIFT_KNOWN_HOSTS or ~/.ssh/known_hosts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../../domain/errors.ts';
import { parseRepositoryLocation, type RepositoryLocation } from '../../domain/repository-location.ts';
import type { BlobStore } from '../ports.ts';
import { LocalBlobStore } from './local.ts';
import type { RetryOptions } from './retry.ts';
import { S3BlobStore, type S3Credentials } from './s3.ts';
import { SftpBlobStore } from './sftp.ts';
import { ThrottledBlobStore, TokenBucket } from './throttle.ts';

/** Resolved credentials for remote repositories (in memory only; never stored or shown). */
export interface RemoteAccess {
  s3?: S3Credentials;
  /** Private key text for SFTP. */
  sshKey?: string;
  /** known_hosts file for SFTP. */
  knownHostsFile?: string;
  retry?: RetryOptions;
  /** --limit-upload: bytes per second written to a remote repository (local ones are not limited). */
  limitUploadBytesPerSec?: number;
}

/** The local directory of a location, or undefined for a remote one. */
export function localPath(location: string): string | undefined {
  const loc = parseRepositoryLocation(location);
  return loc.kind === 'local' ? resolve(loc.path) : undefined;
}

/** How a location is shown in messages and records: local paths absolute, remote ones as given. */
export function displayLocation(location: string): string {
  return localPath(location) ?? location;
}

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(
      `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        hint: 'give a readable private key file (e.g. made with `ssh-keygen -t ed25519`)',
        code: 'auth',
      },
    );
  }
}

export function openBlobStore(
  location: string,
  access: RemoteAccess = {},
  env: NodeJS.ProcessEnv = process.env,
): BlobStore {
  const loc = parseRepositoryLocation(location);
  if (loc.kind === 'local') return new LocalBlobStore(resolve(loc.path));
  const store = openRemoteStore(location, loc, access, env);
  const rate = access.limitUploadBytesPerSec;
  return rate !== undefined && rate > 0 ? new ThrottledBlobStore(store, new TokenBucket({ rate })) : store;
}

function openRemoteStore(
  location: string,
  loc: Exclude<RepositoryLocation, { kind: 'local' }>,
  access: RemoteAccess,
  env: NodeJS.ProcessEnv,
): BlobStore {
  if (loc.kind === 's3') {
    let credentials = access.s3;
    if (!credentials && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
      credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
      if (env.AWS_SESSION_TOKEN) credentials.sessionToken = env.AWS_SESSION_TOKEN;
    }
    return new S3BlobStore(location, {
      endpoint: loc.endpoint,
      bucket: loc.bucket,
      prefix: loc.prefix,
      ...(credentials ? { credentials } : {}),
      ...(access.retry ? { retry: access.retry } : {}),
    });
  }
  const home = env.HOME ?? homedir();
  const knownHostsFile =
    access.knownHostsFile ?? env.NIGHTSHIFT_KNOWN_HOSTS ?? join(home, '.ssh', 'known_hosts');
  let knownHosts = '';
  try {
    knownHosts = readFileSync(knownHostsFile, 'utf8');
  } catch {
    // No file: every host is unknown, and connecting says how to add it.
  }
  let privateKey = access.sshKey;
  if (privateKey === undefined && env.NIGHTSHIFT_SSH_KEY)
    privateKey = readKeyFile(env.NIGHTSHIFT_SSH_KEY, 'SSH key ($NIGHTSHIFT_SSH_KEY)');
  if (privateKey === undefined && !env.SSH_AUTH_SOCK) {
    const found = ['id_ed25519', 'id_ecdsa', 'id_rsa']
      .map((n) => join(home, '.ssh', n))
      .find((f) => existsSync(f));
    if (found) privateKey = readKeyFile(found, 'SSH key');
  }
  if (privateKey === undefined && !env.SSH_AUTH_SOCK)
    throw new UserError(`no SSH key to log in to ${loc.host} with`, {
      hint: 'give a key by reference (--ssh-key-ref file:/path/id_ed25519), set NIGHTSHIFT_SSH_KEY=/path/key, or run an ssh-agent',
      code: 'auth',
    });
  let username = loc.user;
  if (username === undefined) {
    try {
      username = userInfo().username;
    } catch {
      username = 'root';
    }
  }
  return new SftpBlobStore(location, {
    host: loc.host,
    port: loc.port,
    username,
    path: loc.path,
    knownHosts,
    knownHostsFile,
    ...(privateKey !== undefined ? { privateKey } : { agent: env.SSH_AUTH_SOCK! }),
    ...(access.retry ? { retry: access.retry } : {}),
  });
}
