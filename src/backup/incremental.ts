/**
 * The one way nightshift takes a backup of files or a stream: `backup run` and the backup jobs
 * both come through `incrementalBackup`, so both pick the parent snapshot by the same rule and
 * share the host's files cache of the repository.
 *
 * The parent rule: the newest snapshot of the same host whose paths are the paths this backup will
 * record (as the archiver records them: absolute, without duplicates or paths inside another
 * given path), and which carries `parentTag` when one is given (a profile's tag, so two profiles
 * over the same paths never chain into each other). A snapshot whose paths are encrypted (a
 * recipients repository opened with the writer key) is a parent only when the caller vouches
 * that its path list has not changed since `pathsUnchangedSinceMs`; without that it cannot be
 * compared and is passed over.
 */
import { backup, type BackupOptions, type BackupResult } from './archiver.ts';
import { FilesCache } from './files-cache.ts';
import type { Repository, SnapshotMeta } from './ports.ts';
import { normaliseRoots } from './walker.ts';

export interface ParentRule {
  host: string;
  /** The paths the new snapshot records. */
  roots: string[];
  /** Only snapshots carrying this tag. */
  tag?: string;
  /** Snapshots with encrypted paths taken at or after this instant are trusted to have `roots`. */
  pathsUnchangedSinceMs?: number;
}

/** The parent of a new snapshot among `snapshots` (oldest first), or undefined. */
export function chooseParent(snapshots: SnapshotMeta[], rule: ParentRule): SnapshotMeta | undefined {
  const roots = [...rule.roots].sort();
  return snapshots
    .filter(
      (s) =>
        s.hostname === rule.host &&
        (rule.tag === undefined || s.tags.includes(rule.tag)) &&
        (s.pathsHidden
          ? rule.pathsUnchangedSinceMs !== undefined && Date.parse(s.time) >= rule.pathsUnchangedSinceMs
          : sameSet(s.paths, roots)),
    )
    .pop();
}

/** The paths a snapshot of these inputs records (the archiver's own normalisation). */
export function snapshotRoots(what: {
  paths?: string[];
  stdinName?: string;
  streams?: { path: string[] }[];
}): string[] {
  if (what.stdinName !== undefined) return ['/' + what.stdinName];
  // Host paths, then the virtual path of each stream (database dumps, git bundles), as StreamsSource records them.
  const roots = what.paths?.length ? normaliseRoots(what.paths) : [];
  return [...roots, ...(what.streams ?? []).map((s) => '/' + s.path.join('/'))];
}

/** Whether two path lists hold the same paths; `sorted` must be sorted. */
function sameSet(a: string[], sorted: string[]): boolean {
  return a.length === sorted.length && [...a].sort().every((x, i) => x === sorted[i]);
}

export interface IncrementalOptions extends Omit<BackupOptions, 'parent' | 'filesCache' | 'host'> {
  host: string;
  /** The files cache directory of this repository on this host (none for a stream). */
  cacheDir?: string;
  /** See ParentRule. */
  parentTag?: string;
  pathsUnchangedSinceMs?: number;
}

/** Backs up with the parent chosen by the rule above and the files cache; closes the cache however it ends. */
export async function incrementalBackup(
  repo: Repository,
  opts: IncrementalOptions,
): Promise<BackupResult & { parent?: SnapshotMeta }> {
  const { cacheDir, parentTag, pathsUnchangedSinceMs, ...rest } = opts;
  const rule: ParentRule = {
    host: opts.host,
    roots: snapshotRoots(
      opts.stdin
        ? { stdinName: opts.stdin.name }
        : { paths: opts.paths ?? [], ...(opts.streams ? { streams: opts.streams } : {}) },
    ),
  };
  if (parentTag !== undefined) rule.tag = parentTag;
  if (pathsUnchangedSinceMs !== undefined) rule.pathsUnchangedSinceMs = pathsUnchangedSinceMs;
  const parent = chooseParent(await repo.listSnapshots(), rule);
  const filesCache = cacheDir !== undefined && !opts.stdin ? FilesCache.open(cacheDir) : undefined;
  const bo: BackupOptions = { ...rest };
  if (filesCache) bo.filesCache = filesCache;
  if (parent) bo.parent = parent;
  try {
    const result = await backup(repo, bo);
    return parent ? { ...result, parent } : result;
  } finally {
    filesCache?.close();
  }
}
