/**
 * Restoring a database, git or command source from a snapshot: the stored dump is piped into the
 * right tool (pg_restore, mariadb, git clone) or written to a file (Redis RDB, SQLite, command
 * output), or to standard output for the user's own tool. A database is restored into the
 * database `--into` names (created when missing), never over the live one by default.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc, existsSync } from 'node:fs';
import { open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileContent } from '../backup/file-content.ts';
import type { Repository, SnapshotMeta } from '../backup/ports.ts';
import type { SourceKind } from '../domain/backup-source.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import { mysqlTarget } from './mysql-target.ts';

export interface StoredSource {
  name: string;
  kind: SourceKind;
  /** Its path in the snapshot. */
  path: string;
}

const KINDS: [RegExp, SourceKind][] = [
  [/^\/databases\/postgres\/(.+)\.dump$/, 'postgres'],
  [/^\/databases\/mysql\/(.+)\.sql$/, 'mysql'],
  [/^\/databases\/redis\/(.+)\.rdb$/, 'redis'],
  [/^\/databases\/sqlite\/(.+)\.sqlite$/, 'sqlite'],
  [/^\/git\/(.+)\.bundle$/, 'git'],
  [/^\/commands\/(.+)$/, 'command'],
];

/** The sources a snapshot holds, read from its recorded paths. */
export function storedSources(snapshot: SnapshotMeta): StoredSource[] {
  const out: StoredSource[] = [];
  for (const path of snapshot.paths)
    for (const [re, kind] of KINDS) {
      const m = re.exec(path);
      if (m) {
        out.push({ name: m[1]!, kind, path });
        break;
      }
    }
  return out;
}

export function findStoredSource(snapshot: SnapshotMeta, name: string): StoredSource {
  const all = storedSources(snapshot);
  const hit = all.find((s) => s.name === name || s.path === name);
  if (!hit)
    throw new UserError(`snapshot ${snapshot.id.slice(0, 8)} has no source named ${JSON.stringify(name)}`, {
      hint:
        all.length > 0
          ? `its sources: ${all.map((s) => `${s.name} (${s.kind})`).join(', ')}`
          : 'this snapshot holds files only; restore them with `nightshift backup restore`',
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  return hit;
}

/** Runs a tool with the content on its stdin; fails with the tool's own message. */
async function pipeInto(
  argv: string[],
  content: AsyncIterable<Uint8Array>,
  debianPackage: string,
  env: Record<string, string> = {},
): Promise<void> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  try {
    for await (const c of content) {
      if (!child.stdin!.write(c)) await new Promise((r) => child.stdin!.once('drain', r));
    }
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  } finally {
    child.stdin!.end();
  }
  let code: number | null;
  try {
    code = await done;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(
      e.code === 'ENOENT'
        ? `${cmd} is not installed (not found on PATH)`
        : `${cmd} could not start: ${e.message}`,
      { hint: `install the Debian package ${debianPackage}`, exitCode: EXIT.failed },
    );
  }
  if (code !== 0)
    throw new UserError(
      `${cmd} exited with status ${code}: ${stderr.trim().split('\n').slice(-5).join(' / ')}`,
      {
        exitCode: EXIT.failed,
        code: 'restore_failed',
      },
    );
}

/** Runs a tool to completion; its message on failure. */
function runTool(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** postgresql://…/db or a plain name: the name, and createdb's connection arguments. */
function pgTarget(into: string): { db: string; conn: string[] } {
  const m = /^(postgres(?:ql)?:\/\/[^/]*)\/([^?]+)(\?.*)?$/.exec(into);
  if (m) return { db: decodeURIComponent(m[2]!), conn: [`--maintenance-db=${m[1]}/postgres${m[3] ?? ''}`] };
  return { db: into, conn: [] };
}

/** Creates the database if it does not exist (PostgreSQL). */
export async function ensurePgDatabase(into: string, env: Record<string, string> = {}): Promise<void> {
  const { db, conn } = pgTarget(into);
  const r = await runTool(['createdb', ...conn, db], env);
  if (r.code !== 0 && !/already exists/.test(r.stderr))
    throw new UserError(`createdb ${db} failed: ${r.stderr.trim()}`, { exitCode: EXIT.failed });
}

export async function dropPgDatabase(into: string, env: Record<string, string> = {}): Promise<void> {
  const { db, conn } = pgTarget(into);
  await runTool(['dropdb', '--if-exists', ...conn, db], env);
}

async function writeNewFile(path: string, content: AsyncIterable<Uint8Array>): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.part`);
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    for await (const c of content) await fh.write(c);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  if (existsSync(path)) {
    await unlink(tmp).catch(() => {});
    throw new UserError(`${path} already exists`, {
      hint: 'restore into a new file; an existing one is never overwritten',
      exitCode: EXIT.conflict,
      code: 'conflict',
    });
  }
  await rename(tmp, path);
}

export interface RestoreSourceOptions {
  /** A database (name or URL), a file or a directory; absent: the dump goes to `stdout`. */
  into?: string;
  stdout?: Writable;
  /** Database password for pg_restore / mariadb, resolved by the caller. */
  password?: string;
}

/** Restores one source of a snapshot; returns what was done, in words. */
export async function restoreSource(
  repo: Repository,
  snapshot: SnapshotMeta,
  name: string,
  opts: RestoreSourceOptions,
): Promise<string> {
  const src = findStoredSource(snapshot, name);
  const content = fileContent(repo, snapshot, src.path);
  if (opts.into === undefined) {
    const out = opts.stdout ?? process.stdout;
    for await (const c of content) if (!out.write(c)) await new Promise((r) => out.once('drain', r));
    return `${src.path} written to standard output`;
  }
  const into = opts.into;
  switch (src.kind) {
    case 'postgres': {
      const env: Record<string, string> = opts.password !== undefined ? { PGPASSWORD: opts.password } : {};
      await ensurePgDatabase(into, env);
      await pipeInto(
        ['pg_restore', '--no-owner', '--exit-on-error', `--dbname=${into}`],
        content,
        'postgresql-client',
        env,
      );
      return `restored ${src.name} into PostgreSQL database ${pgTarget(into).db}`;
    }
    case 'mysql': {
      const env: Record<string, string> = opts.password !== undefined ? { MYSQL_PWD: opts.password } : {};
      const t = mysqlTarget(into);
      const r = await runTool(
        ['mariadb', ...t.connection, '-e', `CREATE DATABASE IF NOT EXISTS \`${t.db.replace(/`/g, '')}\``],
        env,
      );
      if (r.code !== 0)
        throw new UserError(`creating database ${t.db} failed: ${r.stderr.trim()}`, {
          exitCode: EXIT.failed,
        });
      await pipeInto(['mariadb', ...t.connection, t.db], content, 'mariadb-client', env);
      return `restored ${src.name} into MariaDB database ${t.db}`;
    }
    case 'git': {
      const bundle = join(dirname(into), `.${randomBytes(6).toString('hex')}.bundle`);
      await writeNewFile(bundle, content);
      try {
        const r = await runTool(['git', 'clone', '--quiet', bundle, into]);
        if (r.code !== 0)
          throw new UserError(`git clone failed: ${r.stderr.trim()}`, { exitCode: EXIT.failed });
        // The clone's origin would point at the temporary bundle.
        await runTool(['git', '-C', into, 'remote', 'remove', 'origin']);
      } finally {
        await rm(bundle, { force: true });
      }
      return `cloned ${src.name} into ${into} (all refs of the bundle)`;
    }
    default:
      await writeNewFile(into, content);
      return `${src.path} written to ${into}`;
  }
}
