/**
 * Restore drills: restore a sample of a profile's (or a repository's) latest snapshot and prove it
 * is what was backed up.
 */
import { drillDatabases } from './drill-databases.ts';
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, open as fsOpen, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withRepository } from '../backup/access.ts';
import { parseIdentities } from '../backup/keys.ts';
import { sameMtime } from '../backup/mtime.ts';
import type { BlobId, SnapshotMeta, TreeNode } from '../backup/ports.ts';
import type { Repo } from '../backup/repository.ts';
import { loadTree } from '../backup/tree.ts';
import type { BackupProfile } from '../domain/backup-profile.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { DrillRunDetails } from '../domain/job.ts';
import type { BackupContext } from './context.ts';
import { InterruptedError, stopIfAborted } from './interrupted.ts';
import { getProfile, profileTag, withProfileRepository } from './profile-repository.ts';

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
    stopIfAborted(signal);
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

/** A repository named with the identity that reads it, drilled without a profile (on the host holding the identity). */
export interface RepositoryDrillTarget {
  /** Repository location (directory, s3:, sftp:); remote logins come from the environment. */
  repository: string;
  /** Secret reference to the age identity (file:/path, vault:..., cmd:...), resolved now. */
  identityRef: string;
  /** Only snapshots carrying this tag (e.g. `profile:NAME`); default: the latest of all. */
  tag?: string;
}

/**
 * Restores a random sample of the regular files of the profile's latest snapshot into a temporary
 * directory (removed afterwards), re-reads each restored file and checks every chunk against the
 * snapshot's content ids, and compares it with the live file where that is unchanged since the
 * snapshot (same size and mtime). Failures are collected, not thrown; a repository that cannot be
 * opened or read at all throws.
 */
export async function runDrill(
  ctx: BackupContext,
  name: string,
  opts: DrillOptions = {},
): Promise<DrillRunDetails> {
  const profile = await getProfile(ctx, name);
  const tag = profileTag(name);
  return withProfileRepository(ctx, profile, 'read', 'shared', (repo) =>
    drillLatest(repo, { profile: name, repository: profile.repository }, tag, opts, profile),
  );
}

/**
 * The same drill on a repository named by location and an identity reference: no profile needed,
 * so it runs where the identity lives (another host, an offline machine). The identity is
 * resolved now and kept in memory only.
 */
export async function runRepositoryDrill(
  ctx: BackupContext,
  target: RepositoryDrillTarget,
  opts: DrillOptions = {},
): Promise<DrillRunDetails> {
  // The identity first: a broken reference must not leave a lock behind or touch the repository.
  const secret = await ctx.secrets().resolve(target.identityRef);
  const identities = parseIdentities(secret.reveal(), target.identityRef);
  return withRepository(
    {
      location: target.repository,
      keys: { identities },
      access: 'read',
      lock: 'shared',
      workers: true,
      homeDir: ctx.home.dir,
      remote: {},
    },
    (repo) => drillLatest(repo, { repository: target.repository }, target.tag, opts),
  );
}

async function drillLatest(
  repo: Repo,
  what: { profile?: string; repository: string },
  tag: string | undefined,
  opts: DrillOptions,
  profile?: BackupProfile,
): Promise<DrillRunDetails> {
  const started = Date.now();
  const all = await repo.listSnapshots();
  const latest = (tag === undefined ? all : all.filter((s) => s.tags.includes(tag))).at(-1);
  if (!latest)
    throw new UserError(
      what.profile !== undefined
        ? `profile ${what.profile} has no snapshot to drill yet`
        : `the repository at ${what.repository} has no snapshot${tag !== undefined ? ` tagged ${tag}` : ''} to drill yet`,
      {
        hint: 'run its backup first (`nightshift cron run JOB` or wait for the schedule)',
        exitCode: EXIT.notFound,
        code: 'not_found',
      },
    );
  const details: DrillRunDetails = {
    ...(what.profile !== undefined ? { profile: what.profile } : {}),
    repository: what.repository,
    snapshotId: latest.id,
    sampled: 0,
    verified: 0,
    matchedLive: 0,
    skippedChanged: 0,
    failures: [],
    durationMs: 0,
  };
  try {
    await drillSnapshot(repo, latest, details, opts, profile);
  } finally {
    details.durationMs = Date.now() - started;
  }
  return details;
}

async function drillSnapshot(
  repo: Repo,
  latest: SnapshotMeta,
  details: DrillRunDetails,
  opts: DrillOptions,
  profile?: BackupProfile,
): Promise<void> {
  let files: FileEntry[];
  try {
    files = await regularFiles(repo, latest.tree, opts.signal);
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    details.failures.push({
      path: '/',
      problem: `cannot read the snapshot's trees: ${(err as Error).message}`,
    });
    return;
  }
  details.filesInSnapshot = files.length;
  const count =
    opts.samplePercent !== undefined
      ? Math.max(1, Math.ceil((files.length * opts.samplePercent) / 100))
      : (opts.sampleFiles ?? 20);
  const chosen = sample(files, count);
  details.sampled = chosen.length;
  const dir = await mkdtemp(join(tmpdir(), 'nightshift-drill-'));
  try {
    for (let i = 0; i < chosen.length; i++) {
      stopIfAborted(opts.signal);
      const f = chosen[i]!;
      const dest = join(dir, String(i));
      try {
        await restoreOne(repo, f.node, dest);
        details.verified++;
        details.bytesRestored = (details.bytesRestored ?? 0) + f.node.size;
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
      if (!live.isFile() || Number(live.size) !== f.node.size || !sameMtime(live.mtimeNs, f.node.mtimeMs)) {
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
  if (profile?.drillQuery !== undefined) {
    details.databases = await drillDatabases(repo, latest, profile, opts.signal);
    for (const d of details.databases)
      if (!d.ok) details.failures.push({ path: `database ${d.source}`, problem: d.problem ?? 'failed' });
  }
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
