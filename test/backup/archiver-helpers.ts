/** Shared fixtures for the archiver, restore, dump and browse tests: temp dirs and real repositories. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { initRepository, openRepository } from '../../src/backup/repository.ts';
import type { Repo } from '../../src/backup/repository.ts';
import type { TreeNode } from '../../src/backup/ports.ts';

export const PASSWORD = 'correct horse battery staple';
/** Cheap KDF settings: the tests exercise archiving, not key stretching. */
export const FAST_SCRYPT = { N: 1 << 10, r: 8, p: 1 };

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
}

export function rmrf(...dirs: string[]): void {
  for (const d of dirs) {
    // Restored trees may hold read-only directories.
    try {
      fs.chmodSync(d, 0o700);
    } catch {
      /* gone already */
    }
    fixModes(d);
    fs.rmSync(d, { recursive: true, force: true });
  }
}

function fixModes(dir: string): void {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of names) {
    if (d.isDirectory()) {
      const p = path.join(dir, d.name);
      fs.chmodSync(p, 0o700);
      fixModes(p);
    }
  }
}

export async function newRepo(dir: string): Promise<Repo> {
  const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
  return repo;
}

export async function reopen(dir: string): Promise<Repo> {
  return openRepository(dir, { password: PASSWORD });
}

export interface EntryInfo {
  type: string;
  mode?: number;
  size?: number;
  mtimeMs?: number;
  sha?: string;
  link?: string;
  ino?: number;
}

/** Everything a user would compare between two trees: type, mode, size, mtime (ms), content hash, link targets. */
export function describeTree(
  root: string,
  opts: { mtimes?: boolean; dirMtimes?: boolean } = {},
): Record<string, EntryInfo> {
  const out: Record<string, EntryInfo> = {};
  const visit = (rel: string): void => {
    const p = path.join(root, rel);
    const st = fs.lstatSync(p);
    const info: EntryInfo = {
      type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
    };
    if (!st.isSymbolicLink()) info.mode = st.mode & 0o7777;
    if (opts.mtimes !== false && (st.isFile() || (opts.dirMtimes !== false && st.isDirectory())))
      // From the nanoseconds: Node's own mtimeMs is a rounded double, which can round up into the next ms.
      info.mtimeMs = Number(fs.lstatSync(p, { bigint: true }).mtimeNs / 1_000_000n);
    if (st.isFile()) {
      info.size = st.size;
      info.sha = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
    if (st.isSymbolicLink()) info.link = fs.readlinkSync(p);
    if (rel !== '') out[rel] = info;
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) visit(rel === '' ? n : rel + '/' + n);
  };
  visit('');
  return out;
}

/** A tree blob from raw nodes, bypassing the archiver's checks, as a hostile repository could write it. */
export async function saveRawTree(repo: Repo, nodes: Partial<TreeNode>[]): Promise<string> {
  const full = nodes.map((n) => ({
    type: 'file',
    mode: 0o100644,
    uid: 0,
    gid: 0,
    mtimeMs: 0,
    size: 0,
    ...n,
  }));
  const r = await repo.saveBlob('tree', Buffer.from(JSON.stringify({ nodes: full })));
  return r.id;
}
