/**
 * The files cache: what each host file looked like when it was last backed up (path, size, mtime,
 * ctime, device, inode) and the chunk ids its content became. An unchanged file is not read again;
 * its chunk ids are reused when the repository still holds them. The cache is host-local (the
 * caller gives a directory per repository, e.g. `<home>/cache/<repo id>/`), so it works in
 * recipients mode where the host cannot read old trees.
 *
 * Stored in SQLite (WAL): bounded memory on a million files, and a crash loses at most the last
 * uncommitted batch, never the file. Entries not seen for `ttl` backups are dropped.
 */
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../domain/errors.ts';
import type { BlobId, FileIdentity } from './ports.ts';

const BATCH = 2000;
const DEFAULT_TTL = 20;
/**
 * Files modified this close to the start of a backup are read but not cached: a further change
 * within the filesystem's timestamp granularity could leave size and times unchanged.
 */
const DEFAULT_RACY_MS = 1000;

interface Row {
  seen: number;
  size: number;
  mtime: string;
  ctime: string;
  ino: string;
  dev: string;
  content: string;
}

export class FilesCache {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly gen: number;
  private readonly ttl: number;
  private readonly racyNs: bigint;
  private pending = 0;
  /** The entry the last lookup matched, and the backup that last marked it seen. */
  private lastHit: { path: string; seen: number } | undefined;
  private startNs: bigint = BigInt(Date.now()) * 1_000_000n;
  private readonly getStmt: Database.Statement<[string], Row>;
  private readonly putStmt: Database.Statement<
    [string, number, string, string, string, string, string, number]
  >;
  private readonly touchStmt: Database.Statement<[number, string]>;

  private constructor(path: string, db: Database.Database, ttl: number, racyMs: number) {
    this.path = path;
    this.db = db;
    this.ttl = ttl;
    this.racyNs = BigInt(Math.round(racyMs * 1e6));
    db.exec(`CREATE TABLE IF NOT EXISTS files (
      path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime TEXT NOT NULL, ctime TEXT NOT NULL,
      ino TEXT NOT NULL, dev TEXT NOT NULL, content TEXT NOT NULL, seen INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'gen'").get();
    this.gen = (row ? Number(row.value) : 0) + 1;
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('gen', ?)").run(String(this.gen));
    this.getStmt = db.prepare('SELECT seen, size, mtime, ctime, ino, dev, content FROM files WHERE path = ?');
    this.putStmt = db.prepare(
      'INSERT OR REPLACE INTO files (path, size, mtime, ctime, ino, dev, content, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.touchStmt = db.prepare('UPDATE files SET seen = ? WHERE path = ?');
  }

  /** Opens (creating) the cache in `dir` (created 0700). */
  static open(dir: string, opts: { ttl?: number; racyMs?: number } = {}): FilesCache {
    const path = join(dir, 'files.db');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const db = new Database(path);
      chmodSync(path, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      return new FilesCache(path, db, opts.ttl ?? DEFAULT_TTL, opts.racyMs ?? DEFAULT_RACY_MS);
    } catch (err) {
      throw new UserError(`cannot open the files cache ${path}: ${(err as Error).message}`, {
        hint: 'the cache is only a speed-up: delete the file and the next backup rebuilds it',
      });
    }
  }

  /** Marks the start of a backup: files modified after it are not cached (they may change again unseen). */
  begin(startMs: number): void {
    this.startNs = BigInt(Math.floor(startMs)) * 1_000_000n;
  }

  /** The chunk ids recorded for this path if the file is unchanged, else undefined. */
  lookup(path: string, id: FileIdentity): BlobId[] | undefined {
    const row = this.getStmt.get(path);
    this.lastHit = undefined;
    if (!row) return undefined;
    if (
      row.size !== id.size ||
      row.mtime !== String(id.mtimeNs) ||
      row.ctime !== String(id.ctimeNs) ||
      row.ino !== String(id.ino) ||
      row.dev !== String(id.dev)
    ) {
      return undefined;
    }
    this.lastHit = { path, seen: row.seen };
    return row.content === '' ? [] : row.content.split(',');
  }

  /**
   * Keeps an entry that was reused (so it does not expire). An entry marked seen within the last
   * half-ttl backups is left as it is: a no-change backup of a million files then writes nothing
   * instead of a million updates, and a reused entry is still never older than the ttl.
   */
  touch(path: string): void {
    const hit = this.lastHit;
    if (hit?.path === path && hit.seen > this.gen - Math.max(1, Math.floor(this.ttl / 2))) return;
    this.write(() => this.touchStmt.run(this.gen, path));
  }

  record(path: string, id: FileIdentity, content: BlobId[]): void {
    if (id.mtimeNs > this.startNs - this.racyNs || id.ctimeNs > this.startNs - this.racyNs) return;
    this.write(() =>
      this.putStmt.run(
        path,
        id.size,
        String(id.mtimeNs),
        String(id.ctimeNs),
        String(id.ino),
        String(id.dev),
        content.join(','),
        this.gen,
      ),
    );
  }

  private write(fn: () => void): void {
    if (this.pending === 0) this.db.exec('BEGIN');
    fn();
    if (++this.pending >= BATCH) this.commitBatch();
  }

  private commitBatch(): void {
    if (this.pending > 0) this.db.exec('COMMIT');
    this.pending = 0;
  }

  /** After a completed snapshot: commits and drops entries not seen for `ttl` backups. */
  finish(): void {
    this.commitBatch();
    this.db.prepare('DELETE FROM files WHERE seen <= ?').run(this.gen - this.ttl);
  }

  /** Number of entries (for tests and stats). */
  size(): number {
    this.commitBatch();
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM files').get()!.n;
  }

  close(): void {
    this.commitBatch();
    this.db.close();
  }
}
