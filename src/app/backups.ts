/**
 * The backup use cases on a repository the caller names (location and keys): back up now, list,
 * forget, browse, restore, dump, check, prune, stats, unlock; and on a backup profile: its
 * snapshots, the check of its repository and the job that backs it up. Each opens the repository
 * through backup/access.ts with the access and lock it needs, and returns typed results; the
 * faces (the `backup` commands, the MCP backup tools) word and print them.
 */
import { resolve as resolvePath } from 'node:path';
import type { Writable } from 'node:stream';
import type { BackupOptions, BackupResult } from '../backup/archiver.ts';
import {
  cacheDir,
  peekRepository,
  repositoryStore,
  withRepository,
  type Access,
  type LockMode,
  type RepositoryKeys,
} from '../backup/access.ts';
import { diffAll, listAll, type DiffEntry, type LsEntry } from '../backup/browse.ts';
import { check, type CheckReport } from '../backup/check.ts';
import { incrementalBackup } from '../backup/incremental.ts';
import { unlock, type LockInfo } from '../backup/lock.ts';
import type { SnapshotMeta } from '../backup/ports.ts';
import { forgetSnapshots, prune, type PruneOptions, type PruneReport } from '../backup/prune.ts';
import type { Repo } from '../backup/repository.ts';
import { restore, type RestoreOptions, type RestoreStats } from '../backup/restorer.ts';
import { stats, type RepoStats } from '../backup/stats.ts';
import { dump } from '../backup/tar.ts';
import { checkProfile, listProfileSnapshots } from '../backup-jobs/profile-snapshots.ts';
import { getProfile, profileKeys, resolveRemote } from '../backup-jobs/profile-repository.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import {
  applyRetention,
  isEmptyPolicy,
  type GroupField,
  type RetentionPolicy,
  type RetentionResult,
} from '../domain/retention.ts';
import { hostTimeZone } from '../domain/schedule.ts';
import { displayLocation, type RemoteAccess } from '../backup/backends/open-store.ts';
import { copySnapshots, type CopyResult } from '../backup/copy.ts';
import { restoreSource, type RestoreSourceOptions } from '../backup-jobs/restore-source.ts';
import type { App } from './app.ts';

/** A repository as the caller names it: where, with which keys, from which home. */
export interface RepositoryRef {
  /** The home: where writer keys and files caches are kept. */
  homeDir: string;
  location: string;
  keys: RepositoryKeys;
  /** Logins and the upload limit for a remote repository (absent: the conventional environment). */
  remote?: RemoteAccess;
}

function using<T>(
  ref: RepositoryRef,
  access: Access,
  lock: LockMode,
  fn: (repo: Repo) => Promise<T>,
  opts: { index?: boolean; workers?: boolean } = {},
): Promise<T> {
  return withRepository({ ...ref, access, lock, ...opts }, fn);
}

// ---------------------------------------------------------------------------------------------
// Back up now

export type BackupNowInput = Pick<
  BackupOptions,
  | 'paths'
  | 'stdin'
  | 'excludes'
  | 'excludeFiles'
  | 'excludeIfPresent'
  | 'oneFileSystem'
  | 'onProgress'
  | 'onWarning'
  | 'signal'
> & { host: string; tags: string[] };

export interface BackupNowResult extends BackupResult {
  /** The snapshot the new one follows (backup/incremental.ts's rule). */
  parent?: SnapshotMeta;
}

/** A new snapshot of files or a stream; the parent and files cache as for a backup job. */
export function runBackup(ref: RepositoryRef, input: BackupNowInput): Promise<BackupNowResult> {
  return using(ref, 'write', 'shared', (repo) =>
    incrementalBackup(repo, { ...input, cacheDir: cacheDir(ref.homeDir, repo.id) }),
  );
}

// ---------------------------------------------------------------------------------------------
// Snapshots and retention

export interface SnapshotFilter {
  host?: string[];
  /** `a,b`: with both; several: any of them. */
  tag?: string[];
  path?: string[];
}

function filterSnapshots(list: SnapshotMeta[], f: SnapshotFilter): SnapshotMeta[] {
  return list.filter(
    (s) =>
      (!f.host?.length || f.host.includes(s.hostname)) &&
      (!f.tag?.length || f.tag.some((t) => t.split(',').every((x) => s.tags.includes(x.trim())))) &&
      (!f.path?.length || f.path.every((p) => s.paths.includes(resolvePath(p)))),
  );
}

/** The snapshots matching the filter, oldest first (read without a lock). */
export async function listSnapshots(
  ref: RepositoryRef,
  filter: SnapshotFilter = {},
): Promise<SnapshotMeta[]> {
  // Without the index: it grows with the repository, and a listing needs only the snapshot files.
  return using(ref, 'any', 'none', async (repo) => filterSnapshots(await repo.listSnapshots(), filter), {
    index: false,
  });
}

export interface ForgetInput {
  policy: RetentionPolicy;
  groupBy: GroupField[];
  filter?: SnapshotFilter;
  /** Decide and report; remove nothing. */
  dryRun?: boolean;
  /** Prune right after (not with dryRun). */
  prune?: boolean;
}

export interface ForgetResult {
  plan: RetentionResult<SnapshotMeta>;
  /** Paths were asked for in groupBy but are encrypted, so snapshots were grouped without them. */
  groupedWithoutPaths: boolean;
  /** The snapshots the plan removes (removed unless dryRun). */
  removeIds: string[];
  removed: string[];
  prune?: PruneReport;
}

/** Refuses an invalid or empty retention policy (a face calls it before it opens anything). */
export function checkForgetPolicy(policy: RetentionPolicy, groupBy: GroupField[]): void {
  applyRetention([], policy, { groupBy });
}

/**
 * Removes snapshots by a retention policy, in the host time zone's calendar. The policy is
 * validated (an empty one refused) before the repository is touched.
 */
export async function forget(ref: RepositoryRef, input: ForgetInput): Promise<ForgetResult> {
  checkForgetPolicy(input.policy, input.groupBy);
  return using(ref, 'any', 'exclusive', async (repo) => {
    const all = filterSnapshots(await repo.listSnapshots(), input.filter ?? {});
    let by = input.groupBy;
    const groupedWithoutPaths = by.includes('paths') && all.some((s) => s.pathsHidden);
    if (groupedWithoutPaths) by = by.filter((f) => f !== 'paths');
    const plan = applyRetention(all, input.policy, { groupBy: by, timeZone: hostTimeZone() });
    const removeIds = plan.groups.flatMap((g) => g.remove.map((r) => r.snapshot.id));
    const result: ForgetResult = { plan, groupedWithoutPaths, removeIds, removed: [] };
    if (!input.dryRun && removeIds.length > 0) {
      await forgetSnapshots(repo, removeIds);
      result.removed = removeIds;
    }
    if (!input.dryRun && input.prune) result.prune = await prune(repo);
    return result;
  });
}

// ---------------------------------------------------------------------------------------------
// Browse, restore, dump

function isDirectChild(base: string, path: string): boolean {
  const b = '/' + base.split('/').filter(Boolean).join('/');
  const parent = path.slice(0, path.lastIndexOf('/')) || '/';
  return parent === b;
}

/** A snapshot's entries under `path`; with recursive false only those directly under it. */
export function listFiles(
  ref: RepositoryRef,
  snapshotRef: string,
  path: string,
  opts: { recursive?: boolean } = {},
): Promise<{ snapshot: SnapshotMeta; entries: LsEntry[] }> {
  return using(ref, 'read', 'shared', async (repo) => {
    const snapshot = await repo.loadSnapshot(snapshotRef);
    const entries = await listAll(repo, snapshot, path);
    return {
      snapshot,
      entries: opts.recursive === false ? entries.filter((e) => isDirectChild(path, e.path)) : entries,
    };
  });
}

export interface DiffResult {
  a: SnapshotMeta;
  b: SnapshotMeta;
  changes: DiffEntry[];
  summary: { added: number; removed: number; modified: number; metadata: number };
}

/** What changed from snapshot a to snapshot b. */
export function diffSnapshots(ref: RepositoryRef, a: string, b: string): Promise<DiffResult> {
  return using(ref, 'read', 'shared', async (repo) => {
    const [sa, sb] = [await repo.loadSnapshot(a), await repo.loadSnapshot(b)];
    const changes = await diffAll(repo, sa, sb);
    const count = (c: string): number => changes.filter((x) => x.change === c).length;
    return {
      a: sa,
      b: sb,
      changes,
      summary: {
        added: count('added'),
        removed: count('removed'),
        modified: count('modified'),
        metadata: count('metadata'),
      },
    };
  });
}

/** Restores a snapshot into `opts.target` (resolved; never written outside). */
export function restoreSnapshot(
  ref: RepositoryRef,
  snapshotRef: string,
  opts: RestoreOptions,
): Promise<{ snapshot: SnapshotMeta; target: string; stats: RestoreStats }> {
  return using(
    ref,
    'read',
    'shared',
    async (repo) => {
      const snapshot = await repo.loadSnapshot(snapshotRef);
      const target = resolvePath(opts.target);
      const stats = await restore(repo, snapshot, { ...opts, target });
      return { snapshot, target, stats };
    },
    { workers: true },
  );
}

/** Writes a snapshot (or a path in it) to `out` as a tar stream. */
export async function dumpSnapshot(
  ref: RepositoryRef,
  snapshotRef: string,
  path: string | undefined,
  out: Writable,
  onWarning?: (w: { path: string; message: string }) => void,
): Promise<void> {
  await using(ref, 'read', 'shared', async (repo) => {
    const snapshot = await repo.loadSnapshot(snapshotRef);
    await dump(repo, snapshot, path, out, onWarning ? { onWarning } : {});
  });
}

// ---------------------------------------------------------------------------------------------
// Maintenance

/** Verifies the repository; readData decrypts every blob or a sample of packs. */
export function checkRepository(
  ref: RepositoryRef,
  readData: boolean | { subsetPercent: number },
): Promise<CheckReport> {
  // No index at open: check reads the index files itself, never the host's cache.
  return using(ref, readData ? 'read' : 'any', 'shared', (repo) => check(repo, { readData }), {
    index: false,
    workers: readData !== false,
  });
}

/** Deletes data no snapshot refers to, under the exclusive lock. */
export function pruneRepository(ref: RepositoryRef, opts: PruneOptions = {}): Promise<PruneReport> {
  return using(ref, 'any', 'exclusive', (repo) => prune(repo, opts));
}

export function repositoryStats(ref: RepositoryRef): Promise<RepoStats> {
  return using(ref, 'any', 'shared', (repo) => stats(repo));
}

/** Removes stale locks (every lock with removeAll); needs no key. */
export async function unlockRepository(
  location: string,
  opts: { removeAll?: boolean } = {},
): Promise<{ removed: LockInfo[]; kept: LockInfo[] }> {
  const store = repositoryStore(location);
  try {
    if (!(await peekRepository(store)))
      throw new UserError(`no repository at ${displayLocation(location)}`, {
        hint: 'check the --repo location',
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    return await unlock(store, { removeAll: opts.removeAll === true });
  } finally {
    await store.close?.();
  }
}

// ---------------------------------------------------------------------------------------------
// Backup profiles

/** The repository a profile names, with the keys its secret references resolve to now. */
export async function profileRepositoryRef(app: App, name: string): Promise<RepositoryRef> {
  const profile = await getProfile(app, name);
  // The profile's own logins (--ssh-key-ref, --s3-*-key-ref) and upload limit, as its jobs use them.
  return {
    homeDir: app.home.dir,
    location: profile.repository,
    keys: await profileKeys(app, profile),
    remote: await resolveRemote(app, profile),
  };
}

/** A profile's snapshots, oldest first (paths hidden when this host holds only the writer key). */
export function profileSnapshots(app: App, name: string): Promise<SnapshotMeta[]> {
  return listProfileSnapshots(app, name);
}

/** A snapshot as the API and the snapshots_list tool show it. */
export interface SnapshotView {
  id: string;
  shortId: string;
  time: string;
  hostname: string;
  /** Empty when pathsHidden. */
  paths: string[];
  /** A recipients repository read with the writer key only: paths are encrypted. */
  pathsHidden: boolean;
  tags: string[];
  summary: Record<string, number> | null;
  /** Every rule of the profile's retention that keeps it; null without a policy. */
  keptBy: string[] | null;
  /** Why the next backup's retention would remove it; null when kept or without a policy. */
  removeReason: string | null;
}

/** A profile's snapshots, oldest first, with the retention rules that keep each (or remove it). */
export async function profileSnapshotList(
  app: App,
  name: string,
): Promise<{ profile: string; total: number; snapshots: SnapshotView[] }> {
  const profile = await getProfile(app, name);
  const snaps = await listProfileSnapshots(app, name);
  const kept = new Map<string, string[]>();
  const removed = new Map<string, string>();
  if (!isEmptyPolicy(profile.retention)) {
    const plan = applyRetention(snaps, profile.retention, { groupBy: ['host'], timeZone: hostTimeZone() });
    for (const g of plan.groups) {
      for (const k of g.keep) kept.set(k.snapshot.id, k.reasons);
      for (const r of g.remove) removed.set(r.snapshot.id, r.reason);
    }
  }
  return {
    profile: profile.name,
    total: snaps.length,
    snapshots: snaps.map((s) => ({
      id: s.id,
      shortId: s.id.slice(0, 8),
      time: s.time,
      hostname: s.hostname,
      paths: s.paths,
      pathsHidden: s.pathsHidden === true,
      tags: s.tags,
      summary: s.summary ? { ...s.summary } : null,
      keptBy: kept.get(s.id) ?? null,
      removeReason: removed.get(s.id) ?? null,
    })),
  };
}

/** `check` of a profile's repository; readDataSubset ("5%", "1/10") also reads that share back. */
export function checkProfileRepository(
  app: App,
  name: string,
  opts: { readDataSubset?: string } = {},
): Promise<CheckReport> {
  return checkProfile(app, name, opts);
}

/** The one backup job that runs the profile; not_found when none, a refusal when several. */
export async function backupJobOfProfile(app: App, name: string): Promise<Job> {
  await getProfile(app, name);
  const jobs = (await app.store.listJobs()).filter(
    (j) => j.payload.kind === 'backup' && j.payload.profile === name,
  );
  if (jobs.length === 0)
    throw new UserError(`no backup job runs profile "${name}"`, {
      hint: `add one (admin): job_add with payload {"kind":"backup","profile":"${name}"}, or \`nightshift cron add --backup ${name}\``,
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  if (jobs.length > 1)
    throw new UserError(`several jobs back up profile "${name}": ${jobs.map((j) => j.name).join(', ')}`, {
      hint: 'give the job instead of the profile',
    });
  return jobs[0]!;
}

// ---------------------------------------------------------------------------------------------
// Sources and copies

/** Restores one database, git or command source of a snapshot (docs/sources.md). */
export function restoreSourceOf(
  ref: RepositoryRef,
  snapshot: string,
  name: string,
  opts: RestoreSourceOptions,
): Promise<string> {
  return using(ref, 'read', 'shared', async (repo) =>
    restoreSource(repo, await repo.loadSnapshot(snapshot), name, opts),
  );
}

/** Copies snapshots (all, or those named) from one repository to another. */
export function copyBetween(
  from: RepositoryRef,
  to: RepositoryRef,
  snapshots: string[],
): Promise<CopyResult> {
  return using(from, 'read', 'shared', (src) =>
    using(to, 'write', 'shared', async (dst) => {
      const chosen =
        snapshots.length === 0
          ? await src.listSnapshots()
          : await Promise.all(snapshots.map((s) => src.loadSnapshot(s)));
      return copySnapshots(src, dst, chosen);
    }),
  );
}
