/**
 * Looking into snapshots without restoring them: `ls`, `find`, `diff`, and resolving a path inside
 * a snapshot. All of them read trees one directory at a time (bounded memory); unchanged subtrees
 * (same tree id) are skipped by `diff` without being read.
 *
 *   ls(repo, snapshot, path?, { recursive? }): AsyncGenerator<LsEntry>   (collect with listAll)
 *   find(repo, snapshot, patterns): AsyncGenerator<LsEntry>
 *   diff(repo, snapA, snapB): AsyncGenerator<DiffEntry>                 (collect with diffAll)
 *   findNode(repo, snapshot, path): Promise<TreeNode>
 */
import { EXIT, UserError } from '../domain/errors.ts';
import { PatternSet, splitPath } from './patterns.ts';
import type { BlobId, Repository, SnapshotMeta, TreeNode } from './ports.ts';
import { compareNames, loadTree } from './tree.ts';

type Reader = Pick<Repository, 'loadBlob' | 'canRead'>;

/** One entry as `ls --json` prints it. */
export interface LsEntry {
  path: string;
  name: string;
  type: TreeNode['type'];
  mode: number;
  /** Permission bits as `ls -l` shows them, e.g. "-rw-r--r--". */
  permissions: string;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  linkTarget?: string;
}

export type DiffChange = 'added' | 'removed' | 'modified' | 'metadata';

export interface DiffEntry {
  path: string;
  change: DiffChange;
  type: TreeNode['type'];
  /** For 'metadata' (and 'modified'): which fields differ. */
  fields?: string[];
}

function needRead(repo: Reader, what: string): void {
  if (!repo.canRead) {
    throw new UserError(`this repository is encrypted to recipients; ${what} needs --identity FILE`, {
      hint: `run ${what} where the age identity is available, with --identity FILE`,
      exitCode: EXIT.auth,
      code: 'needs_identity',
    });
  }
}

/** The node at `path` ("/home/ann/notes.txt") in a snapshot; a UserError when there is none. */
export async function findNode(repo: Reader, snapshot: SnapshotMeta, path: string): Promise<TreeNode> {
  needRead(repo, 'reading a snapshot');
  const comps = splitPath(path);
  if (comps.length === 0) return rootNode(snapshot);
  let treeId: BlobId | undefined = snapshot.tree;
  let node: TreeNode | undefined;
  for (let i = 0; i < comps.length; i++) {
    if (!treeId) break;
    const tree = await loadTree(repo, treeId);
    node = tree.nodes.find((n) => n.name === comps[i]);
    if (!node) break;
    treeId = i < comps.length - 1 ? node.subtree : undefined;
    if (i < comps.length - 1 && node.type !== 'dir') {
      node = undefined;
      break;
    }
  }
  if (!node) {
    throw new UserError(`${path} is not in snapshot ${snapshot.id.slice(0, 8)}`, {
      hint: `list what it holds with 'nightshift backup ls ${snapshot.id.slice(0, 8)}'`,
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  }
  return node;
}

function rootNode(snapshot: SnapshotMeta): TreeNode {
  return {
    name: '',
    type: 'dir',
    mode: 0o040755,
    uid: 0,
    gid: 0,
    mtimeMs: Date.parse(snapshot.time),
    size: 0,
    subtree: snapshot.tree,
  };
}

export function toLsEntry(path: string, n: TreeNode): LsEntry {
  const e: LsEntry = {
    path,
    name: n.name,
    type: n.type,
    mode: n.mode,
    permissions: permissionString(n),
    uid: n.uid,
    gid: n.gid,
    size: n.size,
    mtime: new Date(n.mtimeMs).toISOString(),
  };
  if (n.linkTarget !== undefined) e.linkTarget = n.linkTarget;
  return e;
}

export function permissionString(n: Pick<TreeNode, 'type' | 'mode'>): string {
  const t = n.type === 'dir' ? 'd' : n.type === 'symlink' ? 'l' : n.type === 'file' ? '-' : otherChar(n.mode);
  const m = n.mode;
  const rwx = (shift: number, special: number, ch: string): string => {
    const r = m & (4 << shift) ? 'r' : '-';
    const w = m & (2 << shift) ? 'w' : '-';
    const x = m & (1 << shift);
    const s = m & special;
    const xc = s ? (x ? ch : ch.toUpperCase()) : x ? 'x' : '-';
    return r + w + xc;
  };
  return t + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

function otherChar(mode: number): string {
  switch (mode & 0o170000) {
    case 0o010000:
      return 'p';
    case 0o020000:
      return 'c';
    case 0o060000:
      return 'b';
    case 0o140000:
      return 's';
    default:
      return '?';
  }
}

/**
 * Entries below `path` (default: the whole snapshot), depth-first in name order. The entry for
 * `path` itself comes first when it is not the root. `recursive: false` lists one level.
 */
export async function* ls(
  repo: Reader,
  snapshot: SnapshotMeta,
  path = '/',
  opts: { recursive?: boolean } = {},
): AsyncGenerator<LsEntry> {
  const node = await findNode(repo, snapshot, path);
  const base = '/' + splitPath(path).join('/');
  if (base !== '/') yield toLsEntry(base, node);
  if (node.type !== 'dir' || !node.subtree) return;
  yield* walkEntries(repo, node.subtree, base === '/' ? '' : base, opts.recursive ?? true);
}

async function* walkEntries(
  repo: Reader,
  treeId: BlobId,
  prefix: string,
  recursive: boolean,
): AsyncGenerator<LsEntry> {
  const tree = await loadTree(repo, treeId);
  for (const n of tree.nodes) {
    const p = `${prefix}/${n.name}`;
    yield toLsEntry(p, n);
    if (recursive && n.type === 'dir' && n.subtree) yield* walkEntries(repo, n.subtree, p, true);
  }
}

/** Entries whose path matches any of the patterns (patterns.ts semantics). */
export async function* find(
  repo: Reader,
  snapshot: SnapshotMeta,
  patterns: string[],
): AsyncGenerator<LsEntry> {
  const set = new PatternSet(patterns);
  for await (const e of ls(repo, snapshot, '/')) if (set.matches(e.path)) yield e;
}

export async function listAll(repo: Reader, snapshot: SnapshotMeta, path?: string): Promise<LsEntry[]> {
  const out: LsEntry[] = [];
  for await (const e of ls(repo, snapshot, path)) out.push(e);
  return out;
}

/**
 * What changed from snapshot A to snapshot B: entries added, removed, modified (content, type or
 * link target) and metadata-only changes (mode, owner, mtime). A directory that was added or
 * removed is reported together with everything inside it.
 */
export async function* diff(repo: Reader, a: SnapshotMeta, b: SnapshotMeta): AsyncGenerator<DiffEntry> {
  needRead(repo, 'diff');
  yield* diffTrees(repo, a.tree, b.tree, '');
}

async function* diffTrees(repo: Reader, aId: BlobId, bId: BlobId, prefix: string): AsyncGenerator<DiffEntry> {
  if (aId === bId) return;
  const [ta, tb] = await Promise.all([loadTree(repo, aId), loadTree(repo, bId)]);
  const an = [...ta.nodes].sort((x, y) => compareNames(x.name, y.name));
  const bn = [...tb.nodes].sort((x, y) => compareNames(x.name, y.name));
  let i = 0;
  let j = 0;
  while (i < an.length || j < bn.length) {
    const x = an[i];
    const y = bn[j];
    const c = x && y ? compareNames(x.name, y.name) : x ? -1 : 1;
    if (c < 0) {
      yield* everything(repo, x!, `${prefix}/${x!.name}`, 'removed');
      i++;
    } else if (c > 0) {
      yield* everything(repo, y!, `${prefix}/${y!.name}`, 'added');
      j++;
    } else {
      const p = `${prefix}/${x!.name}`;
      if (x!.type !== y!.type) {
        yield* everything(repo, x!, p, 'removed');
        yield* everything(repo, y!, p, 'added');
      } else {
        const content = contentDiffers(x!, y!);
        const meta = metadataDiffers(x!, y!);
        if (content) yield { path: p, change: 'modified', type: y!.type, fields: ['content', ...meta] };
        else if (meta.length > 0) yield { path: p, change: 'metadata', type: y!.type, fields: meta };
        if (x!.type === 'dir' && x!.subtree && y!.subtree) yield* diffTrees(repo, x!.subtree, y!.subtree, p);
      }
      i++;
      j++;
    }
  }
}

async function* everything(
  repo: Reader,
  n: TreeNode,
  path: string,
  change: 'added' | 'removed',
): AsyncGenerator<DiffEntry> {
  yield { path, change, type: n.type };
  if (n.type === 'dir' && n.subtree) {
    for await (const e of walkEntries(repo, n.subtree, path, true))
      yield { path: e.path, change, type: e.type };
  }
}

function contentDiffers(x: TreeNode, y: TreeNode): boolean {
  if (x.type === 'symlink') return x.linkTarget !== y.linkTarget;
  if (x.type !== 'file') return false;
  if (x.size !== y.size) return true;
  const a = x.content ?? [];
  const b = y.content ?? [];
  return a.length !== b.length || a.some((id, k) => id !== b[k]);
}

function metadataDiffers(x: TreeNode, y: TreeNode): string[] {
  const out: string[] = [];
  if (x.mode !== y.mode) out.push('mode');
  if (x.uid !== y.uid || x.gid !== y.gid) out.push('owner');
  // Directories' mtimes change whenever an entry does; that is not news on its own.
  if (x.type !== 'dir' && Math.floor(x.mtimeMs) !== Math.floor(y.mtimeMs)) out.push('mtime');
  return out;
}

export async function diffAll(repo: Reader, a: SnapshotMeta, b: SnapshotMeta): Promise<DiffEntry[]> {
  const out: DiffEntry[] = [];
  for await (const e of diff(repo, a, b)) out.push(e);
  return out;
}
