/**
 * Backup profiles put to work: the operations the backup and drill executors and the MCP tools
 * share (open a profile's repository with its key reference, back up + forget + prune + verify,
 * list, check, drill). Keys come from secret references resolved here, at run time, and are
 * never stored or put into any message.
 */
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, open as fsOpen, readFile, rm, stat, statfs } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { backup, type BackupOptions, type BackupWarning } from '../backup/archiver.ts';
import { check, type CheckReport } from '../backup/check.ts';
import { FilesCache } from '../backup/files-cache.ts';
import { parseIdentities } from '../backup/keys.ts';
import { packPath } from '../backup/pack.ts';
import type { BlobId, SnapshotMeta, TreeNode } from '../backup/ports.ts';
import { forgetSnapshots, prune, type PruneReport } from '../backup/prune.ts';
import type { Repo } from '../backup/repository.ts';
import { stats as repoStats } from '../backup/stats.ts';
import { loadTree } from '../backup/tree.ts';
import { sha256Hex } from '../backup/crypto.ts';
import type { App } from '../config/app-context.ts';
import type { Clock } from '../domain/clock.ts';
import { parseSubset, type BackupProfile } from '../domain/backup-profile.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { BackupRunDetails, DrillRunDetails, EvidenceResult } from '../domain/job.ts';
import { applyRetention, formatSpan, isEmptyPolicy, type RetentionPolicy } from '../domain/retention.ts';
import {
  cacheDir,
  openRepoWithKeys,
  withLockedRepo,
  type Access,
  type LockMode,
  type RepoKeys,
} from './open-repo.ts';

/** Every snapshot a profile writes carries this tag, so retention never touches another profile's snapshots. */
export function profileTag(name: string): string {
  return `profile:${name}`;
}

/** The profile of that name, or a UserError listing the ones there are. */
export async function getProfile(app: App, name: string): Promise<BackupProfile> {
  const p = await app.store.profiles.get(name);
  if (p) return p;
  const names = (await app.store.profiles.list()).map((x) => x.name);
  throw new UserError(`no backup profile named "${name}"`, {
    hint:
      names.length > 0
        ? `profiles: ${names.join(', ')}`
        : 'create one with `nightshift backup profile add NAME --repo PATH ...` or `nightshift backup quickstart`',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}

/** The keys a profile's references resolve to, for the access asked for. */
async function resolveKeys(app: App, profile: BackupProfile, access: Access): Promise<RepoKeys> {
  const k = profile.key;
  if (k.kind === 'passphrase') return { password: (await app.secrets().resolve(k.ref)).reveal() };
  const keys: RepoKeys = {};
  if (k.writerKeyFile !== undefined) keys.writerKeyFile = k.writerKeyFile;
  if (access === 'read') {
    if (k.identityRef === undefined)
      throw new UserError(
        `profile ${profile.name} writes a recipients repository and has no identity reference, so this host cannot read its backups`,
        {
          hint: `give the age identity by reference: nightshift backup profile edit ${profile.name} --identity-ref file:/path/identity.txt (or vault:..., cmd:...)`,
          exitCode: EXIT.auth,
          code: 'auth',
        },
      );
    const secret = await app.secrets().resolve(k.identityRef);
    keys.identities = parseIdentities(secret.reveal(), k.identityRef);
  }
  return keys;
}

/** Opens a profile's repository with its key (resolved now); the caller closes it. */
export async function openProfileRepository(app: App, profile: BackupProfile, access: Access): Promise<Repo> {
  const keys = await resolveKeys(app, profile, access);
  return openRepoWithKeys(app.home.dir, profile.repository, keys, access);
}

async function withProfileRepo<T>(
  app: App,
  profile: BackupProfile,
  access: Access,
  lock: LockMode,
  fn: (repo: Repo) => Promise<T>,
): Promise<T> {
  // Keys first: a broken reference must not leave a lock behind or touch the repository.
  const keys = await resolveKeys(app, profile, access);
  return withLockedRepo(
    profile.repository,
    lock,
    () => openRepoWithKeys(app.home.dir, profile.repository, keys, access),
    fn,
  );
}

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}

/** The run was stopped by its signal (daemon shutdown, timeout). */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Disk-space precheck

export interface SpaceCheck {
  ok: boolean;
  freeBytes: number;
  neededBytes: number;
  reason?: string;
}

/** Free bytes for an unprivileged writer on the filesystem holding `path` (or its nearest existing parent). */
export async function freeBytesAt(path: string): Promise<number> {
  let p = path;
  for (;;) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (err) {
      const up = dirname(p);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || up === p) throw err;
      p = up;
    }
  }
}

/** Margin over the largest recent backup: new data can grow between runs. */
export const SPACE_MARGIN = 1.2;

/**
 * Whether the repository's filesystem has room: at least profile.minFreeBytes, and at least 1.2 x
 * the most a recent run of the job added.
 */
export async function precheckSpace(profile: BackupProfile, recentBytesAdded: number[]): Promise<SpaceCheck> {
  const freeBytes = await freeBytesAt(profile.repository);
  const largest = Math.max(0, ...recentBytesAdded);
  const estimate = Math.ceil(largest * SPACE_MARGIN);
  const floor = profile.minFreeBytes ?? 0;
  const neededBytes = Math.max(floor, estimate);
  if (freeBytes >= neededBytes) return { ok: true, freeBytes, neededBytes };
  const why =
    floor >= estimate
      ? `the profile's --min-free is ${fmtBytes(floor)}`
      : `${SPACE_MARGIN} x the largest recent backup (${fmtBytes(largest)} added)`;
  return {
    ok: false,
    freeBytes,
    neededBytes,
    reason: `not enough free space for the backup of profile ${profile.name}: ${fmtBytes(freeBytes)} free on the filesystem of ${profile.repository}, need ${fmtBytes(neededBytes)} (${why})`,
  };
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

// ---------------------------------------------------------------------------------------------
// Backup + forget + prune + verify

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

function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === b[i]);
}

/** The retention policy in words: `keep-last 3, keep-within 7d`. */
export function describeRetention(policy: RetentionPolicy): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(policy)) {
    if (v === undefined) continue;
    const flag = `keep-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
    if (k === 'keepTags') parts.push(`keep-tag ${(v as string[]).join(' ')}`);
    else if (typeof v === 'number' && !k.startsWith('within')) parts.push(`${flag} ${v}`);
    else parts.push(`${flag} ${formatSpan(v as Parameters<typeof formatSpan>[0])}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'keep everything';
}

/**
 * Backs up a profile's paths into a new snapshot, then applies its retention to the profile's
 * snapshots, prunes when due, verifies when configured, and gathers the evidence: the new
 * snapshot is listed and every blob it references is in the index, and retention left exactly
 * what the policy keeps. Throws UserError (bad key, lock held, repository damaged) or
 * InterruptedError.
 */
export async function runProfileBackup(
  app: App,
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
  interrupted(opts.signal);

  // 1. Backup, under a shared lock (other hosts may back up into the same repository meanwhile).
  let snapshot: SnapshotMeta;
  await withProfileRepo(app, profile, 'write', 'shared', async (repo) => {
    const mine = (await repo.listSnapshots()).filter((s) => s.hostname === host && s.tags.includes(tag));
    // With hidden paths (writer key only) the parent is trusted only if the profile's paths have not changed since.
    const parent = mine
      .filter((s) =>
        s.pathsHidden
          ? Date.parse(s.time) >= profile.updatedAtMs
          : sameSet(s.paths, [...profile.paths].sort()),
      )
      .pop();
    const filesCache = FilesCache.open(cacheDir(app.home.dir, repo.id));
    const bo: BackupOptions = {
      paths: profile.paths,
      host,
      tags: [tag, ...profile.tags],
      filesCache,
      onWarning: (w) => warnings.push(w),
    };
    if (profile.excludes.length > 0) bo.excludes = profile.excludes;
    if (parent) bo.parent = parent;
    if (opts.signal) bo.signal = opts.signal;
    if (opts.clock) bo.clock = opts.clock;
    try {
      const r = await backup(repo, bo);
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
      filesCache.close();
    }
  });
  interrupted(opts.signal);

  // 2. Forget per retention and prune when due: these delete, so they hold the lock exclusively.
  const policy = profile.retention;
  const pruneDue =
    profile.pruneEveryMs !== undefined &&
    (opts.lastPruneAtMs === undefined || now() - opts.lastPruneAtMs >= profile.pruneEveryMs);
  let expectKept: string[] | undefined;
  if (!isEmptyPolicy(policy) || pruneDue) {
    await withProfileRepo(app, profile, 'any', 'exclusive', async (repo) => {
      details.forgotten = [];
      if (!isEmptyPolicy(policy)) {
        const mine = (await repo.listSnapshots()).filter((s) => s.tags.includes(tag));
        // Paths may be encrypted (writer key): the profile tag already separates profiles, so group by host.
        const plan = applyRetention(mine, policy, { groupBy: ['host'], timeZone: localTimeZone() });
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
  interrupted(opts.signal);

  // 3. Evidence and verification, under a shared lock, from a fresh look at the repository.
  const verifyPct = profile.verifySubset !== undefined ? parseSubset(profile.verifySubset) : undefined;
  const canReadForVerify = profile.key.kind === 'passphrase' || profile.key.identityRef !== undefined;
  await withProfileRepo(
    app,
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
          errors: report.errors.length,
        };
        evidence.push({
          check: 'verify',
          ok: report.ok,
          detail: report.ok
            ? `check ${repo.canRead ? '--read-data-subset' : '(structure + pack hashes)'} ${profile.verifySubset}: ${report.counts.packsRead} packs read, no errors`
            : `check found ${report.errors.length} problem(s): ${report.errors
                .slice(0, 3)
                .map((e) => e.message)
                .join('; ')}`,
        });
      }
      details.repoBytes = (await repoStats(repo)).totalFileBytes;
    },
  );
  const unreadable = warnings.filter((w) => w.kind === 'error');
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

/**
 * `check` with a sample of the data read back. A repository opened with the writer key cannot
 * decrypt blobs, so there the sampled packs are verified against their content hash (any flipped
 * byte shows) on top of the structural check (authenticated pack headers vs the index).
 */
export async function verifyRepository(repo: Repo, subsetPercent: number): Promise<CheckReport> {
  if (repo.canRead) return check(repo, { readData: { subsetPercent } });
  const report = await check(repo, {});
  const packs = [...repo.index.packs.keys()];
  const chosen =
    subsetPercent >= 100 ? packs : packs.filter(() => randomInt(1_000_000) < subsetPercent * 10_000);
  for (const id of chosen) {
    const file = packPath(id);
    try {
      const bytes = await repo.store.read(file);
      report.counts.packsRead++;
      report.counts.bytesRead += bytes.length;
      if (sha256Hex(bytes) !== id)
        report.errors.push({ file, message: `pack ${file} is damaged: content does not match its name` });
    } catch (e) {
      report.errors.push({ file, message: `pack ${file} cannot be read: ${(e as Error).message}` });
    }
  }
  report.ok = report.errors.length === 0;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Listing and checking (MCP tools, CLI)

/** The profile's snapshots, oldest first (paths are hidden for a recipients repository). */
export async function listProfileSnapshots(app: App, name: string): Promise<SnapshotMeta[]> {
  const profile = await getProfile(app, name);
  const tag = profileTag(name);
  return withProfileRepo(app, profile, 'any', 'none', async (repo) =>
    (await repo.listSnapshots()).filter((s) => s.tags.includes(tag)),
  );
}

/** `check` of the profile's repository, optionally reading a subset of the data ("5%", "1/10"). */
export async function checkProfile(
  app: App,
  name: string,
  opts: { readDataSubset?: string } = {},
): Promise<CheckReport> {
  const profile = await getProfile(app, name);
  if (opts.readDataSubset === undefined)
    return withProfileRepo(app, profile, 'any', 'shared', (repo) => check(repo, {}));
  const pct = parseSubset(opts.readDataSubset, 'readDataSubset');
  const canRead = profile.key.kind === 'passphrase' || profile.key.identityRef !== undefined;
  return withProfileRepo(app, profile, canRead ? 'read' : 'any', 'shared', (repo) =>
    verifyRepository(repo, pct),
  );
}

// ---------------------------------------------------------------------------------------------
// Restore drills

export interface DrillOptions {
  sampleFiles?: number;
  samplePercent?: number;
  signal?: AbortSignal;
}

interface FileEntry {
  path: string;
  node: TreeNode;
}

async function regularFiles(repo: Repo, root: BlobId, signal?: AbortSignal): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const stack: { id: BlobId; prefix: string }[] = [{ id: root, prefix: '' }];
  while (stack.length > 0) {
    interrupted(signal);
    const { id, prefix } = stack.pop()!;
    const tree = await loadTree(repo, id);
    for (const n of tree.nodes) {
      const p = `${prefix}/${n.name}`;
      if (n.type === 'file') out.push({ path: p, node: n });
      else if (n.type === 'dir' && n.subtree) stack.push({ id: n.subtree, prefix: p });
    }
  }
  return out;
}

function sample<T>(items: T[], count: number): T[] {
  const a = [...items];
  const n = Math.min(count, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(a.length - i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * Restores a random sample of the regular files of the profile's latest snapshot into a temporary
 * directory (removed afterwards), re-reads each restored file and checks every chunk against the
 * snapshot's content ids, and compares it with the live file where that is unchanged since the
 * snapshot (same size and mtime). Failures are collected, not thrown; a repository that cannot be
 * opened or read at all throws.
 */
export async function runDrill(app: App, name: string, opts: DrillOptions = {}): Promise<DrillRunDetails> {
  const profile = await getProfile(app, name);
  const tag = profileTag(name);
  return withProfileRepo(app, profile, 'read', 'shared', async (repo) => {
    const mine = (await repo.listSnapshots()).filter((s) => s.tags.includes(tag));
    const latest = mine.at(-1);
    if (!latest)
      throw new UserError(`profile ${name} has no snapshot to drill yet`, {
        hint: 'run its backup first (`nightshift cron run JOB` or wait for the schedule)',
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    const details: DrillRunDetails = {
      profile: name,
      snapshotId: latest.id,
      sampled: 0,
      verified: 0,
      matchedLive: 0,
      skippedChanged: 0,
      failures: [],
    };
    let files: FileEntry[];
    try {
      files = await regularFiles(repo, latest.tree, opts.signal);
    } catch (err) {
      if (err instanceof InterruptedError) throw err;
      details.failures.push({
        path: '/',
        problem: `cannot read the snapshot's trees: ${(err as Error).message}`,
      });
      return details;
    }
    const count =
      opts.samplePercent !== undefined
        ? Math.max(1, Math.ceil((files.length * opts.samplePercent) / 100))
        : (opts.sampleFiles ?? 20);
    const chosen = sample(files, count);
    details.sampled = chosen.length;
    const dir = await mkdtemp(join(tmpdir(), 'nightshift-drill-'));
    try {
      for (let i = 0; i < chosen.length; i++) {
        interrupted(opts.signal);
        const f = chosen[i]!;
        const dest = join(dir, String(i));
        try {
          await restoreOne(repo, f.node, dest);
          details.verified++;
        } catch (err) {
          details.failures.push({ path: f.path, problem: (err as Error).message });
          continue;
        }
        let live;
        try {
          live = await stat(f.path, { bigint: true });
        } catch {
          details.skippedChanged++;
          continue;
        }
        // The same ns -> ms conversion as the walker's, so an untouched file compares equal exactly.
        if (
          !live.isFile() ||
          Number(live.size) !== f.node.size ||
          Number(live.mtimeNs) / 1e6 !== f.node.mtimeMs
        ) {
          details.skippedChanged++;
          continue;
        }
        try {
          if ((await sha256File(f.path)) === (await sha256File(dest))) details.matchedLive++;
          else
            details.failures.push({
              path: f.path,
              problem:
                'the restored content differs from the live file, although its size and mtime are unchanged',
            });
        } catch (err) {
          details.skippedChanged++;
          void err; // unreadable live file: nothing to compare against
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return details;
  });
}

/** Writes one file's chunks to `dest`, then reads it back and checks each chunk's id and the size. */
async function restoreOne(repo: Repo, node: TreeNode, dest: string): Promise<void> {
  const ids = node.content ?? [];
  const sizes: number[] = [];
  const fh = await fsOpen(dest, 'wx', 0o600);
  try {
    for (const id of ids) {
      const data = await repo.loadBlob(id);
      sizes.push(data.length);
      await fh.write(data);
    }
  } finally {
    await fh.close();
  }
  const back = await readFile(dest);
  let pos = 0;
  for (let i = 0; i < ids.length; i++) {
    const chunk = back.subarray(pos, pos + sizes[i]!);
    if (repo.blobId(chunk) !== ids[i])
      throw new Error(`restored content differs from the snapshot at byte ${pos}`);
    pos += sizes[i]!;
  }
  if (back.length !== node.size)
    throw new Error(`restored ${back.length} bytes, the snapshot records ${node.size}`);
}
