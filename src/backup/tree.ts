/**
 * Tree blobs: one directory's entries, serialised deterministically so that the same directory
 * always yields the same bytes and therefore the same blob id (unchanged subtrees deduplicate).
 *
 * Encoding (docs/FORMAT.md, "Trees"): UTF-8 JSON `{"nodes":[…]}` with no whitespace; nodes sorted
 * by the UTF-8 bytes of their name; keys in the fixed order name, type, mode, uid, gid, mtimeMs,
 * size, linkTarget, content, subtree, hardlink{dev,ino,nlink}; absent optional keys are omitted.
 * `mode` is the full st_mode (file-type bits and permissions).
 */
import { UserError } from '../domain/errors.ts';
import type { BlobId, Tree, TreeNode } from './ports.ts';
import { isHexId } from './hex-id.ts';

const TYPES = new Set<TreeNode['type']>(['file', 'dir', 'symlink', 'other']);

/** Why a name may not appear in a tree (undefined when it may). Such names could escape a restore target. */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return `is "${name}"`;
  if (name.includes('/')) return 'contains "/"';
  if (name.includes('\0')) return 'contains a NUL byte';
  return undefined;
}

/**
 * The first entry of one directory that a restore refuses, and why: an unsafe name, or a name
 * given twice (a symlink and a directory of one name would let the link stand in for the parent).
 * Restore, dump and check apply this one rule.
 */
export function refusedEntry(
  nodes: readonly Pick<TreeNode, 'name'>[],
): { name: string; why: string } | undefined {
  const names = new Set<string>();
  for (const n of nodes) {
    const why = unsafeNameReason(n.name);
    if (why) return { name: n.name, why: `the name ${why}` };
    if (names.has(n.name)) return { name: n.name, why: 'it appears twice in one directory' };
    names.add(n.name);
  }
  return undefined;
}

/**
 * Orders names by their UTF-8 bytes. UTF-16 code units below U+D800 order the same way, so the
 * first differing unit decides without encoding; only a surrogate or a unit at or above U+D800
 * (where UTF-16 and UTF-8 orders differ) falls back to comparing bytes. Sorting a million-file
 * tree's directories no longer allocates two buffers per comparison.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    // Whole names: slicing here could split a surrogate pair.
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  return a.length - b.length;
}

export function encodeTree(tree: Tree): Uint8Array {
  const nodes = [...tree.nodes].sort((a, b) => compareNames(a.name, b.name));
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const why = unsafeNameReason(n.name);
    if (why) throw new Error(`refusing to store a tree entry whose name ${why}: ${JSON.stringify(n.name)}`);
    if (i > 0 && nodes[i - 1]!.name === n.name)
      throw new Error(`duplicate tree entry ${JSON.stringify(n.name)}`);
  }
  return Buffer.from(JSON.stringify({ nodes: nodes.map(canonicalNode) }), 'utf8');
}

function canonicalNode(n: TreeNode): TreeNode {
  const out: TreeNode = {
    name: n.name,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    mtimeMs: n.mtimeMs,
    size: n.size,
  };
  if (n.linkTarget !== undefined) out.linkTarget = n.linkTarget;
  if (n.content !== undefined) out.content = [...n.content];
  if (n.subtree !== undefined) out.subtree = n.subtree;
  if (n.hardlink !== undefined)
    out.hardlink = { dev: n.hardlink.dev, ino: n.hardlink.ino, nlink: n.hardlink.nlink };
  return out;
}

/**
 * Parses and shape-checks a tree blob. Repository bytes are untrusted input: anything malformed is
 * a UserError naming the tree. Names are not judged here (ls shows what is there); the restorer and
 * dump refuse unsafe names.
 */
export function decodeTree(bytes: Uint8Array, id = '?'): Tree {
  const bad = (what: string): UserError =>
    new UserError(`tree ${id.slice(0, 12)} in the repository is malformed: ${what}`, {
      hint: "run 'nightshift backup check' to find damaged data",
      exitCode: 1,
      code: 'corrupt',
    });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  if (!isObject(value) || !Array.isArray(value.nodes)) throw bad('no "nodes" list');
  const nodes: TreeNode[] = [];
  for (const raw of value.nodes as unknown[]) {
    if (!isObject(raw)) throw bad('an entry is not an object');
    const { name, type } = raw;
    if (typeof name !== 'string') throw bad('an entry has no name');
    if (typeof type !== 'string' || !TYPES.has(type as TreeNode['type'])) throw bad(`${name}: unknown type`);
    for (const k of ['mode', 'uid', 'gid', 'mtimeMs', 'size'] as const) {
      if (typeof raw[k] !== 'number' || !Number.isFinite(raw[k]))
        throw bad(`${name}: "${k}" is not a number`);
    }
    const node: TreeNode = {
      name,
      type: type as TreeNode['type'],
      mode: raw.mode as number,
      uid: raw.uid as number,
      gid: raw.gid as number,
      mtimeMs: raw.mtimeMs as number,
      size: raw.size as number,
    };
    if (node.size < 0) throw bad(`${name}: negative size`);
    if (raw.linkTarget !== undefined) {
      if (typeof raw.linkTarget !== 'string') throw bad(`${name}: linkTarget is not a string`);
      node.linkTarget = raw.linkTarget;
    }
    if (raw.content !== undefined) {
      if (
        !Array.isArray(raw.content) ||
        !raw.content.every((c) => typeof c === 'string' && isHexId(c, 16, 128))
      )
        throw bad(`${name}: content is not a list of blob ids`);
      node.content = raw.content as BlobId[];
    }
    if (raw.subtree !== undefined) {
      if (typeof raw.subtree !== 'string' || !isHexId(raw.subtree, 16, 128))
        throw bad(`${name}: subtree is not a blob id`);
      node.subtree = raw.subtree;
    }
    if (raw.hardlink !== undefined) {
      const h = raw.hardlink;
      if (
        !isObject(h) ||
        typeof h.dev !== 'number' ||
        typeof h.ino !== 'number' ||
        typeof h.nlink !== 'number'
      )
        throw bad(`${name}: hardlink is malformed`);
      node.hardlink = { dev: h.dev, ino: h.ino, nlink: h.nlink };
    }
    if (node.type === 'dir' && node.subtree === undefined) throw bad(`${name}: directory without subtree`);
    if (node.type === 'symlink' && node.linkTarget === undefined)
      throw bad(`${name}: symlink without target`);
    nodes.push(node);
  }
  return { nodes };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Loads and decodes one tree blob. */
export async function loadTree(
  repo: { loadBlob(id: BlobId): Promise<Uint8Array> },
  id: BlobId,
): Promise<Tree> {
  return decodeTree(await repo.loadBlob(id), id);
}
