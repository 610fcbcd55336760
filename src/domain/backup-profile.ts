/**
 * A backup profile: everything a scheduled backup needs, stored in the state under a name so a
 * job says only `--backup NAME`. It holds references, never key material: a passphrase is a
 * secret reference resolved at run time, and a recipients repository is written with the writer
 * key kept in the home (which cannot read any backup).
 */
import { UserError } from './errors.ts';
import { SOURCE_ROOTS, validateSources, type SourceSpec } from './backup-source.ts';
import { parseRepositoryLocation } from './repository-location.ts';
import { validatePolicy, type RetentionPolicy } from './retention.ts';

export type ProfileKey =
  /** A passphrase repository; `ref` is a secret reference (env:, file:, cmd:, vault:, mcp:). */
  | { kind: 'passphrase'; ref: string }
  /** A recipients (public-key) repository, written with its writer key (default: the one kept in the home). */
  | {
      kind: 'recipients';
      writerKeyFile?: string;
      /**
       * A secret reference to the age identity, for drills and `--verify-subset` reads only; absent,
       * this host cannot read the backups (the point of the mode) and verification stays structural.
       */
      identityRef?: string;
    };

export interface BackupProfile {
  name: string;
  /** Repository location: an absolute directory, `s3:https://host/bucket/prefix` or `sftp:user@host:/path`. */
  repository: string;
  key: ProfileKey;
  /** How to log in to a remote repository (absent: the conventional environment, see docs/repositories.md). */
  remote?: RemoteRefs;
  /** Absolute paths to back up (may be empty when there are sources). */
  paths: string[];
  /** Databases, git repositories and commands streamed into the snapshot under virtual paths. */
  sources?: SourceSpec[];
  /**
   * --nice: dump tools at nice 19 and idle I/O, the backup's worker threads at nice 19 (CPU only);
   * the daemon's main thread keeps its priority.
   */
  lowPriority?: boolean;
  /** After each backup the new snapshot is copied to these repositories; retention applies to each. */
  copyTo?: string[];
  /** --limit-upload: bytes per second written to remote repositories (the repository and copies). */
  limitUploadBytesPerSec?: number;
  /** Drills restore each database source into a scratch database and run this query, expecting rows. */
  drillQuery?: string;
  /** Exclude patterns (gitignore-like, as `backup --exclude`). */
  excludes: string[];
  tags: string[];
  /** Applied after every successful backup; empty means keep everything. */
  retention: RetentionPolicy;
  /** Prune (free the space of forgotten snapshots) after a forget, at most this often; absent = never. */
  pruneEveryMs?: number;
  /** `check --read-data-subset` after the backup, e.g. "5%" or "1/10"; absent = no verification. */
  verifySubset?: string;
  /** Refuse to start when the repository's filesystem has less free space than this (default: estimated from recent runs). */
  minFreeBytes?: number;
  /** Declared in a job file (`nightshift apply`); absent when made by a command. */
  source?: { kind: 'file'; path: string };
  createdAtMs: number;
  updatedAtMs: number;
}

/** Logins for remote repositories, as secret references (resolved at run time, never stored resolved). */
export interface RemoteRefs {
  s3AccessKeyRef?: string;
  s3SecretKeyRef?: string;
  /** The SSH private key for an sftp: repository. */
  sshKeyRef?: string;
  /** known_hosts file the SFTP server's host key is checked against (default ~/.ssh/known_hosts). */
  knownHostsFile?: string;
}

/** Schemes a secret reference may use (mirrors secrets/secret-ref.ts; domain code does not import it). */
const REF_SCHEMES = ['env', 'file', 'cmd', 'vault', 'mcp'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** The loose shape a profile is created or edited from (CLI flags, MCP arguments). */
export interface ProfileInput {
  name: string;
  repository: string;
  key: ProfileKey;
  remote?: RemoteRefs;
  paths: string[];
  sources?: SourceSpec[];
  lowPriority?: boolean;
  drillQuery?: string;
  copyTo?: string[];
  limitUploadBytesPerSec?: number;
  excludes?: string[];
  tags?: string[];
  retention?: RetentionPolicy;
  pruneEveryMs?: number;
  verifySubset?: string;
  minFreeBytes?: number;
}

function bad(field: string, problem: string, hint?: string): never {
  throw new UserError(`${field}: ${problem}`, hint === undefined ? {} : { hint });
}

/**
 * Whether `text` has the shape of a secret reference. Anything else is treated as a literal
 * secret and refused without echoing it.
 */
export function looksLikeSecretRef(text: string): boolean {
  const m = /^([a-z]+):(.+)$/s.exec(text);
  return m !== null && REF_SCHEMES.includes(m[1]!);
}

function checkRef(ref: unknown, field: string): string {
  if (typeof ref !== 'string' || ref.trim() === '')
    bad(field, 'missing', 'give a secret reference such as env:BACKUP_PASSWORD or file:/root/.backup-pw');
  // The value is never shown: a literal here is most likely the passphrase itself.
  if (!looksLikeSecretRef(ref))
    bad(
      field,
      'is not a secret reference (a literal passphrase is never stored; the value is not shown)',
      'give where the secret lives: env:NAME, file:/path (mode 0600), cmd:..., vault:mount/path#field or mcp:server/tool',
    );
  return ref;
}

/**
 * `5%`, `5` or `1/10` as a percentage in (0, 100]; throws a UserError naming `field`.
 */
export function parseSubset(text: string, field = '--verify-subset'): number {
  const s = text.trim();
  let pct = NaN;
  const frac = /^(\d+)\/(\d+)$/.exec(s);
  if (frac) pct = (Number(frac[1]) / Number(frac[2])) * 100;
  else {
    const m = /^(\d+(?:\.\d+)?)%?$/.exec(s);
    if (m) pct = Number(m[1]);
  }
  if (!(pct > 0 && pct <= 100))
    bad(
      field,
      `invalid subset ${JSON.stringify(text)}`,
      'a percentage above 0 and at most 100, e.g. 5% or 1/10',
    );
  return pct;
}

/**
 * Checks a whole profile; every refusal is a UserError whose message starts with the flag that
 * sets the field (`--path`, `--repo`, ...), so CLI and MCP users both know what to change.
 */
export function validateProfile(p: BackupProfile): BackupProfile {
  if (typeof p.name !== 'string' || !NAME.test(p.name))
    bad(
      'NAME',
      `${JSON.stringify(p.name)} is not a valid profile name`,
      'profile names use letters, digits, _ . - (up to 100 characters), e.g. nightly',
    );
  if (typeof p.repository !== 'string' || p.repository.trim() === '')
    bad('--repo', 'missing', 'give the repository directory, e.g. --repo /mnt/backup/agent');
  let loc;
  try {
    loc = parseRepositoryLocation(p.repository);
  } catch (err) {
    if (err instanceof UserError) bad('--repo', err.message, err.hint);
    throw err;
  }
  if (loc.kind === 'local' && !p.repository.startsWith('/'))
    bad(
      '--repo',
      `must be an absolute path, got ${JSON.stringify(p.repository)}`,
      'the daemon does not run in your shell directory; give a full path, or s3:... / sftp:...',
    );
  for (const c of p.copyTo ?? []) {
    let cl;
    try {
      cl = parseRepositoryLocation(c);
    } catch (err) {
      if (err instanceof UserError) bad('--copy-to', err.message, err.hint);
      throw err;
    }
    if (cl.kind === 'local' && !c.startsWith('/'))
      bad('--copy-to', `must be an absolute path, got ${JSON.stringify(c)}`);
    if (c === p.repository)
      bad(
        '--copy-to',
        "is the profile's own repository",
        'give another repository (a USB disk, a second site)',
      );
  }
  const r = p.remote ?? {};
  if ((r.s3AccessKeyRef === undefined) !== (r.s3SecretKeyRef === undefined))
    bad('--s3-access-key-ref', 'give both --s3-access-key-ref and --s3-secret-key-ref, or neither');
  if (r.s3AccessKeyRef !== undefined) {
    if (loc.kind !== 's3') bad('--s3-access-key-ref', 'only for an s3: repository');
    checkRef(r.s3AccessKeyRef, '--s3-access-key-ref');
    checkRef(r.s3SecretKeyRef, '--s3-secret-key-ref');
  }
  if (r.sshKeyRef !== undefined) {
    if (loc.kind !== 'sftp') bad('--ssh-key-ref', 'only for an sftp: repository');
    checkRef(r.sshKeyRef, '--ssh-key-ref');
  }
  if (r.knownHostsFile !== undefined) {
    if (loc.kind !== 'sftp') bad('--known-hosts', 'only for an sftp: repository');
    if (!r.knownHostsFile.startsWith('/'))
      bad('--known-hosts', `must be an absolute path, got ${JSON.stringify(r.knownHostsFile)}`);
  }
  if (p.key.kind === 'passphrase') checkRef(p.key.ref, '--password-ref');
  else if (p.key.kind === 'recipients') {
    if (p.key.writerKeyFile !== undefined && !p.key.writerKeyFile.startsWith('/'))
      bad('--writer-key', `must be an absolute path, got ${JSON.stringify(p.key.writerKeyFile)}`);
    if (p.key.identityRef !== undefined) checkRef(p.key.identityRef, '--identity-ref');
  } else bad('key', 'give --password-ref REF or --recipients-repo');
  const sources = p.sources ?? [];
  if (!Array.isArray(p.paths) || (p.paths.length === 0 && sources.length === 0))
    bad(
      '--path',
      'at least one path or source is required',
      'e.g. --path /home/agent/.openclaw (repeatable), or --postgres DB, --git DIR, ...',
    );
  validateSources(sources, looksLikeSecretRef);
  if (sources.length > 0)
    for (const path of p.paths) {
      const top = path.split('/')[1] ?? '';
      if ((SOURCE_ROOTS as readonly string[]).includes(top))
        bad(
          '--path',
          `${path} would share the snapshot's /${top} with the profile's sources`,
          'back up a parent directory instead, or keep those paths in another profile',
        );
    }
  for (const path of p.paths)
    if (typeof path !== 'string' || !path.startsWith('/'))
      bad(
        '--path',
        `must be an absolute path, got ${JSON.stringify(path)}`,
        'give full paths, e.g. /srv/agent',
      );
  for (const e of p.excludes)
    if (typeof e !== 'string' || e.trim() === '') bad('--exclude', 'patterns must not be empty');
  for (const t of p.tags)
    if (typeof t !== 'string' || t.trim() === '' || t.includes(','))
      bad('--tag', `invalid tag ${JSON.stringify(t)}`, 'tags are non-empty and have no commas');
  for (const [k, v] of Object.entries(p.retention))
    if (v === Infinity)
      bad(
        `--keep-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`,
        '"unlimited" is not supported in a profile',
        'give a count, or a --keep-within span',
      );
  validatePolicy(p.retention);
  if (p.pruneEveryMs !== undefined && !(Number.isInteger(p.pruneEveryMs) && p.pruneEveryMs > 0))
    bad('--prune-every', `must be a positive duration, got ${JSON.stringify(p.pruneEveryMs)}`, 'e.g. 7d');
  if (p.verifySubset !== undefined) parseSubset(p.verifySubset);
  if (p.minFreeBytes !== undefined && !(Number.isInteger(p.minFreeBytes) && p.minFreeBytes >= 0))
    bad(
      '--min-free',
      `must be a whole number of bytes, got ${JSON.stringify(p.minFreeBytes)}`,
      'e.g. 2G or 500M',
    );
  const lim = p.limitUploadBytesPerSec;
  if (lim !== undefined) {
    if (!(Number.isInteger(lim) && lim > 0))
      bad(
        '--limit-upload',
        `must be a whole number of bytes per second, got ${JSON.stringify(lim)}`,
        'e.g. 2MiB/s or 500K',
      );
    if (![p.repository, ...(p.copyTo ?? [])].some((r) => parseRepositoryLocation(r).kind !== 'local'))
      bad(
        '--limit-upload',
        'applies to remote repositories only, and this profile writes to local directories only',
        'drop --limit-upload (use --nice for a gentler local backup), or give an s3: or sftp: --repo / --copy-to',
      );
  }
  return p;
}

/** A new (or replaced) profile from input: defaults filled in, validated whole. */
export function buildProfile(input: ProfileInput, nowMs: number, createdAtMs = nowMs): BackupProfile {
  const p: BackupProfile = {
    name: input.name,
    repository: input.repository,
    key: input.key,
    paths: [...new Set(input.paths)],
    excludes: input.excludes ?? [],
    tags: input.tags ?? [],
    retention: input.retention ?? {},
    createdAtMs,
    updatedAtMs: nowMs,
  };
  if (input.remote !== undefined && Object.keys(input.remote).length > 0) p.remote = { ...input.remote };
  if (input.sources !== undefined && input.sources.length > 0)
    p.sources = input.sources.map((s) => ({ ...s }));
  if (input.lowPriority) p.lowPriority = true;
  if (input.copyTo !== undefined && input.copyTo.length > 0) p.copyTo = [...new Set(input.copyTo)];
  if (input.drillQuery !== undefined && input.drillQuery.trim() !== '') p.drillQuery = input.drillQuery;
  if (input.pruneEveryMs !== undefined) p.pruneEveryMs = input.pruneEveryMs;
  if (input.verifySubset !== undefined) p.verifySubset = input.verifySubset;
  if (input.minFreeBytes !== undefined) p.minFreeBytes = input.minFreeBytes;
  if (input.limitUploadBytesPerSec !== undefined) p.limitUploadBytesPerSec = input.limitUploadBytesPerSec;
  return validateProfile(p);
}
