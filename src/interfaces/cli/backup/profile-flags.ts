/**
 * The flags of `backup profile add|edit`, and the profile they make over the previous one (edit)
 * or nothing (add). Keys are given only as references; a literal passphrase is refused unechoed.
 */
import { resolve as resolvePath } from 'node:path';
import type { Command, OptionValues } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import {
  buildProfile,
  parseBytes,
  type BackupProfile,
  type ProfileInput,
  type ProfileKey,
  type RemoteRefs,
} from '../../../domain/backup-profile.ts';
import {
  defaultSourceName,
  parseCommandSource,
  type SourceKind,
  type SourceSpec,
} from '../../../domain/backup-source.ts';
import { isRemoteLocation } from '../../../domain/repository-location.ts';
import { parseDuration } from '../../../domain/duration.ts';
import { UserError } from '../../../domain/errors.ts';
import { parseSecretRef } from '../../../secrets/secret-ref.ts';
import { collect, policyFromFlags, type ForgetFlags } from './flags.ts';

export interface ProfileFlags extends ForgetFlags {
  repo?: string;
  passwordRef?: string;
  recipientsRepo?: boolean;
  writerKey?: string;
  identityRef?: string;
  exclude?: string[];
  pruneEvery?: string;
  verifySubset?: string;
  minFree?: string;
  s3AccessKeyRef?: string;
  s3SecretKeyRef?: string;
  sshKeyRef?: string;
  knownHosts?: string;
  postgres?: string[];
  mysql?: string[];
  redis?: string[];
  sqlite?: string[];
  git?: string[];
  commandSource?: string[];
  optional?: string[];
  sourcePasswordRef?: string[];
  nice?: boolean;
  drillQuery?: string;
  copyTo?: string[];
  /** Hidden: present only to refuse a literal passphrase without echoing it. */
  password?: string;
}

export function addProfileFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .option(
      '-r, --repo <location>',
      'repository: an absolute directory, s3:https://host/bucket/prefix or sftp:user@host:/path (created by `backup init`)',
    )
    .option(
      '--s3-access-key-ref <ref>',
      's3: repository: where the access key id lives (else $AWS_ACCESS_KEY_ID)',
    )
    .option(
      '--s3-secret-key-ref <ref>',
      's3: repository: where the secret access key lives (else $AWS_SECRET_ACCESS_KEY)',
    )
    .option(
      '--ssh-key-ref <ref>',
      'sftp: repository: where the SSH private key lives (e.g. file:/root/.ssh/id_ed25519)',
    )
    .option('--known-hosts <file>', 'sftp: repository: known_hosts file the server key is checked against')
    .option(
      '--password-ref <ref>',
      'passphrase repository: where the passphrase lives (env:NAME, file:/path, vault:..., cmd:...)',
    )
    .option('--recipients-repo', 'recipients repository: back up with the writer key kept in the home')
    .option('--writer-key <file>', 'recipients repository: another writer key file')
    .option(
      '--identity-ref <ref>',
      'recipients repository: reference to the age identity, for drills and --verify-subset reads',
    )
    .option('--path <path>', 'file or directory to back up (repeatable; replaces the list on edit)', collect)
    .option(
      '--postgres <[name=]db>',
      'PostgreSQL database (name or postgresql:// URL) dumped with pg_dump -Fc (repeatable)',
      collect,
    )
    .option(
      '--mysql <[name=]db>',
      'MariaDB/MySQL database (name or mysql://user@host:port/db), --single-transaction (repeatable)',
      collect,
    )
    .option(
      '--redis <[name=]url>',
      'Redis server (redis://host:port) saved as an RDB snapshot (repeatable)',
      collect,
    )
    .option('--sqlite <[name=]file>', 'SQLite database read consistently while in use (repeatable)', collect)
    .option('--git <[name=]dir>', 'git repository as a bundle of all refs (repeatable)', collect)
    .option(
      '--command-source <name=command>',
      "any command's output, e.g. db='docker exec db pg_dump -Fc app' (repeatable)",
      collect,
    )
    .option(
      '--optional <name>',
      'this source may be down: skipped with a warning instead of failing the run (repeatable)',
      collect,
    )
    .option(
      '--source-password-ref <name=ref>',
      'database password of a --postgres/--mysql source, by reference (repeatable)',
      collect,
    )
    .option(
      '--copy-to <location>',
      'after each backup copy the snapshot to this repository too; retention applies there (repeatable; off)',
      collect,
    )
    .option(
      '--drill-query <sql>',
      'drills restore each database source into a scratch database and run this query, expecting rows (off)',
    )
    .option('--nice', 'run dump tools at the lowest CPU and I/O priority (nice 19, ionice idle)')
    .option(
      '-e, --exclude <glob>',
      'leave out matching paths (repeatable; replaces the list on edit)',
      collect,
    )
    .option('--tag <tag>', 'tag the snapshots (repeatable; replaces the list on edit)', collect)
    .option('--keep-last <n>', 'retention: keep the n newest snapshots')
    .option('--keep-hourly <n>', 'retention: the newest of each of the last n hours')
    .option('--keep-daily <n>', 'retention: … days')
    .option('--keep-weekly <n>', 'retention: … ISO weeks')
    .option('--keep-monthly <n>', 'retention: … months')
    .option('--keep-yearly <n>', 'retention: … years')
    .option('--keep-within <span>', 'retention: every snapshot within span of the newest (7d, 1y6m)')
    .option('--keep-within-hourly <span>', 'retention: within span, the newest of each hour')
    .option('--keep-within-daily <span>', 'retention: within span, the newest of each day')
    .option('--keep-within-weekly <span>', 'retention: within span, the newest of each week')
    .option('--keep-within-monthly <span>', 'retention: within span, the newest of each month')
    .option('--keep-within-yearly <span>', 'retention: within span, the newest of each year')
    .option('--keep-tag <tag>', 'retention: keep snapshots with the tag (repeatable)', collect)
    .option(
      '--prune-every <duration>',
      'free the space of forgotten snapshots at most this often (e.g. 7d; off)',
    )
    .option(
      '--verify-subset <percent>',
      'after each backup, check the repository reading this share of packs (5%, 1/10; off)',
    )
    .option(
      '--min-free <bytes>',
      'refuse to start below this much free space on the repository disk (2G; off)',
    )
    .addOption(new Option('--password <value>').hideHelp());
}

const RETENTION_FLAGS: (keyof ForgetFlags)[] = [
  'keepLast',
  'keepHourly',
  'keepDaily',
  'keepWeekly',
  'keepMonthly',
  'keepYearly',
  'keepWithin',
  'keepWithinHourly',
  'keepWithinDaily',
  'keepWithinWeekly',
  'keepWithinMonthly',
  'keepWithinYearly',
  'keepTag',
];

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

/** The key from the flags, or `prev` when none of the key flags was given. */
function keyFromFlags(f: ProfileFlags, prev: ProfileKey | undefined): ProfileKey {
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
    if (wk !== undefined) k.writerKeyFile = resolvePath(wk);
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

const SOURCE_FLAGS: [keyof ProfileFlags, SourceKind][] = [
  ['postgres', 'postgres'],
  ['mysql', 'mysql'],
  ['redis', 'redis'],
  ['sqlite', 'sqlite'],
  ['git', 'git'],
];

function splitNamed(text: string, kind: SourceKind): { name: string; target: string } {
  // NAME=target, unless the `=` belongs to a URL's query (after ://).
  const eq = text.indexOf('=');
  const scheme = text.indexOf('://');
  if (eq > 0 && (scheme < 0 || eq < scheme)) return { name: text.slice(0, eq), target: text.slice(eq + 1) };
  const target = kind === 'sqlite' || kind === 'git' ? resolvePath(text) : text;
  return { name: defaultSourceName(kind, target), target };
}

/** The sources from the flags; on edit, any source flag replaces the list (like --path). */
function sourcesFromFlags(f: ProfileFlags, prev: SourceSpec[] | undefined): SourceSpec[] {
  const given = SOURCE_FLAGS.some(([k]) => f[k] !== undefined) || f.commandSource !== undefined;
  let out: SourceSpec[];
  if (!given) out = (prev ?? []).map((s) => ({ ...s }));
  else {
    out = [];
    for (const [flag, kind] of SOURCE_FLAGS)
      for (const v of (f[flag] as string[] | undefined) ?? []) {
        const { name, target } = splitNamed(v, kind);
        out.push({ kind, name, target: kind === 'sqlite' || kind === 'git' ? resolvePath(target) : target });
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

/** A profile from `add`/`edit` flags over the previous profile (edit) or nothing (add). */
export function profileFromFlags(
  name: string,
  f: ProfileFlags,
  prev: BackupProfile | undefined,
  nowMs: number,
): BackupProfile {
  const repo =
    f.repo !== undefined ? (isRemoteLocation(f.repo) ? f.repo : resolvePath(f.repo)) : prev?.repository;
  if (repo === undefined)
    throw new UserError('--repo: missing', {
      hint: 'give the repository directory, e.g. --repo /mnt/backup/agent',
    });
  const input: ProfileInput = {
    name,
    repository: repo,
    key: keyFromFlags(f, prev?.key),
    paths: f.path !== undefined ? f.path.map((p) => resolvePath(p)) : (prev?.paths ?? []),
    excludes: f.exclude ?? prev?.excludes ?? [],
    tags: f.tag ?? prev?.tags ?? [],
    retention: RETENTION_FLAGS.some((k) => f[k] !== undefined) ? policyFromFlags(f) : (prev?.retention ?? {}),
  };
  const sources = sourcesFromFlags(f, prev?.sources);
  if (sources.length > 0) input.sources = sources;
  if (f.nice ?? prev?.lowPriority) input.lowPriority = true;
  const copies = (f.copyTo ?? prev?.copyTo ?? [])
    .filter((c) => !OFF.has(c))
    .map((c) => (isRemoteLocation(c) ? c : resolvePath(c)));
  if (copies.length > 0) input.copyTo = copies;
  const dq = f.drillQuery ?? prev?.drillQuery;
  if (dq !== undefined && !OFF.has(dq.trim().toLowerCase())) input.drillQuery = dq;
  const remote: RemoteRefs = { ...(f.repo !== undefined && f.repo !== prev?.repository ? {} : prev?.remote) };
  if (f.s3AccessKeyRef !== undefined)
    remote.s3AccessKeyRef = refFlag('--s3-access-key-ref', f.s3AccessKeyRef);
  if (f.s3SecretKeyRef !== undefined)
    remote.s3SecretKeyRef = refFlag('--s3-secret-key-ref', f.s3SecretKeyRef);
  if (f.sshKeyRef !== undefined) remote.sshKeyRef = refFlag('--ssh-key-ref', f.sshKeyRef);
  if (f.knownHosts !== undefined) remote.knownHostsFile = resolvePath(f.knownHosts);
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
    if (!OFF.has(f.minFree.trim().toLowerCase())) input.minFreeBytes = parseBytes(f.minFree, '--min-free');
  } else if (prev?.minFreeBytes !== undefined) input.minFreeBytes = prev.minFreeBytes;
  return buildProfile(input, nowMs, prev?.createdAtMs ?? nowMs);
}

function durationFlag(flag: string, v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${flag}: ${err.message}`, { hint: err.hint ?? '' });
    throw err;
  }
}
