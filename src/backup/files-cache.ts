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
/**
 * A directory's entries are read in one query when the walk reaches it (one statement per file
 * cost ~10 µs each, most of a no-change backup's main thread). A directory with more entries than
 * this is looked up file by file instead, so the cache holds at most this many rows per directory
 * on the walk's current path (its ancestors and itself).
 */
const DIR_ROWS = 10_000;

/** stat, content (comma-separated chunk ids), seen. */
type Entry = [stat: string, content: string, seen: number];

/** What must match for a file to count as unchanged, as one string. */
function statKey(id: FileIdentity): string {
  return `${id.size}:${id.mtimeNs}:${id.ctimeNs}:${id.ino}:${id.dev}`;
}

function splitPath(path: string): [dir: string, name: string] {
  const slash = path.lastIndexOf('/');
  return [path.slice(0, slash), path.slice(slash + 1)];
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
  /** Entries of the directories loaded (null: too many, looked up one by one); each is taken once. */
  private readonly dirs = new Map<string, Map<string, Entry> | null>();
  /** Rows as arrays (`raw`), which better-sqlite3 builds faster than objects. */
  private readonly dirStmt: Database.Statement<[string], [name: string, ...Entry]>;
  private readonly getStmt: Database.Statement<[string, string], Entry>;
  private readonly putStmt: Database.Statement<[string, string, string, string, number]>;
  private readonly touchStmt: Database.Statement<[number, string, string]>;

  private constructor(path: string, db: Database.Database, ttl: number, racyMs: number) {
    this.path = path;
    this.db = db;
    this.ttl = ttl;
    this.racyNs = BigInt(Math.round(racyMs * 1e6));
    db.exec(`CREATE TABLE IF NOT EXISTS entries (
      dir TEXT NOT NULL, name TEXT NOT NULL, stat TEXT NOT NULL, content TEXT NOT NULL, seen INTEGER NOT NULL,
      PRIMARY KEY (dir, name)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    migrateFilesTable(db);
    const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'gen'").get();
    this.gen = (row ? Number(row.value) : 0) + 1;
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('gen', ?)").run(String(this.gen));
    this.dirStmt = db
      .prepare<[string], [string, ...Entry]>(
        `SELECT name, stat, content, seen FROM entries WHERE dir = ? LIMIT ${DIR_ROWS + 1}`,
      )
      .raw();
    this.getStmt = db
      .prepare<[string, string], Entry>('SELECT stat, content, seen FROM entries WHERE dir = ? AND name = ?')
      .raw();
    this.putStmt = db.prepare(
      'INSERT OR REPLACE INTO entries (dir, name, stat, content, seen) VALUES (?, ?, ?, ?, ?)',
    );
    this.touchStmt = db.prepare('UPDATE entries SET seen = ? WHERE dir = ? AND name = ?');
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
    // Directories read by an earlier backup through this cache lack what that backup recorded.
    this.dirs.clear();
  }

  /** The chunk ids recorded for this path if the file is unchanged, else undefined. */
  lookup(path: string, id: FileIdentity): BlobId[] | undefined {
    const row = this.take(path);
    this.lastHit = undefined;
    if (!row || row[0] !== statKey(id)) return undefined;
    this.lastHit = { path, seen: row[2] };
    return row[1] === '' ? [] : row[1].split(',');
  }

  /** The entry of `path`, from its directory's entries (read once, when the walk reaches it). */
  private take(path: string): Entry | undefined {
    const [dir, name] = splitPath(path);
    let rows = this.dirs.get(dir);
    if (rows === undefined) rows = this.loadDir(dir);
    if (rows === null) return this.getStmt.get(dir, name);
    const row = rows.get(name);
    rows.delete(name);
    return row;
  }

  private loadDir(dir: string): Map<string, Entry> | null {
    // The walk is depth-first: a directory that is not an ancestor of this one is done with.
    for (const d of this.dirs.keys()) if (!dir.startsWith(d + '/')) this.dirs.delete(d);
    // all() rather than iterate(): one call into SQLite instead of one per row (30,000 rows: 25
    // against 38 ms).
    const found = this.dirStmt.all(dir);
    let rows: Map<string, Entry> | null = null;
    if (found.length <= DIR_ROWS) {
      rows = new Map();
      for (const r of found) rows.set(r[0], [r[1], r[2], r[3]]);
    }
    this.dirs.set(dir, rows);
    return rows;
  }

  /**
   * Keeps an entry that was reused (so it does not expire). An entry marked seen within the last
   * half-ttl backups is left as it is: a no-change backup of a million files then writes nothing
   * instead of a million updates, and a reused entry is still never older than the ttl.
   */
  touch(path: string): void {
    const hit = this.lastHit;
    if (hit?.path === path && hit.seen > this.gen - Math.max(1, Math.floor(this.ttl / 2))) return;
    this.write(() => this.touchStmt.run(this.gen, ...splitPath(path)));
  }

  record(path: string, id: FileIdentity, content: BlobId[]): void {
    if (id.mtimeNs > this.startNs - this.racyNs || id.ctimeNs > this.startNs - this.racyNs) return;
    this.write(() => this.putStmt.run(...splitPath(path), statKey(id), content.join(','), this.gen));
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
    this.dirs.clear();
    this.commitBatch();
    this.db.prepare('DELETE FROM entries WHERE seen <= ?').run(this.gen - this.ttl);
  }

  /** Number of entries (for tests and stats). */
  size(): number {
    this.commitBatch();
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM entries').get()!.n;
  }

  close(): void {
    this.commitBatch();
    this.db.close();
  }
}

/**
 * Caches written before entries were keyed by directory kept one `files` row per path, with the
 * stat fields in columns: moved over in SQL (rtrim by the path's own non-slash characters leaves
 * its directory and the slash), so an upgrade re-reads no file.
 */
function migrateFilesTable(db: Database.Database): void {
  const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'").get();
  if (!old) return;
  db.transaction(() => {
    db.exec(`INSERT OR REPLACE INTO entries (dir, name, stat, content, seen)
      SELECT substr(d, 1, length(d) - 1), substr(path, length(d) + 1),
        size || ':' || mtime || ':' || ctime || ':' || ino || ':' || dev, content, seen
      FROM (SELECT rtrim(path, replace(path, '/', '')) AS d, * FROM files);
      DROP TABLE files;`);
  })();
}
