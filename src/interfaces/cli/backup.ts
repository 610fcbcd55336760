/**
 * `nightshift backup …`: the backup engine's command surface (docs/backup.md). This module turns
 * flags, environment and key files into calls on the engine and prints the results; it holds no
 * backup logic of its own. Secrets (passwords, identities, writer keys) are only ever read from
 * files or the environment, never from argv, and never printed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Command, CommandUnknownOpts, OptionValues } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import { displayLocation, openBlobStore } from '../../backup/backends/open-store.ts';
import { diffAll, listAll } from '../../backup/browse.ts';
import { check, type CheckReport } from '../../backup/check.ts';
import { unlock } from '../../backup/lock.ts';
import { forgetSnapshots, prune, type PruneReport } from '../../backup/prune.ts';
import { restore } from '../../backup/restorer.ts';
import { stats as repoStats } from '../../backup/stats.ts';
import { dump } from '../../backup/tar.ts';
import { backup, type BackupOptions, type BackupResult, type BackupWarning } from '../../backup/archiver.ts';
import { FilesCache } from '../../backup/files-cache.ts';
import { addKey, keygen, listKeys, readIdentityFile, removeKey } from '../../backup/keys.ts';
import type { BlobStore, SnapshotMeta } from '../../backup/ports.ts';
import { initRepository, type InitOptions, type Repo } from '../../backup/repository.ts';
import {
  cacheDir,
  openRepoWithKeys,
  peekConfig,
  withLockedRepo,
  writerKeyPath,
  type Access,
  type LockMode,
  type RepoKeys,
} from '../../backup-jobs/open-repo.ts';
import { registerProfileCommands, registerQuickstartCommand } from './backup-profile.ts';
import { restoreSource } from '../../backup-jobs/restore-source.ts';
import { copySnapshots } from '../../backup/copy.ts';
import { openHome, type Home } from '../../config/home.ts';
import { EXIT, UserError } from '../../domain/errors.ts';

export { writerKeyPath };
import {
  applyRetention,
  parseRetentionDuration,
  type GroupField,
  type RetentionPolicy,
} from '../../domain/retention.ts';
import { printJson, printLine } from './output.ts';
import { renderTable } from './format.ts';
import { globalOptions } from './context.ts';
import { createProgress, formatBytes } from './progress.ts';

// ---------------------------------------------------------------------------------------------
// Flags shared by the subcommands

export interface RepoFlags {
  repo?: string;
  passwordFile?: string;
  identity?: string[];
  writerKey?: string;
  /** Hidden: present only to refuse a password on the command line without echoing it. */
  password?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function addRepoFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .option(
      '-r, --repo <location>',
      'repository: a directory, s3:https://host/bucket/prefix or sftp:user@host:/path (default: $NIGHTSHIFT_REPOSITORY)',
    )
    .option(
      '--password-file <file>',
      'read the repository password from this file (else $NIGHTSHIFT_PASSWORD); never pass it as a flag',
    )
    .option(
      '-i, --identity <file>',
      'age identity file for reading a recipients repository (repeatable)',
      collect,
    )
    .option(
      '--writer-key <file>',
      'writer key of a recipients repository (default: the one kept in the home)',
    )
    .addOption(new Option('--password <value>').hideHelp());
}

/** The repository location from --repo or $NIGHTSHIFT_REPOSITORY. */
export function repoLocation(flags: RepoFlags, env: NodeJS.ProcessEnv = process.env): string {
  const loc = flags.repo ?? env.NIGHTSHIFT_REPOSITORY;
  if (!loc)
    throw new UserError('no repository given', {
      hint: 'pass --repo PATH or set NIGHTSHIFT_REPOSITORY',
    });
  return loc;
}

/**
 * The password from --password-file or $NIGHTSHIFT_PASSWORD, or undefined. A single trailing
 * newline is dropped (files written by `echo`). The value never appears in an error.
 */
export function readPassword(flags: RepoFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flags.password !== undefined)
    throw new UserError(
      'a password on the command line would be visible to other users (ps, shell history)',
      {
        hint: 'put it in a file readable only by you and pass --password-file FILE, or set NIGHTSHIFT_PASSWORD',
      },
    );
  if (flags.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.passwordFile, 'utf8');
    } catch (err) {
      throw new UserError(
        `cannot read the password file ${flags.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        { hint: 'pass --password-file with a readable file holding the password' },
      );
    }
    const pw = text.replace(/\r?\n$/, '');
    if (pw === '')
      throw new UserError(`the password file ${flags.passwordFile} is empty`, {
        hint: 'write the password into the file',
      });
    return pw;
  }
  const env_ = env.NIGHTSHIFT_PASSWORD;
  return env_ === undefined || env_ === '' ? undefined : env_;
}

// ---------------------------------------------------------------------------------------------
// forget: flags to a retention policy

export interface ForgetFlags {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag?: string[];
  groupBy?: string;
  host?: string[];
  tag?: string[];
  path?: string[];
}

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'unlimited' || v === '-1') return Infinity;
  if (!/^\d+$/.test(v))
    throw new UserError(`--${flag} must be a whole number >= 0 or "unlimited", got "${value}"`, {
      hint: `e.g. --${flag} 7`,
    });
  return Number(v);
}

function parseSpan(flag: string, value: string | undefined): RetentionPolicy['within'] {
  if (value === undefined) return undefined;
  try {
    return parseRetentionDuration(value);
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(`--${flag}: ${err.message}`, { hint: err.hint ?? 'e.g. 7d, 1y6m, 36h' });
    throw err;
  }
}

/** Builds the retention policy from forget's flags; refuses an empty one. */
export function policyFromFlags(f: ForgetFlags): RetentionPolicy {
  const policy: RetentionPolicy = {
    last: parseCount('keep-last', f.keepLast),
    hourly: parseCount('keep-hourly', f.keepHourly),
    daily: parseCount('keep-daily', f.keepDaily),
    weekly: parseCount('keep-weekly', f.keepWeekly),
    monthly: parseCount('keep-monthly', f.keepMonthly),
    yearly: parseCount('keep-yearly', f.keepYearly),
    within: parseSpan('keep-within', f.keepWithin),
    withinHourly: parseSpan('keep-within-hourly', f.keepWithinHourly),
    withinDaily: parseSpan('keep-within-daily', f.keepWithinDaily),
    withinWeekly: parseSpan('keep-within-weekly', f.keepWithinWeekly),
    withinMonthly: parseSpan('keep-within-monthly', f.keepWithinMonthly),
    withinYearly: parseSpan('keep-within-yearly', f.keepWithinYearly),
    keepTags: f.keepTag,
  };
  for (const k of Object.keys(policy) as (keyof RetentionPolicy)[])
    if (policy[k] === undefined) delete policy[k];
  return policy;
}

export function parseGroupBy(value: string | undefined): GroupField[] {
  if (value === undefined) return ['host', 'paths'];
  const fields = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: GroupField[] = [];
  for (const f of fields) {
    const norm = f === 'hostname' ? 'host' : f === 'path' ? 'paths' : f === 'tag' ? 'tags' : f;
    if (norm !== 'host' && norm !== 'paths' && norm !== 'tags')
      throw new UserError(`--group-by: unknown field "${f}"`, {
        hint: 'use a comma list of host, paths, tags, or "" to judge all snapshots together',
      });
    if (!out.includes(norm)) out.push(norm);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Opening the repository

async function readIdentities(files: string[] | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const f of files ?? []) out.push(...(await readIdentityFile(f)));
  return out;
}

/** Opens the repository with whatever key the flags and environment give (see open-repo.ts). */
async function openRepo(homeDir: string, flags: RepoFlags, access: Access, store?: BlobStore): Promise<Repo> {
  const keys: RepoKeys = { identities: await readIdentities(flags.identity) };
  const password = readPassword(flags);
  if (password !== undefined) keys.password = password;
  if (flags.writerKey !== undefined) keys.writerKeyFile = flags.writerKey;
  return openRepoWithKeys(homeDir, store ?? repoLocation(flags), keys, access);
}

/**
 * Opens the home and the repository under a lock, runs `fn`, then closes and unlocks however it ends.
 */
async function withRepo<T>(
  cmd: CommandUnknownOpts,
  flags: RepoFlags,
  access: Access,
  lockMode: LockMode,
  fn: (repo: Repo, ctx: { home: Home; json: boolean }) => Promise<T>,
): Promise<T> {
  const g = globalOptions(cmd);
  const home = openHome(g.home);
  const location = repoLocation(flags);
  // Flags are checked before anything is written to the repository (a lock is a write).
  readPassword(flags);
  return withLockedRepo(
    location,
    lockMode,
    (store) => openRepo(home.dir, flags, access, store),
    (repo) => fn(repo, { home, json: g.json }),
  );
}

/** Writes a secret file: 0600, never over an existing file. */
export function writeSecretFile(path: string, text: string, what: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'EEXIST'
        ? `${path} already exists`
        : `cannot write the ${what} to ${path}: ${code ?? 'error'}`,
      { hint: `choose another path; an existing ${what} is never overwritten` },
    );
  }
}

function readRecipientsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(
      `cannot read the recipients file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        hint: 'pass --recipients-file with one age1… recipient a line',
      },
    );
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

// ---------------------------------------------------------------------------------------------
// Output helpers

function shortId(id: string): string {
  return id.slice(0, 8);
}

function localStamp(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function pathsText(s: SnapshotMeta): string {
  return s.pathsHidden ? '(encrypted)' : s.paths.join(', ');
}

function filterSnapshots(
  list: SnapshotMeta[],
  f: { host?: string[]; tag?: string[]; path?: string[] },
): SnapshotMeta[] {
  return list.filter(
    (s) =>
      (!f.host?.length || f.host.includes(s.hostname)) &&
      (!f.tag?.length || f.tag.some((t) => t.split(',').every((x) => s.tags.includes(x.trim())))) &&
      (!f.path?.length || f.path.every((p) => s.paths.includes(resolvePath(p)))),
  );
}

function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// ---------------------------------------------------------------------------------------------
// Commands

export function registerBackupCommands(program: CommandUnknownOpts): void {
  const group = program.command('backup').description('encrypted, deduplicated backups (see docs/backup.md)');
  registerProfileCommands(group);
  registerQuickstartCommand(group);

  addRepoFlags(
    group
      .command('init')
      .description(
        'create a repository: passphrase (--password-file / $NIGHTSHIFT_PASSWORD) or --recipient age1…',
      )
      .option('--recipient <age1…>', 'age X25519 recipient data is encrypted to (repeatable)', collect)
      .option('--recipients-file <file>', 'file with one recipient a line'),
  ).action(async (flags, cmd) => {
    const g = globalOptions(cmd);
    const home = openHome(g.home);
    const location = repoLocation(flags);
    const recipients = [
      ...(flags.recipient ?? []),
      ...(flags.recipientsFile ? readRecipientsFile(flags.recipientsFile) : []),
    ];
    if (flags.recipientsFile && recipients.length === 0)
      throw new UserError(`the recipients file ${flags.recipientsFile} holds no recipient`, {
        hint: 'write one age1… recipient a line',
      });
    let password: string | undefined;
    if (recipients.length > 0) {
      if (flags.passwordFile !== undefined || flags.password !== undefined)
        throw new UserError('give either a password or recipients, not both', {
          hint: 'a recipients repository has no password: drop --password-file',
        });
    } else {
      password = readPassword(flags);
      if (password === undefined)
        throw new UserError('init needs a password or at least one recipient', {
          hint: 'pass --password-file FILE (or set NIGHTSHIFT_PASSWORD) for a passphrase repository, or --recipient age1… for a public-key one',
        });
    }
    const opts: InitOptions = recipients.length > 0 ? { recipients } : { password: password! };
    const { repo, writerKey } = await initRepository(location, opts);
    let keyPath: string | undefined;
    try {
      if (writerKey !== undefined) {
        keyPath = writerKeyPath(home.dir, repo.id);
        writeSecretFile(keyPath, writerKey, 'writer key');
      }
    } finally {
      await repo.close();
    }
    if (g.json) {
      printJson({
        id: repo.id,
        location: displayLocation(location),
        mode: repo.mode,
        ...(keyPath ? { writerKey: keyPath } : {}),
      });
      return;
    }
    printLine(`created ${repo.mode} repository ${repo.id} at ${displayLocation(location)}`);
    if (keyPath) {
      printLine(`writer key: ${keyPath} (0600)`);
      printLine('  this host can back up and prune with it, but cannot read backups;');
      printLine(
        '  restore, ls, dump and check --read-data need --identity FILE (keep the identity off this host)',
      );
    }
  });

  group
    .command('keygen')
    .description('make an age identity for recipients repositories and print its recipient')
    .requiredOption('--out <file>', 'where to write the identity (created 0600; never overwritten)')
    .action(async (flags, cmd) => {
      const g = globalOptions(cmd);
      const { recipient, fileText } = await keygen();
      writeSecretFile(resolvePath(flags.out), fileText, 'identity');
      if (g.json) {
        printJson({ recipient, identityFile: resolvePath(flags.out) });
        return;
      }
      printLine(`recipient: ${recipient}`);
      printLine(`identity written to ${resolvePath(flags.out)} (0600)`);
      printLine(
        '  give the recipient to hosts (`backup init --recipient …`); keep the identity OFF those hosts:',
      );
      printLine('  a password manager or an offline machine. Without it no backup can be restored.');
    });

  addRepoFlags(
    group
      .command('run')
      .description('back up files and directories (or --stdin) into a new snapshot')
      .argument('[paths...]', 'files and directories to back up')
      .option('-e, --exclude <glob>', 'leave out matching paths (repeatable)', collect)
      .option('--exclude-file <file>', 'read exclude patterns from a file, one a line (repeatable)', collect)
      .option(
        '--exclude-if-present <name>',
        'leave out directories holding a file of this name (repeatable)',
        collect,
      )
      .option('-x, --one-file-system', 'do not cross into other filesystems')
      .option('--tag <tag>', 'tag the snapshot (repeatable)', collect)
      .option('--host <name>', 'host name recorded on the snapshot (default: this host)')
      .option('--stdin', 'back up standard input as one file')
      .option('--stdin-name <name>', 'file name for --stdin'),
  ).action(async (paths, flags, cmd) => {
    if (flags.stdin && paths.length > 0)
      throw new UserError('give either paths or --stdin, not both', {
        hint: 'e.g. `pg_dump db | nightshift backup run --stdin --stdin-name db.sql`',
      });
    if (!flags.stdin && paths.length === 0)
      throw new UserError('no paths to back up', {
        hint: 'name files or directories, or pass --stdin --stdin-name NAME',
      });
    if (flags.stdin && !flags.stdinName)
      throw new UserError('--stdin needs --stdin-name NAME', {
        hint: 'the name the stream gets in the snapshot, e.g. db.sql',
      });
    if (!flags.stdin && flags.stdinName) throw new UserError('--stdin-name only goes with --stdin');
    for (const f of flags.excludeFile ?? [])
      if (!existsSync(f))
        throw new UserError(`exclude file ${f} does not exist`, { hint: 'check the --exclude-file path' });
    if (flags.host !== undefined && flags.host.trim() === '') throw new UserError('--host must not be empty');
    for (const t of flags.tag ?? [])
      if (t.trim() === '' || t.includes(','))
        throw new UserError(`invalid --tag "${t}"`, { hint: 'tags are non-empty and have no commas' });

    await withRepo(cmd, flags, 'write', 'shared', async (repo, { home, json }) => {
      const host = flags.host ?? hostname();
      const wanted = flags.stdin
        ? ['/' + flags.stdinName!]
        : [...new Set(paths.map((p) => resolvePath(p)))].sort();
      const parent = (await repo.listSnapshots())
        .filter((s) => s.hostname === host && !s.pathsHidden && sameSet(s.paths, wanted))
        .pop();
      const filesCache = flags.stdin ? undefined : FilesCache.open(cacheDir(home.dir, repo.id));
      const { progress, warnings, onProgress, onWarning } = reporting<BackupWarning>(json);
      const opts: BackupOptions = {
        host,
        tags: flags.tag ?? [],
        onProgress,
        onWarning,
      };
      if (flags.stdin) opts.stdin = { stream: process.stdin, name: flags.stdinName! };
      else {
        opts.paths = paths;
        if (flags.exclude) opts.excludes = flags.exclude;
        if (flags.excludeFile) opts.excludeFiles = flags.excludeFile;
        if (flags.excludeIfPresent) opts.excludeIfPresent = flags.excludeIfPresent;
        if (flags.oneFileSystem) opts.oneFileSystem = true;
      }
      if (filesCache) opts.filesCache = filesCache;
      if (parent) opts.parent = parent;
      let result: BackupResult;
      try {
        result = await interruptible(
          (signal) => backup(repo, { ...opts, signal }),
          'backup interrupted: no snapshot was written',
          'run it again; data already stored is reused',
        );
      } finally {
        progress.done();
        filesCache?.close();
      }
      const { snapshot, stats } = result;
      if (json) {
        printJson({
          snapshotId: snapshot.id,
          time: snapshot.time,
          hostname: snapshot.hostname,
          paths: snapshot.paths,
          tags: snapshot.tags,
          ...(parent ? { parent: parent.id } : {}),
          stats,
          warnings: warnings.map((w) => ({ path: w.path, message: w.message, kind: w.kind })),
        });
      } else {
        printLine(
          `snapshot ${shortId(snapshot.id)} saved: ${stats.files} files, ${stats.dirs} dirs, ` +
            `${formatBytes(stats.bytesTotal ?? stats.bytesRead)} (${formatBytes(stats.bytesRead)} read, ` +
            `${formatBytes(stats.bytesNew)} new, ${formatBytes(stats.bytesStored ?? 0)} stored) in ${(stats.durationMs / 1000).toFixed(1)}s`,
        );
      }
      const skipped = warnings.filter((w) => w.kind === 'error').length;
      if (skipped > 0)
        throw new UserError(
          `${skipped} path${skipped === 1 ? '' : 's'} could not be read and ${skipped === 1 ? 'is' : 'are'} missing from snapshot ${shortId(snapshot.id)}`,
          {
            hint: 'see the warnings above; fix permissions or exclude the paths',
            exitCode: EXIT.failed,
            code: 'incomplete',
          },
        );
    });
  });

  addRepoFlags(
    group
      .command('snapshots')
      .description('list snapshots, oldest first')
      .option('--host <name>', 'only this host (repeatable)', collect)
      .option('--tag <tag>', 'only snapshots with the tag (a,b: with both; repeatable: any)', collect)
      .option('--path <path>', 'only snapshots including the path (repeatable)', collect),
  ).action(async (flags, cmd) => {
    await withRepo(cmd, flags, 'any', 'none', async (repo, { json }) => {
      const list = filterSnapshots(await repo.listSnapshots(), flags);
      if (json) {
        printJson(list);
        return;
      }
      if (list.length === 0) {
        printLine('no snapshots');
        return;
      }
      printLine(
        renderTable(
          ['ID', 'TIME', 'HOST', 'TAGS', 'SIZE', 'PATHS'],
          list.map((s) => [
            shortId(s.id),
            localStamp(s.time),
            s.hostname,
            s.tags.join(','),
            s.summary ? formatBytes(s.summary.bytesTotal ?? s.summary.bytesRead) : '',
            pathsText(s),
          ]),
        ),
      );
      printLine(`${list.length} snapshot${list.length === 1 ? '' : 's'}`);
    });
  });

  addRepoFlags(
    group
      .command('forget')
      .description('remove snapshots by a retention policy (restic semantics; see docs/backup.md)')
      .option('--keep-last <n>', 'keep the n newest snapshots')
      .option('--keep-hourly <n>', 'keep the newest snapshot of each of the n newest hours that have one')
      .option('--keep-daily <n>', '… days')
      .option('--keep-weekly <n>', '… ISO weeks')
      .option('--keep-monthly <n>', '… months')
      .option('--keep-yearly <n>', '… years')
      .option('--keep-within <span>', 'keep snapshots within span of the newest one (y, m = months, w, d, h)')
      .option('--keep-within-hourly <span>', 'within span, the newest of each hour')
      .option('--keep-within-daily <span>', 'within span, the newest of each day')
      .option('--keep-within-weekly <span>', 'within span, the newest of each week')
      .option('--keep-within-monthly <span>', 'within span, the newest of each month')
      .option('--keep-within-yearly <span>', 'within span, the newest of each year')
      .option('--keep-tag <tag>', 'keep snapshots with the tag (a,b: with both; repeatable: any)', collect)
      .option('--group-by <fields>', 'judge groups separately: host,paths,tags or "" (default host,paths)')
      .option('--host <name>', 'only consider this host (repeatable)', collect)
      .option('--tag <tag>', 'only consider snapshots with the tag (repeatable)', collect)
      .option('--path <path>', 'only consider snapshots including the path (repeatable)', collect)
      .option('-n, --dry-run', 'print what would be kept and removed, and why; change nothing')
      .option('--prune', 'prune right after, to free the space'),
  ).action(async (flags, cmd) => {
    const policy = policyFromFlags(flags);
    const groupBy = parseGroupBy(flags.groupBy);
    // Validates the policy (and refuses an empty one) before the repository is touched.
    applyRetention([], policy, { groupBy });
    await withRepo(cmd, flags, 'any', 'exclusive', async (repo, { json }) => {
      const all = filterSnapshots(await repo.listSnapshots(), flags);
      let by = groupBy;
      if (by.includes('paths') && all.some((s) => s.pathsHidden)) {
        by = by.filter((f) => f !== 'paths');
        if (!json)
          process.stderr.write(
            'note: snapshot paths are encrypted to the recipients; grouping without paths (pass --identity to group by paths)\n',
          );
      }
      const plan = applyRetention(all, policy, { groupBy: by, timeZone: localTimeZone() });
      const removeIds = plan.groups.flatMap((g) => g.remove.map((r) => r.snapshot.id));
      let removed: string[] = [];
      let pruneReport: PruneReport | undefined;
      if (!flags.dryRun && removeIds.length > 0) {
        await forgetSnapshots(repo, removeIds);
        removed = removeIds;
      }
      if (!flags.dryRun && flags.prune) pruneReport = await prune(repo);
      if (json) {
        printJson({
          dryRun: flags.dryRun === true,
          groups: plan.groups.map((g) => ({
            key: g.key,
            ...(g.hostname !== undefined ? { hostname: g.hostname } : {}),
            ...(g.paths !== undefined ? { paths: g.paths } : {}),
            ...(g.tags !== undefined ? { tags: g.tags } : {}),
            keep: g.keep.map((k) => ({ id: k.snapshot.id, time: k.snapshot.time, reasons: k.reasons })),
            remove: g.remove.map((r) => ({ id: r.snapshot.id, time: r.snapshot.time, reason: r.reason })),
          })),
          removed,
          ...(pruneReport !== undefined ? { prune: pruneReport } : {}),
        });
        return;
      }
      for (const g of plan.groups) {
        printLine(`${g.key || 'all snapshots'}: keep ${g.keep.length}, remove ${g.remove.length}`);
        const rows = [
          ...g.keep.map((k) => ({ s: k.snapshot, line: ['keep', k.reasons.join(', ')] })),
          ...g.remove.map((r) => ({ s: r.snapshot, line: ['remove', r.reason] })),
        ].sort((a, b) => b.s.time.localeCompare(a.s.time) || a.s.id.localeCompare(b.s.id));
        for (const r of rows)
          printLine(`  ${r.line[0]!.padEnd(6)}  ${shortId(r.s.id)}  ${localStamp(r.s.time)}  ${r.line[1]}`);
      }
      if (flags.dryRun)
        printLine(
          `dry run: ${removeIds.length} snapshot${removeIds.length === 1 ? '' : 's'} would be removed`,
        );
      else printLine(`removed ${removed.length} snapshot${removed.length === 1 ? '' : 's'}`);
      if (pruneReport !== undefined) printPrune(pruneReport);
    });
  });

  addRepoFlags(
    group
      .command('ls')
      .description("list a snapshot's files (under PATH)")
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('[path]', 'path inside the snapshot', '/')
      .option('--no-recursive', 'list only the entries directly under PATH'),
  ).action(async (snap, path, flags, cmd) => {
    await withRepo(cmd, flags, 'read', 'shared', async (repo, { json }) => {
      const snapshot = await repo.loadSnapshot(snap);
      const entries = await listAll(repo, snapshot, path);
      const shown = flags.recursive === false ? entries.filter((e) => isDirectChild(path, e.path)) : entries;
      if (json) {
        printJson({ snapshotId: snapshot.id, path, entries: shown });
        return;
      }
      for (const e of shown)
        printLine(
          `${e.permissions} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(12)}  ${localStamp(e.mtime)}  ${e.path}${e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : ''}`,
        );
    });
  });

  addRepoFlags(
    group
      .command('diff')
      .description('what changed between two snapshots')
      .argument('<a>', 'older snapshot')
      .argument('<b>', 'newer snapshot'),
  ).action(async (a, b, flags, cmd) => {
    await withRepo(cmd, flags, 'read', 'shared', async (repo, { json }) => {
      const [sa, sb] = [await repo.loadSnapshot(a), await repo.loadSnapshot(b)];
      const changes = await diffAll(repo, sa, sb);
      const count = (c: string): number => changes.filter((x) => x.change === c).length;
      const summary = {
        added: count('added'),
        removed: count('removed'),
        modified: count('modified'),
        metadata: count('metadata'),
      };
      if (json) {
        printJson({ a: sa.id, b: sb.id, changes, summary });
        return;
      }
      const sign: Record<string, string> = { added: '+', removed: '-', modified: 'M', metadata: 'U' };
      for (const c of changes)
        printLine(
          `${sign[c.change] ?? '?'}  ${c.path}${c.type === 'dir' ? '/' : ''}${c.fields?.length ? `  (${c.fields.join(', ')})` : ''}`,
        );
      printLine(
        `${summary.added} added, ${summary.removed} removed, ${summary.modified} modified, ${summary.metadata} metadata only`,
      );
    });
  });

  addRepoFlags(
    group
      .command('restore')
      .description('restore a snapshot into a directory (never writes outside it)')
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .option('-t, --target <dir>', 'directory to restore into (created if missing)')
      .option('--include <glob>', 'restore only matching paths (repeatable)', collect)
      .option('--exclude <glob>', 'leave out matching paths (repeatable)', collect)
      .option('--verify', 'read the restored files back and compare them with the snapshot')
      .option('--overwrite <policy>', 'existing files: always, if-changed (default) or never'),
  ).action(async (snap, flags, cmd) => {
    if (!flags.target)
      throw new UserError('restore needs --target DIR', { hint: 'e.g. --target /tmp/restore' });
    const overwrite = flags.overwrite ?? 'if-changed';
    if (overwrite !== 'always' && overwrite !== 'if-changed' && overwrite !== 'never')
      throw new UserError(`invalid --overwrite "${overwrite}"`, { hint: 'use always, if-changed or never' });
    await withRepo(cmd, flags, 'read', 'shared', async (repo, { json }) => {
      const snapshot = await repo.loadSnapshot(snap);
      const { progress, warnings, onProgress, onWarning } = reporting(json);
      let stats;
      try {
        stats = await interruptible(
          (signal) =>
            restore(repo, snapshot, {
              target: resolvePath(flags.target!),
              ...(flags.include ? { include: flags.include } : {}),
              ...(flags.exclude ? { exclude: flags.exclude } : {}),
              verify: flags.verify === true,
              overwrite,
              signal,
              onProgress,
              onWarning,
            }),
          'restore interrupted: the target holds a partial restore',
          'run it again; files already restored are skipped',
        );
      } finally {
        progress.done();
      }
      if (json) printJson({ snapshotId: snapshot.id, target: resolvePath(flags.target!), stats, warnings });
      else
        printLine(
          `restored snapshot ${shortId(snapshot.id)} to ${resolvePath(flags.target!)}: ${stats.files} files, ${stats.dirs} dirs, ${formatBytes(stats.bytesTotal)}` +
            (flags.verify ? `, ${stats.verified} verified` : '') +
            ` in ${(stats.durationMs / 1000).toFixed(1)}s`,
        );
      if (warnings.length > 0)
        throw new UserError(
          `${warnings.length} entr${warnings.length === 1 ? 'y' : 'ies'} could not be restored`,
          {
            hint: 'see the warnings above',
            exitCode: EXIT.failed,
            code: 'incomplete',
          },
        );
    });
  });

  addRepoFlags(
    group
      .command('dump')
      .description('write a snapshot (or a path in it) to stdout as a tar stream')
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('[path]', 'path inside the snapshot'),
  ).action(async (snap, path, flags, cmd) => {
    if (process.stdout.isTTY)
      throw new UserError('dump writes a tar stream; refusing to write it to a terminal', {
        hint: 'redirect it: `nightshift backup dump latest > backup.tar` or pipe it into `tar -x`',
      });
    await withRepo(cmd, flags, 'read', 'shared', async (repo) => {
      const snapshot = await repo.loadSnapshot(snap);
      await dump(repo, snapshot, path, process.stdout, {
        onWarning: (w) => process.stderr.write(`warning: ${w.path}: ${w.message}\n`),
      });
    });
  });

  group
    .command('copy')
    .description('copy snapshots to another repository (re-encrypted, deduplicated at the destination)')
    .argument('[snapshots...]', 'snapshot ids or prefixes (default: all)')
    .requiredOption('--from <location>', 'source repository')
    .requiredOption('--to <location>', 'destination repository (created with `backup init` first)')
    .option(
      '--from-password-file <file>',
      'source password (else $NIGHTSHIFT_FROM_PASSWORD, else the destination password)',
    )
    .option('--password-file <file>', 'destination password (else $NIGHTSHIFT_PASSWORD)')
    .option(
      '-i, --identity <file>',
      'age identity to read a recipients source repository (repeatable)',
      collect,
    )
    .action(async (ids, flags, cmd) => {
      const g = globalOptions(cmd);
      const home = openHome(g.home);
      const toPw = readPassword({
        ...(flags.passwordFile !== undefined ? { passwordFile: flags.passwordFile } : {}),
      });
      const fromPw =
        flags.fromPasswordFile !== undefined
          ? readPassword({ passwordFile: flags.fromPasswordFile })
          : process.env.NIGHTSHIFT_FROM_PASSWORD || toPw;
      const fromKeys: RepoKeys = { identities: await readIdentities(flags.identity) };
      if (fromPw !== undefined) fromKeys.password = fromPw;
      const toKeys: RepoKeys = {};
      if (toPw !== undefined) toKeys.password = toPw;
      const result = await withLockedRepo(
        flags.from,
        'shared',
        (store) => openRepoWithKeys(home.dir, store, fromKeys, 'read'),
        (from) =>
          withLockedRepo(
            flags.to,
            'shared',
            (store) => openRepoWithKeys(home.dir, store, toKeys, 'write'),
            async (to) => {
              const all = await from.listSnapshots();
              const chosen = ids.length === 0 ? all : await Promise.all(ids.map((i) => from.loadSnapshot(i)));
              return copySnapshots(from, to, chosen);
            },
          ),
      );
      if (g.json) {
        printJson(result);
        return;
      }
      for (const c of result.copied) printLine(`copied snapshot ${shortId(c.from)} -> ${shortId(c.to)}`);
      for (const s of result.skipped) printLine(`snapshot ${shortId(s)} is already in ${flags.to}`);
      printLine(
        `${result.copied.length} copied, ${result.skipped.length} already there; ${result.blobsNew} new blobs (${formatBytes(result.bytesNew)}) at the destination`,
      );
    });

  addRepoFlags(
    group
      .command('restore-source')
      .description(
        'restore a database, git or command source of a snapshot (pg_restore, mariadb, git clone, a file), or write it to stdout',
      )
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('<name>', 'the source name (see `backup ls SNAPSHOT /databases`)')
      .option('--into <target>', 'database name or URL, file, or directory to restore into (default: stdout)')
      .option('--db-password-file <file>', 'database password for pg_restore / mariadb, read from this file'),
  ).action(async (snap, name, flags, cmd) => {
    if (flags.into === undefined && process.stdout.isTTY)
      throw new UserError('refusing to write a dump to a terminal', {
        hint: 'pass --into DB|FILE|DIR, or redirect: `nightshift backup restore-source latest erp > erp.dump`',
      });
    const password =
      flags.dbPasswordFile !== undefined
        ? readFileSync(flags.dbPasswordFile, 'utf8').replace(/\r?\n$/, '')
        : undefined;
    await withRepo(cmd, flags, 'read', 'shared', async (repo) => {
      const snapshot = await repo.loadSnapshot(snap);
      const done = await restoreSource(repo, snapshot, name, {
        ...(flags.into !== undefined ? { into: flags.into } : {}),
        ...(password !== undefined ? { password } : {}),
      });
      process.stderr.write(`${done}\n`);
    });
  });

  addRepoFlags(
    group
      .command('check')
      .description('verify the repository; exit 1 when a problem is found')
      .option('--read-data', 'also decrypt and verify every blob')
      .option('--read-data-subset <percent>', 'decrypt and verify a random sample of packs, e.g. 10%'),
  ).action(async (flags, cmd) => {
    let readData: boolean | { subsetPercent: number } = flags.readData === true;
    if (flags.readDataSubset !== undefined) {
      if (flags.readData) throw new UserError('give --read-data or --read-data-subset, not both');
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(flags.readDataSubset.trim());
      const pct = m ? Number(m[1]) : NaN;
      if (!(pct > 0 && pct <= 100))
        throw new UserError(`invalid --read-data-subset "${flags.readDataSubset}"`, {
          hint: 'pass a percentage above 0 and at most 100, e.g. --read-data-subset 10%',
        });
      readData = { subsetPercent: pct };
    }
    await withRepo(cmd, flags, readData ? 'read' : 'any', 'shared', async (repo, { json }) => {
      const report = await check(repo, { readData });
      if (json) printJson(report);
      else printCheck(report);
      if (!report.ok)
        throw new UserError(
          `check found ${report.errors.length} problem${report.errors.length === 1 ? '' : 's'}`,
          {
            hint: 'see the list above; `nightshift backup prune` cannot repair missing or damaged data',
            exitCode: EXIT.failed,
            code: 'damaged',
          },
        );
    });
  });

  addRepoFlags(
    group
      .command('unlock')
      .description('remove stale locks (of dead processes, or not refreshed for 30 minutes)')
      .option(
        '--remove-all',
        'remove every lock: only when you know no nightshift process uses the repository',
      ),
  ).action(async (flags, cmd) => {
    const g = globalOptions(cmd);
    const location = repoLocation(flags);
    const store = openBlobStore(location);
    let res;
    try {
      if (!(await peekConfig(store)))
        throw new UserError(`no repository at ${displayLocation(location)}`, {
          hint: 'check the --repo location',
          exitCode: EXIT.notFound,
          code: 'not_found',
        });
      res = await unlock(store, { removeAll: flags.removeAll === true });
    } finally {
      await store.close?.();
    }
    if (g.json) {
      printJson(res);
      return;
    }
    for (const l of res.removed)
      printLine(
        `removed lock ${l.id.slice(0, 8)} (pid ${l.pid} on ${l.hostname}${l.staleReason ? `, ${l.staleReason}` : ''})`,
      );
    for (const l of res.kept) printLine(`kept live lock ${l.id.slice(0, 8)} (pid ${l.pid} on ${l.hostname})`);
    if (res.removed.length === 0) printLine('no stale locks');
  });

  addRepoFlags(
    group
      .command('prune')
      .description('delete data no snapshot refers to; repack partly used packs')
      .option('-n, --dry-run', 'report what would be freed; change nothing')
      .option(
        '--repack-threshold <percent>',
        'repack a pack when more than this share of it is unused (default 20%)',
      ),
  ).action(async (flags, cmd) => {
    let threshold: number | undefined;
    if (flags.repackThreshold !== undefined) {
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(flags.repackThreshold.trim());
      const pct = m ? Number(m[1]) : NaN;
      if (!(pct >= 0 && pct <= 100))
        throw new UserError(`invalid --repack-threshold "${flags.repackThreshold}"`, {
          hint: 'a percentage from 0 to 100, e.g. 20%',
        });
      threshold = pct / 100;
    }
    await withRepo(cmd, flags, 'any', 'exclusive', async (repo, { json }) => {
      const report = await prune(repo, {
        dryRun: flags.dryRun === true,
        ...(threshold !== undefined ? { repackThreshold: threshold } : {}),
      });
      if (json) printJson(report);
      else printPrune(report);
    });
  });

  addRepoFlags(
    group.command('stats').description('what the repository holds and what it costs on disk'),
  ).action(async (flags, cmd) => {
    await withRepo(cmd, flags, 'any', 'shared', async (repo, { json }) => {
      const st = await repoStats(repo);
      if (json) {
        printJson(st);
        return;
      }
      printLine(`snapshots:          ${st.snapshots}`);
      printLine(`data read by them:  ${formatBytes(st.snapshotBytes)}`);
      printLine(
        `unique data:        ${formatBytes(st.uniqueBytes)} in ${st.blobs} blobs (${st.dataBlobs} data, ${st.treeBlobs} tree)`,
      );
      printLine(
        `stored:             ${formatBytes(st.storedBytes)} (compression ${st.compressionRatio.toFixed(2)}x)`,
      );
      printLine(
        `repository files:   ${formatBytes(st.totalFileBytes)} (${st.packs} packs, ${st.indexFiles} index files)`,
      );
    });
  });

  const keys = group.command('keys').description('manage the passwords of a passphrase repository');
  addRepoFlags(keys.command('list').description('list key files (the one in use is marked)')).action(
    async (flags, cmd) => {
      await withRepo(cmd, flags, 'any', 'shared', async (repo, { json }) => {
        const list = await listKeys(repo);
        if (json) {
          printJson(list);
          return;
        }
        printLine(
          renderTable(
            ['', 'ID', 'KIND', 'CREATED', 'HOST', 'USER'],
            list.map((k) => [
              k.current ? '*' : '',
              shortId(k.id),
              k.kind,
              k.created ? localStamp(k.created) : '',
              k.hostname ?? '',
              k.username ?? '',
            ]),
          ),
        );
      });
    },
  );
  addRepoFlags(
    keys
      .command('add')
      .description('add a password; the new one is read from --new-password-file or $NIGHTSHIFT_NEW_PASSWORD')
      .option('--new-password-file <file>', 'file holding the new password'),
  ).action(async (flags, cmd) => {
    const newPassword = readPassword(
      { passwordFile: flags.newPasswordFile },
      { NIGHTSHIFT_PASSWORD: process.env.NIGHTSHIFT_NEW_PASSWORD },
    );
    if (newPassword === undefined)
      throw new UserError('keys add needs the new password', {
        hint: 'pass --new-password-file FILE or set NIGHTSHIFT_NEW_PASSWORD',
      });
    await withRepo(cmd, flags, 'any', 'exclusive', async (repo, { json }) => {
      const k = await addKey(repo, newPassword);
      if (json) printJson(k);
      else printLine(`added key ${shortId(k.id)}`);
    });
  });
  addRepoFlags(
    keys
      .command('remove')
      .description('remove a password key (not the last one, not the one in use)')
      .argument('<id>', 'key id or unique prefix (see keys list)'),
  ).action(async (id, flags, cmd) => {
    await withRepo(cmd, flags, 'any', 'exclusive', async (repo, { json }) => {
      const k = await removeKey(repo, id);
      if (json) printJson(k);
      else printLine(`removed key ${shortId(k.id)}`);
    });
  });
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === b[i]);
}

function printPrune(r: PruneReport): void {
  printLine(
    `${r.dryRun ? 'would remove' : 'removed'} ${r.packsDeleted} pack${r.packsDeleted === 1 ? '' : 's'}, repacked ${r.packsRepacked}, ` +
      `${r.blobsRemoved} unused blob${r.blobsRemoved === 1 ? '' : 's'}; ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)} ` +
      `(${formatBytes(r.bytesFreed)} ${r.dryRun ? 'to free' : 'freed'})`,
  );
  if (r.unindexedPacksRemoved || r.tempFilesRemoved)
    printLine(
      `cleaned up ${r.unindexedPacksRemoved} unindexed packs and ${r.tempFilesRemoved} temp files left by interrupted runs`,
    );
}

function isDirectChild(base: string, path: string): boolean {
  const b = '/' + base.split('/').filter(Boolean).join('/');
  const parent = path.slice(0, path.lastIndexOf('/')) || '/';
  return parent === b;
}

function printCheck(r: CheckReport): void {
  const c = r.counts;
  printLine(
    `checked ${c.snapshots} snapshots, ${c.packs} packs, ${c.blobs} blobs, ${c.treesChecked} trees` +
      (c.packsRead > 0 ? `; read ${c.packsRead} packs (${formatBytes(c.bytesRead)})` : ''),
  );
  for (const e of r.errors) printLine(`error: ${e.file ? `${e.file}: ` : ''}${e.message}`);
  for (const w of r.warnings) printLine(`warning: ${w.file ? `${w.file}: ` : ''}${w.message}`);
  for (const i of r.info) printLine(`info: ${i.file ? `${i.file}: ` : ''}${i.message}`);
  printLine(
    r.ok ? 'no errors were found' : `${r.errors.length} error${r.errors.length === 1 ? '' : 's'} found`,
  );
}

/** Progress and warnings of `run` and `restore`: a bar on a terminal, warnings on stderr (or in --json). */
function reporting<W extends { path: string; message: string }>(json: boolean) {
  const progress = createProgress({ enabled: !json });
  const warnings: W[] = [];
  return {
    progress,
    warnings,
    onProgress: (p: {
      files: number;
      bytesDone: number;
      totalFiles?: number;
      totalBytes?: number;
      current?: string;
    }) =>
      progress.update({
        files: p.files,
        bytes: p.bytesDone,
        totalFiles: p.totalFiles,
        totalBytes: p.totalBytes,
        current: p.current,
      }),
    onWarning: (w: W) => {
      warnings.push(w);
      progress.done();
      if (!json) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
    },
  };
}

/**
 * Runs long work that Ctrl-C or SIGTERM stops cleanly: the signal aborts it, and the abort becomes
 * a user-facing error (exit 1) saying what state was left behind.
 */
async function interruptible<T>(
  run: (signal: AbortSignal) => Promise<T>,
  message: string,
  hint: string,
): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(abort.signal);
  } catch (err) {
    if (abort.signal.aborted)
      throw new UserError(message, { hint, exitCode: EXIT.failed, code: 'interrupted' });
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
