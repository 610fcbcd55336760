/**
 * `dump`: a snapshot (or a directory or file inside it) as a POSIX tar stream that GNU and BSD tar
 * extract byte-exactly. Entries are ustar; a pax extended header carries what ustar cannot hold:
 * long or non-ASCII names and link targets, sizes of 8 GiB and more, large ids.
 *
 *   dump(repo, snapshot, path | undefined, out: Writable): Promise<DumpStats>
 *
 * Entry names are relative: dumping `/home/ann` yields `ann/…`; dumping the whole snapshot yields
 * `home/ann/…`. Hardlinks become tar hardlink entries pointing at the first name written.
 */
import type { Writable } from 'node:stream';
import { UserError } from '../domain/errors.ts';
import type { Repository, SnapshotMeta, TreeNode } from './ports.ts';
import { findNode } from './browse.ts';
import { loadTree, refusedEntry } from './tree.ts';

export interface DumpStats {
  entries: number;
  bytes: number;
  skipped: number;
}

export interface TarHeader {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  linkname?: string;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarHeader['type'], string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  dir: '5',
  fifo: '6',
};
const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;

export async function dump(
  repo: Repository,
  snapshot: SnapshotMeta,
  path: string | undefined,
  out: Writable,
  opts: { onWarning?: (w: { path: string; message: string }) => void; signal?: AbortSignal } = {},
): Promise<DumpStats> {
  if (!repo.canRead) {
    throw new UserError('this repository is encrypted to recipients; dump needs --identity FILE', {
      hint: 'run dump where the age identity is available, with --identity FILE',
      exitCode: 5,
      code: 'needs_identity',
    });
  }
  const stats: DumpStats = { entries: 0, bytes: 0, skipped: 0 };
  const w = new TarWriter(out);
  const links = new Map<string, string>();

  const emit = async (node: TreeNode, name: string): Promise<void> => {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('dump aborted');
    const base = { name, mode: node.mode & 0o7777, uid: node.uid, gid: node.gid, mtimeMs: node.mtimeMs };
    if (node.type === 'dir') {
      await w.entry({ ...base, type: 'dir', size: 0 });
      stats.entries++;
      const tree = await loadTree(repo, node.subtree!);
      refuseWhatRestoreRefuses(tree.nodes, `${name}/`);
      for (const child of tree.nodes) await emit(child, `${name}/${child.name}`);
    } else if (node.type === 'symlink') {
      await w.entry({ ...base, type: 'symlink', size: 0, linkname: node.linkTarget ?? '' });
      stats.entries++;
    } else if (node.type === 'file') {
      const key = node.hardlink ? `${node.hardlink.dev}:${node.hardlink.ino}` : undefined;
      const first = key ? links.get(key) : undefined;
      if (first !== undefined) {
        await w.entry({ ...base, type: 'hardlink', size: 0, linkname: first });
        stats.entries++;
        return;
      }
      if (key) links.set(key, name);
      await w.entry({ ...base, type: 'file', size: node.size });
      let written = 0;
      for (const id of node.content ?? []) {
        const data = await repo.loadBlob(id);
        const n = Math.min(data.length, node.size - written);
        if (n > 0) await w.write(data.subarray(0, n));
        written += n;
      }
      // The header promised node.size bytes: a shorter content (a damaged snapshot) is padded, never truncated silently.
      if (written < node.size) {
        opts.onWarning?.({
          path: name,
          message: `content is ${written} bytes, expected ${node.size}; padded`,
        });
        await w.write(Buffer.alloc(node.size - written));
      }
      await w.pad(node.size);
      stats.bytes += node.size;
      stats.entries++;
    } else if ((node.mode & S_IFMT) === S_IFIFO) {
      await w.entry({ ...base, type: 'fifo', size: 0 });
      stats.entries++;
    } else {
      stats.skipped++;
      opts.onWarning?.({ path: name, message: 'special file not included in the tar stream' });
    }
  };

  const target = path === undefined || path === '/' || path === '' ? undefined : path;
  if (target === undefined) {
    const tree = await loadTree(repo, snapshot.tree);
    refuseWhatRestoreRefuses(tree.nodes, '');
    for (const n of tree.nodes) await emit(n, n.name);
  } else {
    const node = await findNode(repo, snapshot, target);
    await emit(node, node.name);
  }
  await w.end();
  return stats;
}

/** A tar must not hold what a restore of the same snapshot refuses (tar would extract it). */
function refuseWhatRestoreRefuses(nodes: readonly TreeNode[], prefix: string): void {
  const bad = refusedEntry(nodes);
  if (!bad) return;
  throw new UserError(`refusing to dump ${JSON.stringify(prefix + bad.name)}: ${bad.why}`, {
    hint: 'restore refuses this snapshot tree too; `nightshift backup check` lists such entries',
    exitCode: 1,
    code: 'unsafe_path',
  });
}

/** Streams tar records to a Writable, honouring backpressure. */
export class TarWriter {
  constructor(private readonly out: Writable) {}

  async entry(h: TarHeader): Promise<void> {
    await this.write(encodeHeader(h));
  }

  async write(data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    if (!this.out.write(data)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.out.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          this.out.off('drain', onDrain);
          reject(err);
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
  }

  /** Pads file content of `size` bytes to a whole block. */
  async pad(size: number): Promise<void> {
    const rem = size % BLOCK;
    if (rem !== 0) await this.write(Buffer.alloc(BLOCK - rem));
  }

  async end(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
  }
}

/** The ustar header for an entry, preceded by a pax header when ustar cannot represent it. */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'dir' && !h.name.endsWith('/') ? h.name + '/' : h.name;
  const pax: [string, string][] = [];
  const split = splitUstarName(name);
  if (!split) pax.push(['path', name]);
  const link = h.linkname ?? '';
  if (!isAsciiFit(link, 100)) pax.push(['linkpath', link]);
  const maxOctal11 = 8 ** 11 - 1;
  const maxOctal7 = 8 ** 7 - 1;
  if (h.size > maxOctal11) pax.push(['size', String(h.size)]);
  if (h.uid > maxOctal7 || h.uid < 0) pax.push(['uid', String(h.uid)]);
  if (h.gid > maxOctal7 || h.gid < 0) pax.push(['gid', String(h.gid)]);
  const mtime = Math.floor(h.mtimeMs / 1000);
  if (mtime < 0 || mtime > maxOctal11) pax.push(['mtime', String(mtime)]);

  const main = ustarBlock({
    name: split?.name ?? asciiFallback(name, 100),
    prefix: split?.prefix ?? '',
    mode: h.mode,
    uid: h.uid > maxOctal7 || h.uid < 0 ? 0 : h.uid,
    gid: h.gid > maxOctal7 || h.gid < 0 ? 0 : h.gid,
    size: h.size > maxOctal11 ? 0 : h.size,
    mtime: mtime < 0 || mtime > maxOctal11 ? 0 : mtime,
    typeflag: TYPEFLAG[h.type],
    linkname: isAsciiFit(link, 100) ? link : asciiFallback(link, 100),
  });
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const paxHeader = ustarBlock({
    name: asciiFallback('PaxHeaders/' + (split?.name ?? name), 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: Math.max(0, Math.min(mtime, maxOctal11)),
    typeflag: 'x',
    linkname: '',
  });
  const padded = Buffer.alloc(Math.ceil(body.length / BLOCK) * BLOCK);
  body.copy(padded);
  return Buffer.concat([paxHeader, padded, main]);
}

/** "%d %s=%s\n" where the length counts the whole record, itself included. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest, 'utf8');
  let len = restLen + 1;
  while (String(len).length + restLen !== len) len = String(len).length + restLen;
  return `${len}${rest}`;
}

function isAsciiFit(s: string, max: number): boolean {
  // eslint-disable-next-line no-control-regex
  return s.length <= max && /^[\x01-\x7f]*$/.test(s);
}

/** An ASCII stand-in for a field whose real value travels in the pax header. */
function asciiFallback(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

/** Splits a name into ustar prefix (155) + name (100) at a '/', or undefined if it cannot be represented. */
function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  if (!isAsciiFit(name, 256)) return undefined;
  if (name.length <= 100) return { name, prefix: '' };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return { name: rest, prefix };
    if (rest.length > 100) return undefined;
  }
  return undefined;
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

function ustarBlock(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, f.mode & 0o7777);
  writeOctal(b, 108, 8, f.uid);
  writeOctal(b, 116, 8, f.gid);
  writeOctal(b, 124, 12, f.size);
  writeOctal(b, 136, 12, f.mtime);
  b.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  b.write(f.typeflag, 156, 1, 'ascii');
  b.write(f.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  b.write(f.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

function writeOctal(b: Buffer, off: number, len: number, value: number): void {
  b.write(
    Math.floor(value)
      .toString(8)
      .padStart(len - 1, '0') + '\0',
    off,
    len,
    'ascii',
  );
}
