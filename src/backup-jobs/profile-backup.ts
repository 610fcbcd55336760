/**
 * A backup job's work: back up a profile's paths into a new snapshot, apply its retention, prune
 * when due, verify when configured, and gather the evidence that the run did its work.
 */
import { hostname } from 'node:os';
import type { BackupWarning } from '../backup/archiver.ts';
import type { CheckReport } from '../backup/check.ts';
import { cacheDir, withRepository, type RepositoryKeys } from '../backup/access.ts';
import { localPath } from '../backup/backends/open-store.ts';
import { copySnapshots } from '../backup/copy.ts';
import { incrementalBackup, type IncrementalOptions } from '../backup/incremental.ts';
import type { SnapshotMeta } from '../backup/ports.ts';
import { forgetSnapshots, prune, type PruneReport } from '../backup/prune.ts';
import { stats as repoStats } from '../backup/stats.ts';
import { formatBytes } from '../domain/bytes.ts';
import type { Clock } from '../domain/clock.ts';
import { parseSubset, type BackupProfile } from '../domain/backup-profile.ts';
import type { BackupRunDetails, EvidenceResult } from '../domain/job.ts';
import { UserError } from '../domain/errors.ts';
import { applyRetention, describeRetention, isEmptyPolicy } from '../domain/retention.ts';
import { hostTimeZone } from '../domain/schedule.ts';
import type { BackupContext } from './context.ts';
import { InterruptedError, stopIfAborted } from './interrupted.ts';
import { planSources, sourceRecords } from './dump-sources.ts';
import {
  profileCanRead,
  profileTag,
  resolveKeys,
  resolveRemote,
  withProfileRepository,
} from './profile-repository.ts';
import { usedPercentAt } from './disk-space.ts';
import { verifyRepository } from './verify.ts';

export interface ProfileBackupOptions {
  signal?: AbortSignal;
  /** Time source for snapshot times and durations (the engine's clock). */
  clock?: Clock;
  now?: () => number;
  runId?: string;
  /** When the repository was last pruned by this job; with profile.pruneEveryMs decides whether prune is due. */
  lastPruneAtMs?: number;
  /** Free bytes measured by the precheck (recorded in the details). */
  freeBytesBefore?: number;
  /** Host name written into snapshots (default: this host). */
  host?: string;
}

export interface ProfileBackupResult {
  details: BackupRunDetails;
  /** What proves the run did its work; every entry must hold for the run to be `ok`. */
  evidence: EvidenceResult[];
  /** Files that could not be read (missing from the snapshot) or changed while read. */
  warnings: BackupWarning[];
  prune?: PruneReport;
  verify?: CheckReport;
}

/**
 * Backs up a profile's paths into a new snapshot, then applies its retention to the profile's
 * snapshots, prunes when due, verifies when configured, and gathers the evidence: the new
 * snapshot is listed and every blob it references is in the index, and retention left exactly
 * what the policy keeps. Throws UserError (bad key, lock held, repository damaged) or
 * InterruptedError.
 */
export async function runProfileBackup(
  ctx: BackupContext,
  profile: BackupProfile,
  opts: ProfileBackupOptions = {},
): Promise<ProfileBackupResult> {
  const now = opts.now ?? opts.clock?.now.bind(opts.clock) ?? Date.now;
  const started = now();
  const host = opts.host ?? hostname();
  const tag = profileTag(profile.name);
  const details: BackupRunDetails = { profile: profile.name, repository: profile.repository };
  if (opts.freeBytesBefore !== undefined) details.freeBytesBefore = opts.freeBytesBefore;
  const evidence: EvidenceResult[] = [];
  const warnings: BackupWarning[] = [];
  const result: ProfileBackupResult = { details, evidence, warnings };
  stopIfAborted(opts.signal);

  // Database, git and command sources: passwords resolved now, tools started by the archiver.
  const planned = await planSources(
    async (ref) => (await ctx.secrets().resolve(ref)).reveal(),
    profile.sources ?? [],
    { lowPriority: profile.lowPriority === true, now },
  );

  // 1. Backup, under a shared lock (other hosts may back up into the same repository meanwhile).
  let snapshot: SnapshotMeta;
  await withProfileRepository(ctx, profile, 'write', 'shared', async (repo) => {
    const bo: IncrementalOptions = {
      paths: profile.paths,
      streams: planned.map((p) => p.stream),
      host,
      tags: [tag, ...profile.tags],
      cacheDir: cacheDir(ctx.home.dir, repo.id),
      parentTag: tag,
      // With hidden paths (writer key only) a parent is trusted only if the profile has not changed since.
      pathsUnchangedSinceMs: profile.updatedAtMs,
      onWarning: (w) => warnings.push(w),
    };
    if (profile.excludes.length > 0) bo.excludes = profile.excludes;
    if (opts.signal) bo.signal = opts.signal;
    if (opts.clock) bo.clock = opts.clock;
    try {
      const r = await incrementalBackup(repo, bo);
      snapshot = r.snapshot;
      details.snapshotId = r.snapshot.id;
      details.filesUnmodified = r.stats.filesUnchanged;
      // Files read because they were new or changed (the files cache vouched for the others).
      details.filesChanged = r.stats.files - r.stats.filesUnchanged;
      details.bytesRead = r.stats.bytesRead;
      details.bytesAdded = r.stats.bytesStored;
    } catch (err) {
      if (opts.signal?.aborted) throw new InterruptedError();
      throw err;
    } finally {
      if (planned.length > 0) details.sources = sourceRecords(planned);
    }
  });
  for (const r of details.sources ?? [])
    evidence.push({
      check: `source ${r.name}`,
      ok: r.status !== 'failed',
      detail:
        r.status === 'ok'
          ? `${r.kind} ${r.path}: ${formatBytes(r.bytes)} in ${(r.durationMs / 1000).toFixed(1)} s, exit status 0`
          : `${r.status === 'skipped' ? 'WARNING: optional source skipped' : 'failed'}: ${r.reason ?? 'no output'}`,
    });
  stopIfAborted(opts.signal);

  // 2. Forget per retention and prune when due: these delete, so they hold the lock exclusively.
  const policy = profile.retention;
  const pruneDue =
    profile.pruneEveryMs !== undefined &&
    (opts.lastPruneAtMs === undefined || now() - opts.lastPruneAtMs >= profile.pruneEveryMs);
  let expectKept: string[] | undefined;
  if (!isEmptyPolicy(policy) || pruneDue) {
    await withProfileRepository(ctx, profile, 'any', 'exclusive', async (repo) => {
      details.forgotten = [];
      if (!isEmptyPolicy(policy)) {
        const mine = (await repo.listSnapshots()).filter((s) => s.tags.includes(tag));
        // Paths may be encrypted (writer key): the profile tag already separates profiles, so group by host.
        const plan = applyRetention(mine, policy, { groupBy: ['host'], timeZone: hostTimeZone() });
        const remove = plan.groups.flatMap((g) => g.remove.map((r) => r.snapshot.id));
        expectKept = plan.groups.flatMap((g) => g.keep.map((k) => k.snapshot.id));
        if (remove.length > 0) details.forgotten = await forgetSnapshots(repo, remove);
      }
      if (pruneDue) {
        result.prune = await prune(repo);
        details.pruned = true;
        details.prunedBytes = result.prune.bytesFreed;
      } else details.pruned = false;
    });
  } else details.pruned = false;
  stopIfAborted(opts.signal);

  // 3. Evidence and verification, under a shared lock, from a fresh look at the repository.
  const verifyPct = profile.verifySubset !== undefined ? parseSubset(profile.verifySubset) : undefined;
  const canReadForVerify = profileCanRead(profile);
  await withProfileRepository(
    ctx,
    profile,
    verifyPct !== undefined && canReadForVerify ? 'read' : 'any',
    'shared',
    async (repo) => {
      const id = snapshot!.id;
      const listed = await repo.listSnapshotRecords();
      const rec = listed.find((r) => r.meta.id === id);
      evidence.push({
        check: 'snapshot listed',
        ok: rec !== undefined,
        detail: rec
          ? `snapshot ${id.slice(0, 8)} is in ${profile.repository}`
          : `snapshot ${id.slice(0, 8)} is not listed in ${profile.repository}`,
      });
      if (rec) {
        const missing = rec.blobs.filter((b) => !repo.index.has(b)).length;
        evidence.push({
          check: 'index entries',
          ok: missing === 0,
          detail:
            missing === 0
              ? `all ${rec.blobs.length} blobs of snapshot ${id.slice(0, 8)} are in the index`
              : `${missing} of ${rec.blobs.length} blobs of snapshot ${id.slice(0, 8)} are missing from the index`,
        });
      }
      if (isEmptyPolicy(policy))
        evidence.push({
          check: 'retention',
          ok: true,
          detail: 'no retention policy: every snapshot is kept',
        });
      else {
        const now = new Set(listed.filter((r) => r.meta.tags.includes(tag)).map((r) => r.meta.id));
        const gone = (details.forgotten ?? []).filter((f) => now.has(f));
        const keptOk = (expectKept ?? []).every((k) => now.has(k)) && now.size === (expectKept ?? []).length;
        evidence.push({
          check: 'retention',
          ok: gone.length === 0 && keptOk,
          detail:
            `${describeRetention(policy)}: ${now.size} snapshot${now.size === 1 ? '' : 's'} of the profile kept, ` +
            `${details.forgotten?.length ?? 0} forgotten` +
            (gone.length > 0 ? `; ${gone.length} forgotten snapshot(s) are still listed` : '') +
            (keptOk ? '' : `; expected ${(expectKept ?? []).length} kept`),
        });
      }
      if (verifyPct !== undefined) {
        const report = await verifyRepository(repo, verifyPct);
        result.verify = report;
        details.verified = {
          ok: report.ok,
          readDataSubset: profile.verifySubset!,
          packsRead: report.counts.packsRead,
          bytesRead: report.counts.bytesRead,
          errors: report.errors.length,
        };
        evidence.push({
          check: 'verify',
          ok: report.ok,
          detail: report.ok
            ? `check ${repo.canRead ? '--read-data-subset' : '(structure + pack hashes)'} ${profile.verifySubset}: ${report.counts.packsRead} of ${report.counts.packs} packs read (${formatBytes(report.counts.bytesRead)}), no errors`
            : `check found ${report.errors.length} problem(s): ${report.errors
                .slice(0, 3)
                .map((e) => e.message)
                .join('; ')}`,
        });
      }
      details.repoBytes = (await repoStats(repo)).totalFileBytes;
      // For --alert-repo-usage: remote backends have no filesystem to speak of.
      const local = localPath(profile.repository);
      if (local !== undefined) details.repoDiskUsedPercent = await usedPercentAt(local);
    },
  );
  // 4. Copies to the other repositories, each with its own retention and evidence.
  for (const dest of profile.copyTo ?? []) {
    stopIfAborted(opts.signal);
    const rec = await copyToRepository(ctx, profile, snapshot!, dest, opts.signal);
    (details.copies ??= []).push(rec);
    evidence.push({
      check: `copy to ${dest}`,
      ok: rec.ok,
      detail: rec.ok
        ? `snapshot ${snapshot!.id.slice(0, 8)} is in ${dest} as ${rec.snapshotId?.slice(0, 8)}; retention there forgot ${rec.forgotten ?? 0}`
        : `copy failed: ${rec.error}`,
    });
  }

  // Skipped optional sources have their own (ok, warning) evidence above.
  const skipped = new Set((details.sources ?? []).filter((r) => r.status === 'skipped').map((r) => r.path));
  const unreadable = warnings.filter((w) => w.kind === 'error' && !skipped.has(w.path));
  if (unreadable.length > 0)
    evidence.push({
      check: 'all files read',
      ok: false,
      detail: `${unreadable.length} path(s) could not be read and are missing from the snapshot: ${unreadable
        .slice(0, 3)
        .map((w) => `${w.path} (${w.message})`)
        .join('; ')}`,
    });
  details.durationMs = now() - started;
  return result;
}

type CopyRecord = NonNullable<BackupRunDetails['copies']>[number];

/** Copies one snapshot of the profile to `dest` and applies the profile's retention there. */
async function copyToRepository(
  ctx: BackupContext,
  profile: BackupProfile,
  snapshot: SnapshotMeta,
  dest: string,
  signal?: AbortSignal,
): Promise<CopyRecord> {
  const rec: CopyRecord = { repository: dest, ok: false };
  try {
    const readKeys = await resolveKeys(ctx, profile, 'read');
    // The destination is keyed like the profile: the same passphrase, or its own writer key in the home.
    const writeKeys: RepositoryKeys =
      profile.key.kind === 'passphrase' ? { password: readKeys.password! } : {};
    const homeDir = ctx.home.dir;
    await withRepository(
      {
        location: profile.repository,
        keys: readKeys,
        access: 'read',
        lock: 'shared',
        homeDir,
        remote: await resolveRemote(ctx, profile),
        ...(profile.lowPriority === true ? { lowPriority: true } : {}),
      },
      (from) =>
        withRepository(
          {
            location: dest,
            keys: writeKeys,
            access: 'write',
            lock: 'shared',
            homeDir,
            ...(profile.lowPriority === true ? { lowPriority: true } : {}),
            // Copies get the profile's upload limit, not its logins (those are the source repository's).
            ...(profile.limitUploadBytesPerSec !== undefined
              ? { remote: { limitUploadBytesPerSec: profile.limitUploadBytesPerSec } }
              : {}),
          },
          async (to) => {
            const r = await copySnapshots(from, to, [snapshot], signal);
            rec.snapshotId =
              r.copied[0]?.to ??
              (await to.listSnapshots()).find(
                (s) => s.time === snapshot.time && s.hostname === snapshot.hostname,
              )?.id;
          },
        ),
    );
    if (!isEmptyPolicy(profile.retention))
      await withRepository(
        { location: dest, keys: writeKeys, access: 'any', lock: 'exclusive', homeDir },
        async (repo) => {
          const tag = profileTag(profile.name);
          const mine = (await repo.listSnapshots()).filter((s) => s.tags.includes(tag));
          const plan = applyRetention(mine, profile.retention, {
            groupBy: ['host'],
            timeZone: hostTimeZone(),
          });
          const remove = plan.groups.flatMap((g) => g.remove.map((x) => x.snapshot.id));
          rec.forgotten = remove.length > 0 ? (await forgetSnapshots(repo, remove)).length : 0;
        },
      );
    rec.ok = rec.snapshotId !== undefined;
    if (!rec.ok) rec.error = 'the copied snapshot is not listed at the destination';
    const local = localPath(dest);
    if (local !== undefined) rec.diskUsedPercent = await usedPercentAt(local);
  } catch (err) {
    rec.error =
      err instanceof UserError && err.hint ? `${err.message} (${err.hint})` : (err as Error).message;
  }
  return rec;
}
