/**
 * Repository locks (docs/FORMAT.md, "Locks"): `locks/<random>` JSON files. Shared locks
 * (backup, restore, check) coexist; an exclusive lock (prune, forget) excludes every other lock.
 * A lock is stale when not refreshed for LOCK_STALE_MS, or when it names this host and a pid that
 * is not running. Acquiring writes our lock first and then looks for conflicts, so two racing
 * processes cannot both proceed; it also removes the locks of dead processes of this host, so
 * killed runs leave no lock files piling up.
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { SystemClock, type Clock, type TimerHandle } from '../domain/clock.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import { DIRS, LOCK_REFRESH_MS, LOCK_STALE_MS, TEMP_PREFIX } from './format.ts';
import type { BlobStore } from './ports.ts';

export interface LockFile {
  v: 1;
  hostname: string;
  pid: number;
  /** ISO time of the last refresh. */
  time: string;
  exclusive: boolean;
}

export interface LockInfo extends LockFile {
  id: string;
  ageMs: number;
  stale: boolean;
  /** Why it is stale, when it is. */
  staleReason?: string;
}

export interface LockOptions {
  exclusive: boolean;
  clock?: Clock;
  hostname?: string;
  pid?: number;
  /** Checks whether a pid on this host is alive; injectable for tests. */
  isAlive?: (pid: number) => boolean;
}

export interface RepoLock {
  readonly id: string;
  readonly exclusive: boolean;
  /** Rewrites the lock with the current time (done automatically every LOCK_REFRESH_MS). */
  refresh(): Promise<void>;
  release(): Promise<void>;
  /** Resolves when an automatic refresh in progress (if any) has finished. */
  settled(): Promise<void>;
}

type StoreLike = BlobStore | { store: BlobStore };

function storeOf(s: StoreLike): BlobStore {
  return 'store' in s ? s.store : s;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describe(l: LockInfo): string {
  const mins = Math.round(l.ageMs / 60000);
  return `${l.exclusive ? 'an exclusive' : 'a'} lock held by pid ${l.pid} on ${l.hostname} (refreshed ${mins} min ago)`;
}

export async function listLocks(
  s: StoreLike,
  o: { clock?: Clock; hostname?: string; isAlive?: (pid: number) => boolean } = {},
): Promise<LockInfo[]> {
  const store = storeOf(s);
  const now = (o.clock ?? new SystemClock()).now();
  const host = o.hostname ?? osHostname();
  const alive = o.isAlive ?? pidAlive;
  const out: LockInfo[] = [];
  for (const name of await store.list(DIRS.locks)) {
    if (name.startsWith(TEMP_PREFIX) || name.includes('/')) continue;
    let f: LockFile;
    try {
      f = JSON.parse(Buffer.from(await store.read(`${DIRS.locks}/${name}`)).toString('utf8')) as LockFile;
      if (typeof f.pid !== 'number' || typeof f.hostname !== 'string' || typeof f.time !== 'string')
        throw new Error();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      out.push({
        v: 1,
        id: name,
        hostname: '?',
        pid: 0,
        time: new Date(0).toISOString(),
        exclusive: false,
        ageMs: Infinity,
        stale: true,
        staleReason: 'unreadable',
      });
      continue;
    }
    const ageMs = Math.max(0, now - Date.parse(f.time));
    const info: LockInfo = { ...f, id: name, ageMs, stale: false };
    if (!(ageMs < LOCK_STALE_MS)) {
      info.stale = true;
      info.staleReason = `not refreshed for ${Math.round(ageMs / 60000)} min`;
    } else if (f.hostname === host && !alive(f.pid)) {
      info.stale = true;
      info.staleReason = `pid ${f.pid} is not running`;
    }
    out.push(info);
  }
  return out;
}

export async function acquireLock(s: StoreLike, o: LockOptions): Promise<RepoLock> {
  const store = storeOf(s);
  const clock = o.clock ?? new SystemClock();
  const hostname = o.hostname ?? osHostname();
  const pid = o.pid ?? process.pid;
  let id = '';
  const write = async (): Promise<string> => {
    const name = randomBytes(16).toString('hex');
    const f: LockFile = {
      v: 1,
      hostname,
      pid,
      time: new Date(clock.now()).toISOString(),
      exclusive: o.exclusive,
    };
    await store.write(`${DIRS.locks}/${name}`, Buffer.from(JSON.stringify(f) + '\n'));
    return name;
  };
  id = await write();
  const all = await listLocks(store, { clock, hostname, ...(o.isAlive ? { isAlive: o.isAlive } : {}) });
  for (const l of all) {
    // Only this host can tell that a pid is gone; another host's lock waits for LOCK_STALE_MS.
    if (l.id !== id && l.stale && l.hostname === hostname && l.staleReason?.endsWith('is not running'))
      await store.remove(`${DIRS.locks}/${l.id}`).catch(() => {});
  }
  const others = all.filter((l) => l.id !== id && !l.stale && (o.exclusive || l.exclusive));
  if (others.length > 0) {
    await store.remove(`${DIRS.locks}/${id}`);
    throw new UserError(`repository ${store.location} is locked: ${describe(others[0]!)}`, {
      hint: 'wait for it to finish; if that process is gone, run `nightshift backup unlock`',
      exitCode: EXIT.conflict,
      code: 'locked',
    });
  }
  let timer: TimerHandle | null = null;
  let released = false;
  let inFlight: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    timer = clock.at(clock.now() + LOCK_REFRESH_MS, () => {
      inFlight = lock.refresh().catch(() => {
        // A failed refresh is retried at the next tick; the lock only goes stale after 30 min.
        if (!released) schedule();
      });
    });
  };
  const lock: RepoLock = {
    get id() {
      return id;
    },
    exclusive: o.exclusive,
    async refresh() {
      if (released) return;
      timer?.cancel();
      const old = id;
      id = await write();
      await store.remove(`${DIRS.locks}/${old}`);
      if (!released) schedule();
    },
    async release() {
      if (released) return;
      released = true;
      timer?.cancel();
      await inFlight;
      await store.remove(`${DIRS.locks}/${id}`);
    },
    settled: () => inFlight,
  };
  schedule();
  return lock;
}

/** Removes stale locks (all locks with removeAll); returns what was removed. */
export async function unlock(
  s: StoreLike,
  o: { removeAll?: boolean; clock?: Clock; hostname?: string; isAlive?: (pid: number) => boolean } = {},
): Promise<{ removed: LockInfo[]; kept: LockInfo[] }> {
  const store = storeOf(s);
  const locks = await listLocks(store, o);
  const removed: LockInfo[] = [];
  const kept: LockInfo[] = [];
  for (const l of locks) {
    if (o.removeAll || l.stale) {
      await store.remove(`${DIRS.locks}/${l.id}`);
      removed.push(l);
    } else kept.push(l);
  }
  return { removed, kept };
}
