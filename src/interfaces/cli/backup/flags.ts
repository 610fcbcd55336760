/**
 * Flags the `backup` commands share: the repository and its key (--repo, --password-file,
 * --identity, --writer-key), the retention policy of forget and profiles, and the recipients file.
 * Secrets (passwords, identities, writer keys) are only ever read from files or the environment,
 * never from argv, and never printed.
 */
import { readFileSync } from 'node:fs';
import type { Command, CommandUnknownOpts, OptionValues } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import type { RepositoryKeys } from '../../../backup/access.ts';
import { passwordOfFile } from '../../../backup/kdf.ts';
import { readIdentityFile } from '../../../backup/keys.ts';
import { requireProfile } from '../../../app/backup-profiles.ts';
import { profileRepositoryRef, type RepositoryRef } from '../../../app/backups.ts';
import { openHome } from '../../../config/home.ts';
import { UserError } from '../../../domain/errors.ts';
import { type GroupField, type RetentionPolicy } from '../../../domain/retention.ts';
import { retentionFromFlags, type RetentionFlags } from '../../../domain/retention-flags.ts';
import { globalOptions, withApp } from '../context.ts';

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export interface RepoFlags {
  profile?: string;
  repo?: string;
  passwordFile?: string;
  identity?: string[];
  writerKey?: string;
  /** Hidden: present only to refuse a password on the command line without echoing it. */
  password?: string;
}

/**
 * The flags naming a repository and its key, shared by every command on an existing repository:
 * either --profile NAME (repository and secrets from the backup profile) or --repo plus a key.
 */
export function addRepoFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return addRepoKeyFlags(
    cmd.option(
      '--profile <name>',
      "use a backup profile's repository and its key (instead of --repo and a key)",
    ),
  );
}

/** --repo and the key flags alone: for `init`, which creates the repository a profile would name. */
export function addRepoKeyFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .option('-r, --repo <path>', 'repository directory (default: $NIGHTSHIFT_REPOSITORY)')
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

/** A profile brings its own repository and key: one source, so nothing is silently ignored. */
function refuseKeyFlagsWithProfile(flags: RepoFlags): void {
  const given = [
    flags.repo !== undefined ? '--repo' : undefined,
    flags.passwordFile !== undefined ? '--password-file' : undefined,
    flags.identity !== undefined ? '--identity' : undefined,
    flags.writerKey !== undefined ? '--writer-key' : undefined,
    flags.password !== undefined ? '--password' : undefined,
  ].filter((f): f is string => f !== undefined);
  if (given.length > 0)
    throw new UserError(
      `--profile brings its own repository and key; ${given.join(', ')} cannot be given with it`,
      {
        hint: `drop ${given.join(', ')}, or drop --profile and name the repository and key yourself`,
      },
    );
}

/** Where the repository is, from --profile, --repo or $NIGHTSHIFT_REPOSITORY; no key is read. */
export async function repositoryLocation(cmd: CommandUnknownOpts, flags: RepoFlags): Promise<string> {
  if (flags.profile === undefined) return repoLocation(flags);
  refuseKeyFlagsWithProfile(flags);
  const name = flags.profile;
  return withApp(cmd, async (app) => (await requireProfile(app, name)).repository);
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
    const pw = passwordOfFile(text);
    if (pw === '')
      throw new UserError(`the password file ${flags.passwordFile} is empty`, {
        hint: 'write the password into the file',
      });
    return pw;
  }
  const env_ = env.NIGHTSHIFT_PASSWORD;
  return env_ === undefined || env_ === '' ? undefined : env_;
}

async function readIdentities(files: string[] | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const f of files ?? []) out.push(...(await readIdentityFile(f)));
  return out;
}

/**
 * The repository the flags name, with whatever key the flags and environment give, in the home
 * of --home. Flags are checked before anything is written to the repository (a lock is a write).
 */
export async function repositoryRef(cmd: CommandUnknownOpts, flags: RepoFlags): Promise<RepositoryRef> {
  if (flags.profile !== undefined) {
    refuseKeyFlagsWithProfile(flags);
    const name = flags.profile;
    return withApp(cmd, (app) => profileRepositoryRef(app, name));
  }
  const home = openHome(globalOptions(cmd).home);
  const location = repoLocation(flags);
  const password = readPassword(flags);
  const keys: RepositoryKeys = { identities: await readIdentities(flags.identity) };
  if (password !== undefined) keys.password = password;
  if (flags.writerKey !== undefined) keys.writerKeyFile = flags.writerKey;
  return { homeDir: home.dir, location, keys };
}

// ---------------------------------------------------------------------------------------------
// forget: flags to a retention policy

export interface ForgetFlags extends RetentionFlags {
  groupBy?: string;
  host?: string[];
  tag?: string[];
  path?: string[];
}

/** Builds the retention policy from forget's flags (domain/retention-flags.ts). */
export const policyFromFlags: (f: RetentionFlags) => RetentionPolicy = retentionFromFlags;

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

export function readRecipientsFile(path: string): string[] {
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
