/**
 * A backup profile from the words of `backup profile add|edit` (flags on the command line, keys of
 * a profile document in a job file), over the previous profile (edit) or nothing (add). Keys are
 * given only as references; a literal passphrase is refused unechoed. One reading for both, so a
 * file says exactly what the flags say.
 */
import { isAbsolute, resolve } from 'node:path';
import {
  buildProfile,
  type BackupProfile,
  type ProfileInput,
  type ProfileKey,
  type RemoteRefs,
} from '../domain/backup-profile.ts';
import {
  defaultSourceName,
  parseCommandSource,
  type SourceKind,
  type SourceSpec,
} from '../domain/backup-source.ts';
import { isRemoteLocation } from '../domain/repository-location.ts';
import { parseDuration } from '../domain/duration.ts';
import { UserError } from '../domain/errors.ts';
import type { ProfileWords } from '../domain/profile-file.ts';
import { RETENTION_FLAG_NAMES, retentionFromFlags } from '../domain/retention-flags.ts';
import { parseRate, parseSize } from '../domain/size.ts';
import { parseSecretRef } from '../secrets/secret-ref.ts';

/** The words of `backup profile add|edit` (domain/profile-file.ts), and the refused `--password`. */
export interface ProfileFields extends ProfileWords {
  /** Present only to refuse a literal passphrase without echoing it. */
  password?: string;
}

const OFF = new Set(['off', 'none', '0']);

function refFlag(flag: string, ref: string): string {
  try {
    parseSecretRef(ref);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${flag}: ${err.message}`, { hint: err.hint ?? '' });
    throw err;
  }
  return ref;
}

/** The key from the words, or `prev` when none of the key flags was given. */
function keyFromFlags(f: ProfileFields, prev: ProfileKey | undefined, abs: Abs): ProfileKey {
  if (f.password !== undefined)
    throw new UserError(
      '--password: a passphrase is never stored nor taken on the command line (not shown)',
      {
        hint: 'give where it lives instead: --password-ref env:NAME, file:/path (0600), vault:mount/path#field or cmd:...',
      },
    );
  if (f.passwordRef !== undefined && f.recipientsRepo)
    throw new UserError('--password-ref and --recipients-repo: give one of them', {
      hint: 'a passphrase repository takes --password-ref; a recipients repository --recipients-repo',
    });
  const recipientsOnly = f.writerKey !== undefined || f.identityRef !== undefined;
  if (f.passwordRef !== undefined) {
    if (recipientsOnly)
      throw new UserError(
        `--${f.writerKey !== undefined ? 'writer-key' : 'identity-ref'}: only for a recipients repository`,
        {
          hint: 'drop it, or use --recipients-repo instead of --password-ref',
        },
      );
    return { kind: 'passphrase', ref: refFlag('--password-ref', f.passwordRef) };
  }
  const wantsRecipients = f.recipientsRepo === true || (recipientsOnly && prev?.kind === 'recipients');
  if (wantsRecipients) {
    const k: ProfileKey = { kind: 'recipients' };
    const old = prev?.kind === 'recipients' ? prev : undefined;
    const wk = f.writerKey ?? old?.writerKeyFile;
    if (wk !== undefined) k.writerKeyFile = abs(wk);
    const ir = f.identityRef ?? old?.identityRef;
    if (ir !== undefined) k.identityRef = refFlag('--identity-ref', ir);
    return k;
  }
  if (recipientsOnly)
    throw new UserError(
      `--${f.writerKey !== undefined ? 'writer-key' : 'identity-ref'}: only for a recipients repository`,
      {
        hint: 'add --recipients-repo',
      },
    );
  if (prev) return prev;
  throw new UserError('say how the repository is keyed: --password-ref REF or --recipients-repo', {
    hint: 'a passphrase repository: --password-ref env:BACKUP_PASSWORD (the value is read at run time); a public-key one: --recipients-repo',
  });
}

const SOURCE_FLAGS: [keyof ProfileFields, SourceKind][] = [
  ['postgres', 'postgres'],
  ['mysql', 'mysql'],
  ['redis', 'redis'],
  ['sqlite', 'sqlite'],
  ['git', 'git'],
];

function splitNamed(text: string, kind: SourceKind, abs: Abs): { name: string; target: string } {
  // NAME=target, unless the `=` belongs to a URL's query (after ://).
  const eq = text.indexOf('=');
  const scheme = text.indexOf('://');
  if (eq > 0 && (scheme < 0 || eq < scheme)) return { name: text.slice(0, eq), target: text.slice(eq + 1) };
  const target = kind === 'sqlite' || kind === 'git' ? abs(text) : text;
  return { name: defaultSourceName(kind, target), target };
}

/** The sources from the flags; on edit, any source flag replaces the list (like --path). */
function sourcesFromFlags(f: ProfileFields, prev: SourceSpec[] | undefined, abs: Abs): SourceSpec[] {
  const given = SOURCE_FLAGS.some(([k]) => f[k] !== undefined) || f.commandSource !== undefined;
  let out: SourceSpec[];
  if (!given) out = (prev ?? []).map((s) => ({ ...s }));
  else {
    out = [];
    for (const [flag, kind] of SOURCE_FLAGS)
      for (const v of (f[flag] as string[] | undefined) ?? []) {
        const { name, target } = splitNamed(v, kind, abs);
        out.push({ kind, name, target: kind === 'sqlite' || kind === 'git' ? abs(target) : target });
      }
    for (const v of f.commandSource ?? []) {
      const { name, command } = parseCommandSource(v);
      out.push({ kind: 'command', name, target: command });
    }
  }
  const byName = (flag: string, name: string): SourceSpec => {
    const s = out.find((x) => x.name === name);
    if (!s)
      throw new UserError(`${flag}: the profile has no source named ${JSON.stringify(name)}`, {
        hint: `sources: ${out.map((x) => x.name).join(', ') || 'none'}`,
      });
    return s;
  };
  for (const n of f.optional ?? []) byName('--optional', n).optional = true;
  for (const v of f.sourcePasswordRef ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0)
      throw new UserError('--source-password-ref: expected NAME=REF', {
        hint: 'e.g. erp=env:ERP_DB_PASSWORD',
      });
    byName('--source-password-ref', v.slice(0, eq)).passwordRef = refFlag(
      '--source-password-ref',
      v.slice(eq + 1),
    );
  }
  return out;
}

/** Relative paths against the directory they were written in. */
type Abs = (p: string) => string;

/**
 * A profile from `add`/`edit` words over the previous profile (edit) or nothing (add). Relative
 * paths are taken against `baseDir`: the working directory for flags, the file's own directory
 * for a profile document.
 */
export function profileFromFields(
  name: string,
  f: ProfileFields,
  prev: BackupProfile | undefined,
  nowMs: number,
  baseDir: string = process.cwd(),
): BackupProfile {
  const abs: Abs = (p) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const repo = f.repo !== undefined ? (isRemoteLocation(f.repo) ? f.repo : abs(f.repo)) : prev?.repository;
  if (repo === undefined)
    throw new UserError('--repo: missing', {
      hint: 'give the repository directory, e.g. --repo /mnt/backup/agent',
    });
  const input: ProfileInput = {
    name,
    repository: repo,
    key: keyFromFlags(f, prev?.key, abs),
    paths: f.path !== undefined ? f.path.map((p) => abs(p)) : (prev?.paths ?? []),
    excludes: f.exclude ?? prev?.excludes ?? [],
    tags: f.tag ?? prev?.tags ?? [],
    retention: RETENTION_FLAG_NAMES.some((k) => f[k] !== undefined)
      ? retentionFromFlags(f)
      : (prev?.retention ?? {}),
  };
  const sources = sourcesFromFlags(f, prev?.sources, abs);
  if (sources.length > 0) input.sources = sources;
  if (f.nice ?? prev?.lowPriority) input.lowPriority = true;
  const copies = (f.copyTo ?? prev?.copyTo ?? [])
    .filter((c) => !OFF.has(c))
    .map((c) => (isRemoteLocation(c) ? c : abs(c)));
  if (copies.length > 0) input.copyTo = copies;
  const dq = f.drillQuery ?? prev?.drillQuery;
  if (dq !== undefined && !OFF.has(dq.trim().toLowerCase())) input.drillQuery = dq;
  const remote: RemoteRefs = { ...(f.repo !== undefined && f.repo !== prev?.repository ? {} : prev?.remote) };
  if (f.s3AccessKeyRef !== undefined)
    remote.s3AccessKeyRef = refFlag('--s3-access-key-ref', f.s3AccessKeyRef);
  if (f.s3SecretKeyRef !== undefined)
    remote.s3SecretKeyRef = refFlag('--s3-secret-key-ref', f.s3SecretKeyRef);
  if (f.sshKeyRef !== undefined) remote.sshKeyRef = refFlag('--ssh-key-ref', f.sshKeyRef);
  if (f.knownHosts !== undefined) remote.knownHostsFile = abs(f.knownHosts);
  if (Object.keys(remote).length > 0) input.remote = remote;
  if (input.paths.length === 0 && sources.length === 0)
    throw new UserError('--path: at least one path or source is required', {
      hint: 'e.g. --path ~/.openclaw (repeatable), --postgres erp, --git /srv/repo',
    });
  const pruneEvery = f.pruneEvery;
  if (pruneEvery !== undefined) {
    if (!OFF.has(pruneEvery.trim().toLowerCase()))
      input.pruneEveryMs = durationFlag('--prune-every', pruneEvery);
  } else if (prev?.pruneEveryMs !== undefined) input.pruneEveryMs = prev.pruneEveryMs;
  if (f.verifySubset !== undefined) {
    if (!OFF.has(f.verifySubset.trim().toLowerCase())) input.verifySubset = f.verifySubset.trim();
  } else if (prev?.verifySubset !== undefined) input.verifySubset = prev.verifySubset;
  if (f.minFree !== undefined) {
    if (!OFF.has(f.minFree.trim().toLowerCase())) input.minFreeBytes = parseSize(f.minFree, '--min-free');
  } else if (prev?.minFreeBytes !== undefined) input.minFreeBytes = prev.minFreeBytes;
  if (f.limitUpload !== undefined) {
    if (!OFF.has(f.limitUpload.trim().toLowerCase()))
      input.limitUploadBytesPerSec = parseRate(f.limitUpload, '--limit-upload');
  } else if (prev?.limitUploadBytesPerSec !== undefined)
    input.limitUploadBytesPerSec = prev.limitUploadBytesPerSec;
  const p = buildProfile(input, nowMs, prev?.createdAtMs ?? nowMs);
  // An edit by command keeps where the profile was declared: the next apply puts the file back.
  if (prev?.source !== undefined) p.source = prev.source;
  return p;
}

function durationFlag(flag: string, v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${flag}: ${err.message}`, { hint: err.hint ?? '' });
    throw err;
  }
}
