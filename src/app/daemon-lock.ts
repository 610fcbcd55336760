/**
 * One daemon per home. The lock is an exclusive SQLite lock (an OS-level fcntl lock) on
 * `daemon.lock`, held for the holder's life: the kernel drops it when the process dies, so a
 * crashed daemon never leaves a stale lock behind. Who holds it (pid, host, start time, role) is
 * written beside it in `daemon.json`, for messages and `status` only; the lock itself is the truth.
 */
import Database from 'better-sqlite3';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { EXIT, UserError } from '../domain/errors.ts';

/** How often the daemon writes its heartbeat into daemon.json (doctor calls three missed ones stuck). */
export const DAEMON_HEARTBEAT_MS = 30_000;

/** What holds the lock: the daemon, or a CLI process running a job itself because no daemon was up. */
export type LockRole = 'daemon' | 'run';

export interface LockHolder {
  pid: number;
  host: string;
  startedAtMs: number;
  role: LockRole;
  /** What the daemon reports about itself (updateLockHolder), for `status` and `doctor`. */
  version?: string;
  /** SHA-256 of the config.json bytes the daemon runs with ('' when there was no file). */
  configDigest?: string;
  configLoadedAtMs?: number;
  /** Why the current config.json was not loaded (the daemon kept the previous one). */
  configError?: string;
  /** SHA-256 of the config.json bytes that were refused: whether a refusal is about the file as it is now. */
  configErrorDigest?: string;
  /** The last time the daemon's loop was seen alive. */
  heartbeatAtMs?: number;
}

const HOLDER_EXTRAS = [
  'version',
  'configDigest',
  'configLoadedAtMs',
  'configError',
  'configErrorDigest',
  'heartbeatAtMs',
] as const;

export interface DaemonLock {
  readonly path: string;
  /** Adds what the holder reports about itself to `daemon.json` (atomically replaced). */
  update(patch: Partial<Pick<LockHolder, (typeof HOLDER_EXTRAS)[number]>>): void;
  release(): void;
}

function infoPath(lockPath: string): string {
  return join(dirname(lockPath), 'daemon.json');
}

/** The sidecar's contents, if readable (it may be missing or from a dead process). */
export function readLockHolder(lockPath: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(infoPath(lockPath), 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return undefined;
    const holder: LockHolder = {
      pid: parsed.pid,
      host: String(parsed.host ?? ''),
      startedAtMs: Number(parsed.startedAtMs ?? 0),
      role: parsed.role === 'run' ? 'run' : 'daemon',
    };
    for (const k of HOLDER_EXTRAS) if (parsed[k] !== undefined) Object.assign(holder, { [k]: parsed[k] });
    return holder;
  } catch {
    return undefined;
  }
}

/**
 * Whether daemon.json's refusal is about the config.json whose digest is `digest` (not an earlier
 * file). Daemons from before configErrorDigest only say that the file they run with is another one.
 */
export function refusedFile(holder: LockHolder, digest: string): boolean {
  if (holder.configError === undefined) return false;
  return holder.configErrorDigest === undefined
    ? holder.configDigest !== digest
    : holder.configErrorDigest === digest;
}

/**
 * What daemon.json says about a reload asked for (SIGHUP) when config.json had digest `want` and
 * the daemon had last loaded a file at `beforeMs`: loaded, refused, or no answer yet. A refusal of
 * an earlier file is no answer: it is what daemon.json said before the daemon read the file again.
 */
export function reloadOutcome(
  now: LockHolder | undefined,
  want: string,
  beforeMs: number,
): 'reloaded' | 'refused' | 'pending' {
  if (now === undefined) return 'pending';
  if (refusedFile(now, want)) return 'refused';
  if (now.configDigest === want && (now.configLoadedAtMs ?? 0) > beforeMs) return 'reloaded';
  return 'pending';
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * Takes the lock or returns undefined when another process holds it. `waitMs` lets a starting
 * daemon ride out a CLI's momentary probe of the same lock.
 */
export function tryAcquireDaemonLock(
  lockPath: string,
  role: LockRole,
  opts: { waitMs?: number } = {},
): DaemonLock | undefined {
  const db = new Database(lockPath, { timeout: opts.waitMs ?? 0 });
  chmodSync(lockPath, 0o600);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (isBusy(err)) return undefined;
    throw err;
  }
  let holder: LockHolder = { pid: process.pid, host: hostname(), startedAtMs: Date.now(), role };
  const info = infoPath(lockPath);
  const write = (): void => {
    const tmp = `${info}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(holder) + '\n', { mode: 0o600 });
    renameSync(tmp, info);
  };
  write();
  let released = false;
  return {
    path: lockPath,
    update(patch) {
      if (released) return;
      holder = { ...holder, ...patch };
      write();
    },
    release() {
      if (released) return;
      released = true;
      // Remove the sidecar first, while still holding the lock, so no newer holder's file is removed.
      rmSync(info, { force: true });
      try {
        db.exec('ROLLBACK');
      } catch {
        // Nothing was written inside the transaction; closing releases the lock either way.
      }
      db.close();
    },
  };
}

/** Takes the lock or throws the user-facing conflict error naming the holder. */
export function acquireDaemonLock(
  lockPath: string,
  role: LockRole,
  opts: { waitMs?: number } = {},
): DaemonLock {
  const lock = tryAcquireDaemonLock(lockPath, role, opts);
  if (lock) return lock;
  throw daemonRunningError(lockPath);
}

export function daemonRunningError(lockPath: string): UserError {
  const holder = readLockHolder(lockPath);
  const home = dirname(lockPath);
  const who =
    holder?.role === 'run'
      ? `a nightshift process running a job (pid ${holder.pid})`
      : `another nightshift daemon${holder ? ` (pid ${holder.pid})` : ''}`;
  return new UserError(`${who} is running on ${home}`, {
    hint: 'stop it first or use --home',
    exitCode: EXIT.conflict,
    code: 'daemon_running',
  });
}

/**
 * Whether some process holds the lock right now, and who (when the sidecar says). Probes by
 * taking and at once releasing the lock, so it never blocks.
 */
export function probeDaemonLock(lockPath: string): { held: false } | { held: true; holder?: LockHolder } {
  let db: Database.Database;
  try {
    db = new Database(lockPath, { timeout: 0, fileMustExist: true });
  } catch {
    return { held: false };
  }
  try {
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
    return { held: false };
  } catch (err) {
    if (!isBusy(err)) throw err;
    const holder = readLockHolder(lockPath);
    return holder ? { held: true, holder } : { held: true };
  } finally {
    db.close();
  }
}
