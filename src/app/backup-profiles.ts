/**
 * The backup profile use cases: add, edit, remove, show and list the named backup settings that
 * jobs run, and quickstart (from nothing to a scheduled, encrypted, verified daily backup). Keys
 * are stored only as references: a passphrase as a secret reference, a recipients repository by
 * its writer key kept in the home.
 */
import { existsSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { peekRepository, writerKeyPath } from '../backup/access.ts';
import { resolveRemote } from '../backup-jobs/profile-repository.ts';
import { keygen } from '../backup/keys.ts';
import { initRepository } from '../backup/repository.ts';
import { getProfile } from '../backup-jobs/profile-repository.ts';
import { buildProfile, type BackupProfile } from '../domain/backup-profile.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import type { RetentionPolicy } from '../domain/retention.ts';
import { hostTimeZone, nextFireTimes } from '../domain/schedule.ts';
import { StoreConflictError } from '../store/store.ts';
import type { App } from './app.ts';
import { addJob, newJob } from './jobs.ts';
import { writeSecretFile } from './secret-file.ts';

/** A profile by name; `not_found` listing the existing ones otherwise. */
export function requireProfile(app: App, name: string): Promise<BackupProfile> {
  return getProfile(app, name);
}

export function listProfiles(app: App): Promise<BackupProfile[]> {
  return app.store.profiles.list();
}

/** Jobs whose payload runs the profile (backup or drill). */
export function jobsUsingProfile(jobs: Job[], name: string): Job[] {
  return jobs.filter(
    (j) => (j.payload.kind === 'backup' || j.payload.kind === 'drill') && j.payload.profile === name,
  );
}

export interface ProfileShow {
  profile: BackupProfile;
  /** The jobs that run it. */
  usedBy: Job[];
}

export async function showProfile(app: App, name: string): Promise<ProfileShow> {
  const profile = await getProfile(app, name);
  return { profile, usedBy: jobsUsingProfile(await app.store.listJobs(), name) };
}

/** Refuses a profile whose repository does not exist or is keyed the other way, before it is stored. */
export async function checkRepository(app: App, p: BackupProfile): Promise<void> {
  const head = await peekRepository(p.repository, await resolveRemote(app, p));
  if (!head)
    throw new UserError(`--repo: no repository at ${p.repository}`, {
      hint: `create it first: nightshift backup init --repo ${p.repository} (or use \`nightshift backup quickstart\`)`,
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  if (head.mode !== p.key.kind)
    throw new UserError(
      `${p.key.kind === 'passphrase' ? '--password-ref' : '--recipients-repo'}: the repository at ${p.repository} is a ${head.mode} repository`,
      { hint: head.mode === 'passphrase' ? 'use --password-ref REF' : 'use --recipients-repo' },
    );
  if (p.key.kind === 'recipients') {
    const wk = p.key.writerKeyFile ?? writerKeyPath(app.home.dir, head.id);
    if (!existsSync(wk))
      throw new UserError(`--recipients-repo: no writer key for repository ${head.id} at ${wk}`, {
        hint: 'create the profile on the host (and --home) that ran `backup init`, or pass --writer-key FILE',
        exitCode: EXIT.auth,
        code: 'auth',
      });
  }
}

function profileExists(name: string, hint: string): UserError {
  return new UserError(`a backup profile named "${name}" exists`, {
    hint,
    exitCode: EXIT.conflict,
    code: 'conflict',
  });
}

/**
 * Stores a new profile once its repository is checked. `build` makes it (validated) after the name
 * is known to be free, so a taken name is the first refusal.
 */
export async function addProfile(app: App, name: string, build: () => BackupProfile): Promise<BackupProfile> {
  if (await app.store.profiles.get(name))
    throw profileExists(
      name,
      `change it with \`nightshift backup profile edit ${name} ...\`, or choose another name`,
    );
  const p = build();
  await checkRepository(app, p);
  try {
    await app.store.profiles.insert(p);
  } catch (err) {
    if (err instanceof StoreConflictError)
      throw new UserError(err.message, { exitCode: EXIT.conflict, code: 'conflict' });
    throw err;
  }
  return p;
}

/** Whether a changed profile names another repository, key kind or login (so it is checked again). */
export function repositoryChanged(prev: BackupProfile, p: BackupProfile): boolean {
  return (
    p.repository !== prev.repository ||
    p.key.kind !== prev.key.kind ||
    JSON.stringify(p.remote) !== JSON.stringify(prev.remote)
  );
}

/** Changes a profile: `change` makes the new one from the stored one; a new repository or key kind is checked. */
export async function editProfile(
  app: App,
  name: string,
  change: (prev: BackupProfile) => BackupProfile,
): Promise<BackupProfile> {
  const prev = await getProfile(app, name);
  const p = change(prev);
  if (repositoryChanged(prev, p)) await checkRepository(app, p);
  await app.store.profiles.update(p);
  return p;
}

/** Removes a profile (not its repository); refused while a job runs it. */
export async function removeProfile(app: App, name: string): Promise<void> {
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
}

export interface QuickstartInput {
  /** The name of the profile and of the job. */
  name: string;
  /** What to back up (resolved against the working directory). */
  paths: string[];
  /** Repository directory; default `<home>/repository`. */
  repository?: string;
  /** Where the age identity is written; default `<home>/<name>-identity.txt`. */
  identityFile?: string;
  /** Time of day of the daily backup, host time zone. */
  dailyAt: { hh: number; mm: number };
  retention: RetentionPolicy;
  nowMs?: number;
}

export interface QuickstartResult {
  repository: string;
  repositoryId: string;
  /** The age recipient the repository is encrypted to. */
  recipient: string;
  identityFile: string;
  /** Path of the writer key kept in the home. */
  writerKey: string;
  profile: BackupProfile;
  job: Job;
  /** The job's first fire time, if it has one. */
  nextRunAtMs?: number;
  /** The host time zone the job's schedule runs in. */
  timeZone: string;
}

/**
 * Makes an age identity, a recipients repository encrypted to it, the writer key in the home, a
 * profile (keep-last, verify 5% after each backup, prune weekly) and a daily backup job.
 * Everything is checked before anything is created, so a refusal leaves nothing behind.
 */
export async function quickstart(app: App, input: QuickstartInput): Promise<QuickstartResult> {
  const { name } = input;
  const repo = resolvePath(input.repository ?? join(app.home.dir, 'repository'));
  const identityFile = resolvePath(input.identityFile ?? join(app.home.dir, `${name}-identity.txt`));
  const paths = input.paths.map((p) => resolvePath(p));
  if (await app.store.profiles.get(name))
    throw profileExists(name, `pass --name OTHER, or look at it: nightshift backup profile show ${name}`);
  if (await app.store.findJob(name))
    throw new UserError(`a job named "${name}" exists`, {
      hint: `pass --name OTHER, or look at it: nightshift cron show ${name}`,
      exitCode: EXIT.conflict,
      code: 'conflict',
    });
  if (await peekRepository(repo))
    throw new UserError(`--repo: a repository already exists at ${repo}`, {
      hint: 'pass --repo with a new directory, or make a profile for the existing one: nightshift backup profile add',
      exitCode: EXIT.exists,
      code: 'exists',
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
  const now = input.nowMs ?? Date.now();
  // Validated before the repository is made, like everything else.
  const profile = buildProfile(
    {
      name,
      repository: repo,
      key: { kind: 'recipients' },
      paths,
      retention: input.retention,
      pruneEveryMs: 7 * 86_400_000,
      verifySubset: '5%',
    },
    now,
  );
  const tz = hostTimeZone();
  const { hh, mm } = input.dailyAt;
  const job = newJob(
    {
      name,
      schedule: { kind: 'cron', expr: `${mm} ${hh} * * *`, tz },
      payload: { kind: 'backup', profile: name },
    },
    now,
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
  await app.store.profiles.insert(profile);
  await addJob(app, job);
  const next = nextFireTimes(job.schedule, now, 1, job.createdAtMs)[0];
  return {
    repository: repo,
    repositoryId: created.id,
    recipient,
    identityFile,
    writerKey: keyPath,
    profile,
    job,
    ...(next !== undefined ? { nextRunAtMs: next } : {}),
    timeZone: tz,
  };
}
