/**
 * `nightshift backup profile …` (named backup settings a job runs with `--backup NAME`) and
 * `nightshift backup quickstart` (from nothing to a scheduled, encrypted, verified daily backup).
 * Keys are stored only as references: a passphrase as a secret reference, a recipients
 * repository by its writer key kept in the home.
 */
import { existsSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { Command, CommandUnknownOpts, OptionValues } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import { initRepository } from '../../backup/repository.ts';
import { keygen } from '../../backup/keys.ts';
import type { App } from '../../app/app.ts';
import { newJobId } from '../../domain/job-id.ts';
import { peekConfig, writerKeyPath } from '../../backup-jobs/open-repo.ts';
import { describeRetention, getProfile, resolveRemote } from '../../backup-jobs/service.ts';
import {
  buildProfile,
  parseBytes,
  type BackupProfile,
  type ProfileInput,
  type ProfileKey,
  type RemoteRefs,
} from '../../domain/backup-profile.ts';
import { isRemoteLocation } from '../../domain/repository-location.ts';
import {
  defaultSourceName,
  parseCommandSource,
  type SourceKind,
  type SourceSpec,
} from '../../domain/backup-source.ts';
import { formatDuration, parseDuration } from '../../domain/duration.ts';
import { EXIT, UserError } from '../../domain/errors.ts';
import type { Job } from '../../domain/job.ts';
import { buildJob } from '../../domain/job-validation.ts';
import { hostTimeZone, nextFireTimes } from '../../domain/schedule.ts';
import { parseSecretRef } from '../../secrets/secret-ref.ts';
import { StoreConflictError } from '../../store/store.ts';
import { policyFromFlags, writeSecretFile, type ForgetFlags } from './backup.ts';
import { globalOptions, withApp } from './context.ts';
import { printJson, printLine } from './output.ts';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface ProfileFlags extends ForgetFlags {
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

function addProfileFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
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
      'after each backup copy the snapshot to this repository too; retention applies there (repeatable; replaces on edit; off)',
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
function profileFromFlags(
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
  const copyTo = f.copyTo ?? prev?.copyTo ?? [];
  const copies = copyTo.filter((c) => !OFF.has(c)).map((c) => (isRemoteLocation(c) ? c : resolvePath(c)));
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

/** Refuses a profile whose repository does not exist or is keyed the other way, before it is stored. */
async function checkRepository(app: App, p: BackupProfile): Promise<void> {
  const cfg = await peekConfig(p.repository, await resolveRemote(app, p));
  if (!cfg)
    throw new UserError(`--repo: no repository at ${p.repository}`, {
      hint: `create it first: nightshift backup init --repo ${p.repository} (or use \`nightshift backup quickstart\`)`,
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  if (cfg.mode !== p.key.kind)
    throw new UserError(
      `${p.key.kind === 'passphrase' ? '--password-ref' : '--recipients-repo'}: the repository at ${p.repository} is a ${cfg.mode} repository`,
      { hint: cfg.mode === 'passphrase' ? 'use --password-ref REF' : 'use --recipients-repo' },
    );
  if (p.key.kind === 'recipients') {
    const wk = p.key.writerKeyFile ?? writerKeyPath(app.home.dir, cfg.id);
    if (!existsSync(wk))
      throw new UserError(`--recipients-repo: no writer key for repository ${cfg.id} at ${wk}`, {
        hint: 'create the profile on the host (and --home) that ran `backup init`, or pass --writer-key FILE',
        exitCode: EXIT.auth,
        code: 'auth',
      });
  }
}

/** Jobs whose payload runs the profile (backup or drill). */
export function jobsUsingProfile(jobs: Job[], name: string): Job[] {
  return jobs.filter(
    (j) => (j.payload.kind === 'backup' || j.payload.kind === 'drill') && j.payload.profile === name,
  );
}

function printProfile(p: BackupProfile, jobs: Job[]): void {
  printLine(`profile:     ${p.name}`);
  printLine(`repository:  ${p.repository}`);
  const r = p.remote;
  if (r?.s3AccessKeyRef) printLine(`s3 keys:     ${r.s3AccessKeyRef}, ${r.s3SecretKeyRef}`);
  if (r?.sshKeyRef) printLine(`ssh key:     ${r.sshKeyRef}`);
  if (r?.knownHostsFile) printLine(`known hosts: ${r.knownHostsFile}`);
  printLine(
    `key:         ${
      p.key.kind === 'passphrase'
        ? `passphrase from ${p.key.ref}`
        : `recipients (writer key ${p.key.writerKeyFile ?? 'kept in the home'}${p.key.identityRef ? `; identity from ${p.key.identityRef}` : '; this host cannot read the backups'})`
    }`,
  );
  printLine(`paths:       ${p.paths.join(', ') || '(none)'}`);
  for (const src of p.sources ?? [])
    printLine(
      `source:      ${src.name}: ${src.kind} ${src.kind === 'command' ? JSON.stringify(src.target) : src.target}${src.optional ? ' (optional)' : ''}`,
    );
  for (const c of p.copyTo ?? []) printLine(`copy to:     ${c}`);
  if (p.drillQuery) printLine(`drill query: ${p.drillQuery}`);
  if (p.lowPriority) printLine('priority:    low (nice 19, ionice idle for dump tools)');
  if (p.excludes.length > 0) printLine(`excludes:    ${p.excludes.join(', ')}`);
  if (p.tags.length > 0) printLine(`tags:        ${p.tags.join(', ')}`);
  printLine(`retention:   ${describeRetention(p.retention)}`);
  printLine(
    `prune:       ${p.pruneEveryMs !== undefined ? `every ${formatDuration(p.pruneEveryMs)}` : 'never (run `backup prune`)'}`,
  );
  printLine(
    `verify:      ${p.verifySubset !== undefined ? `check reading ${p.verifySubset} of packs after each backup` : 'no'}`,
  );
  printLine(
    `min free:    ${p.minFreeBytes !== undefined ? `${p.minFreeBytes} bytes` : 'estimated (1.2 x the largest recent backup)'}`,
  );
  printLine(`used by:     ${jobs.length > 0 ? jobs.map((j) => j.name).join(', ') : 'no job'}`);
}

export function registerProfileCommands(backupCommand: CommandUnknownOpts): void {
  const group = backupCommand
    .command('profile')
    .description('named backup settings that jobs run (--backup NAME)');

  addProfileFlags(
    group.command('add').description('create a backup profile').argument('<name>', 'profile name'),
  ).action(async (name, flags, cmd) => {
    await withApp(cmd, async (app) => {
      if (await app.store.profiles.get(name))
        throw new UserError(`a backup profile named "${name}" exists`, {
          hint: `change it with \`nightshift backup profile edit ${name} ...\`, or choose another name`,
          exitCode: EXIT.conflict,
          code: 'conflict',
        });
      const p = profileFromFlags(name, flags, undefined, Date.now());
      await checkRepository(app, p);
      try {
        await app.store.profiles.insert(p);
      } catch (err) {
        if (err instanceof StoreConflictError)
          throw new UserError(err.message, { exitCode: EXIT.conflict, code: 'conflict' });
        throw err;
      }
      if (globalOptions(cmd).json) printJson(p);
      else
        printLine(
          `created backup profile ${name} (${p.paths.length} path${p.paths.length === 1 ? '' : 's'} -> ${p.repository})`,
        );
    });
  });

  addProfileFlags(
    group
      .command('edit')
      .description('change a backup profile (only the flags given)')
      .argument('<name>', 'profile name'),
  ).action(async (name, flags, cmd) => {
    await withApp(cmd, async (app) => {
      const prev = await getProfile(app, name);
      const p = profileFromFlags(name, flags, prev, Date.now());
      if (
        p.repository !== prev.repository ||
        p.key.kind !== prev.key.kind ||
        JSON.stringify(p.remote) !== JSON.stringify(prev.remote)
      )
        await checkRepository(app, p);
      await app.store.profiles.update(p);
      if (globalOptions(cmd).json) printJson(p);
      else printLine(`updated backup profile ${name}`);
    });
  });

  group
    .command('show')
    .description('show a backup profile')
    .argument('<name>', 'profile name')
    .action(async (name, _flags, cmd) => {
      await withApp(cmd, async (app) => {
        const p = await getProfile(app, name);
        const jobs = jobsUsingProfile(await app.store.listJobs(), name);
        if (globalOptions(cmd).json)
          printJson({ ...p, usedBy: jobs.map((j) => ({ id: j.id, name: j.name })) });
        else printProfile(p, jobs);
      });
    });

  group
    .command('list')
    .description('list backup profiles')
    .action(async (_flags, cmd) => {
      await withApp(cmd, async (app) => {
        const list = await app.store.profiles.list();
        if (globalOptions(cmd).json) {
          printJson(list);
          return;
        }
        if (list.length === 0) {
          printLine(
            'no backup profiles (create one with `nightshift backup profile add` or `backup quickstart`)',
          );
          return;
        }
        for (const p of list)
          printLine(
            `${p.name.padEnd(20)} ${p.key.kind.padEnd(10)} ${p.repository}  (${describeRetention(p.retention)})`,
          );
      });
    });

  group
    .command('rm')
    .description('remove a backup profile (refused while a job uses it)')
    .argument('<name>', 'profile name')
    .action(async (name, _flags, cmd) => {
      await withApp(cmd, async (app) => {
        await getProfile(app, name);
        const jobs = jobsUsingProfile(await app.store.listJobs(), name);
        if (jobs.length > 0)
          throw new UserError(
            `backup profile ${name} is used by ${jobs.length === 1 ? 'job' : 'jobs'} ${jobs.map((j) => j.name).join(', ')}`,
            {
              hint: `remove or change those jobs first (nightshift cron rm ${jobs[0]!.name})`,
              exitCode: EXIT.conflict,
              code: 'conflict',
            },
          );
        await app.store.profiles.remove(name);
        if (globalOptions(cmd).json) printJson({ removed: name });
        else printLine(`removed backup profile ${name} (the repository and its snapshots are untouched)`);
      });
    });
}

/** `03:00` -> minute and hour of a daily cron expression. */
function dailyAt(text: string): { expr: string; hh: number; mm: number } {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  const hh = m ? Number(m[1]) : NaN;
  const mm = m ? Number(m[2]) : NaN;
  if (!(hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59))
    throw new UserError(`--at: cannot read ${JSON.stringify(text)} as a time of day`, {
      hint: 'e.g. --at 03:00',
    });
  return { expr: `${mm} ${hh} * * *`, hh, mm };
}

export function registerQuickstartCommand(backupCommand: CommandUnknownOpts): void {
  backupCommand
    .command('quickstart')
    .description(
      'one command to a scheduled, encrypted, verified daily backup (recipients repository + profile + job)',
    )
    .requiredOption('--path <dir>', 'what to back up (repeatable)', collect)
    .option('-r, --repo <path>', 'repository directory (default: <home>/repository)')
    .option('--at <HH:MM>', 'time of day of the backup, host time zone', '03:00')
    .option('--name <name>', 'name of the profile and the job', 'daily-backup')
    .option('--identity-out <file>', 'where to write the age identity (default: <home>/<name>-identity.txt)')
    .option('--keep-last <n>', 'snapshots kept', '7')
    .action(async (flags, cmd) => {
      const json = globalOptions(cmd).json;
      const at = dailyAt(flags.at);
      await withApp(cmd, async (app) => {
        const name = flags.name;
        const repo = resolvePath(flags.repo ?? join(app.home.dir, 'repository'));
        const identityFile = resolvePath(flags.identityOut ?? join(app.home.dir, `${name}-identity.txt`));
        const paths = flags.path.map((p) => resolvePath(p));
        // Everything is checked before anything is created, so a refusal leaves nothing behind.
        if (await app.store.profiles.get(name))
          throw new UserError(`a backup profile named "${name}" exists`, {
            hint: `pass --name OTHER, or look at it: nightshift backup profile show ${name}`,
            exitCode: EXIT.conflict,
            code: 'conflict',
          });
        if (await app.store.findJob(name))
          throw new UserError(`a job named "${name}" exists`, {
            hint: `pass --name OTHER, or look at it: nightshift cron show ${name}`,
            exitCode: EXIT.conflict,
            code: 'conflict',
          });
        if (await peekConfig(repo))
          throw new UserError(`--repo: a repository already exists at ${repo}`, {
            hint: 'pass --repo with a new directory, or make a profile for the existing one: nightshift backup profile add',
            exitCode: EXIT.conflict,
            code: 'conflict',
          });
        if (existsSync(identityFile))
          throw new UserError(`--identity-out: ${identityFile} already exists`, {
            hint: 'an identity is never overwritten; pass --identity-out with a new path',
            exitCode: EXIT.conflict,
            code: 'conflict',
          });
        for (const p of paths)
          if (!existsSync(p))
            throw new UserError(`--path: ${p} does not exist`, {
              hint: 'give existing files or directories',
            });
        const keepLast = policyFromFlags({ keepLast: flags.keepLast });
        const now = Date.now();
        // Validated before the repository is made, like everything else.
        const draft = buildProfile(
          {
            name,
            repository: repo,
            key: { kind: 'recipients' },
            paths,
            retention: keepLast,
            pruneEveryMs: 7 * 86_400_000,
            verifySubset: '5%',
          },
          now,
        );
        const tz = hostTimeZone();
        const job = buildJob(
          { name, schedule: { kind: 'cron', expr: at.expr, tz }, payload: { kind: 'backup', profile: name } },
          now,
          newJobId,
        );

        const { recipient, fileText } = await keygen();
        writeSecretFile(identityFile, fileText, 'identity');
        const { repo: created, writerKey } = await initRepository(repo, { recipients: [recipient] });
        const keyPath = writerKeyPath(app.home.dir, created.id);
        try {
          writeSecretFile(keyPath, writerKey!, 'writer key');
        } finally {
          await created.close();
        }
        await app.store.profiles.insert(draft);
        await app.store.insertJob(job);
        const next = nextFireTimes(job.schedule, now, 1, job.createdAtMs)[0];
        if (json) {
          printJson({
            repository: repo,
            repositoryId: created.id,
            recipient,
            identityFile,
            writerKey: keyPath,
            profile: draft,
            job: { id: job.id, name: job.name, schedule: job.schedule, nextRunAtMs: next ?? null },
          });
          return;
        }
        printLine(`created a recipients repository at ${repo}`);
        printLine(`  writer key (backs up, cannot read): ${keyPath}`);
        printLine(`age identity (reads the backups): ${identityFile} (0600)`);
        printLine('  MOVE IT OFF THIS MACHINE (password manager, offline disk) and delete it here:');
        printLine('  whoever holds it can read every backup; without it no backup can be restored.');
        printLine(
          `profile ${name}: ${paths.join(', ')}; ${describeRetention(draft.retention)}; verify 5% after each backup; prune weekly`,
        );
        printLine(
          `job ${name}: daily at ${String(at.hh).padStart(2, '0')}:${String(at.mm).padStart(2, '0')} (${tz})` +
            (next !== undefined ? `, next ${new Date(next).toISOString()}` : ''),
        );
        printLine('');
        printLine('next steps:');
        const steps: [string, string][] = [
          ['nightshift daemon', 'runs the schedule (or install it as a service)'],
          [`nightshift cron run ${name}`, 'a first backup now'],
          [`nightshift cron runs --id ${name}`, 'results, with the evidence of each run'],
        ];
        const width = Math.max(...steps.map(([c]) => c.length));
        for (const [c, why] of steps) printLine(`  ${c.padEnd(width)}  # ${why}`);
        printLine('restore (on a machine holding the identity):');
        printLine(
          `  nightshift backup restore latest --repo ${repo} --identity ${identityFile} --target /tmp/restore`,
        );
      });
    });
}
