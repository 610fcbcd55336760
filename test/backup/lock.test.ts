import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { LocalBlobStore } from '../../src/backup/backends/local.ts';
import { acquireLock, listLocks, unlock } from '../../src/backup/lock.ts';
import { LOCK_REFRESH_MS, LOCK_STALE_MS } from '../../src/backup/format.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { EXIT, UserError } from '../../src/domain/errors.ts';
import { tempDir } from './repository-helpers.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('repository locks', () => {
  test('shared locks coexist; exclusive excludes and names the holder', async () => {
    const t = tempDir();
    try {
      const store = new LocalBlobStore(t.dir);
      const clock = new ManualClock(T0);
      const a = await acquireLock(store, { exclusive: false, clock });
      const b = await acquireLock(store, { exclusive: false, clock });
      await assert.rejects(acquireLock(store, { exclusive: true, clock }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.exitCode, EXIT.conflict);
        assert.match(e.message, new RegExp(`pid ${process.pid} on `));
        assert.match(e.hint ?? '', /nightshift backup unlock/);
        return true;
      });
      assert.equal(readdirSync(join(t.dir, 'locks')).length, 2, 'the refused attempt left no lock behind');
      await a.release();
      await b.release();
      const x = await acquireLock(store, { exclusive: true, clock });
      await assert.rejects(acquireLock(store, { exclusive: false, clock }), /exclusive lock held by pid/);
      await x.release();
      assert.deepEqual(readdirSync(join(t.dir, 'locks')), []);
    } finally {
      t.cleanup();
    }
  });

  test('a lock of a dead process on this host is stale; unlock removes only stale locks', async () => {
    const t = tempDir();
    try {
      const store = new LocalBlobStore(t.dir);
      const clock = new ManualClock(T0);
      const child = spawn(process.execPath, ['-e', '']);
      const deadPid = await new Promise<number>((res) => child.on('exit', () => res(child.pid!)));
      const live = await acquireLock(store, { exclusive: false, clock });
      // Written after the live one, so no later acquisition has swept it yet.
      await acquireLock(store, { exclusive: false, clock, pid: deadPid });
      const locks = await listLocks(store, { clock });
      assert.deepEqual(locks.map((l) => l.stale).sort(), [false, true]);
      const res = await unlock(store, { clock });
      assert.equal(res.removed.length, 1);
      assert.equal(res.removed[0]!.pid, deadPid);
      assert.equal((await unlock(store, { clock, removeAll: true })).removed.length, 1);
      await live.release();
    } finally {
      t.cleanup();
    }
  });

  test('the next lock taken on this host removes the locks of its dead processes', async () => {
    const t = tempDir();
    try {
      const store = new LocalBlobStore(t.dir);
      const clock = new ManualClock(T0);
      // Three runs killed before they could release their locks left these files.
      for (let i = 0; i < 3; i++) {
        const child = spawn(process.execPath, ['-e', '']);
        const pid = await new Promise<number>((res) => child.on('exit', () => res(child.pid!)));
        const lock = { v: 1, hostname: hostname(), pid, time: new Date(T0).toISOString(), exclusive: false };
        await store.write(`locks/dead${i}`, Buffer.from(JSON.stringify(lock)));
      }
      // Another host's lock cannot be judged from here: it stays.
      await acquireLock(store, { exclusive: false, clock, hostname: 'elsewhere', pid: 1 });
      assert.equal(readdirSync(join(t.dir, 'locks')).length, 4);
      const mine = await acquireLock(store, { exclusive: false, clock });
      const left = await listLocks(store, { clock });
      assert.deepEqual(left.map((l) => l.hostname === 'elsewhere' || l.id === mine.id).sort(), [true, true]);
      assert.equal(left.length, 2, 'the three dead locks are gone');
      await mine.release();
    } finally {
      t.cleanup();
    }
  });

  test('a lock from another host is live until it misses refreshes for 30 minutes', async () => {
    const t = tempDir();
    try {
      const store = new LocalBlobStore(t.dir);
      const clock = new ManualClock(T0);
      // That host's clock never moves: its lock is never refreshed, as if the host had died.
      await acquireLock(store, {
        exclusive: true,
        clock: new ManualClock(T0),
        hostname: 'elsewhere',
        pid: 1,
      });
      await assert.rejects(acquireLock(store, { exclusive: false, clock }), /on elsewhere/);
      await clock.advance(LOCK_STALE_MS + 1000);
      const mine = await acquireLock(store, { exclusive: false, clock });
      await mine.release();
    } finally {
      t.cleanup();
    }
  });

  test('a held lock is refreshed, so it never goes stale while its holder runs', async () => {
    const t = tempDir();
    try {
      const store = new LocalBlobStore(t.dir);
      const clock = new ManualClock(T0);
      const held = await acquireLock(store, { exclusive: true, clock, hostname: 'elsewhere', pid: 1 });
      for (let i = 0; i < 12; i++) {
        await clock.advance(LOCK_REFRESH_MS);
        await held.settled();
      }
      const locks = await listLocks(store, { clock });
      assert.equal(locks.length, 1);
      assert.equal(locks[0]!.stale, false);
      assert.ok(locks[0]!.ageMs < LOCK_REFRESH_MS * 2);
      await assert.rejects(
        acquireLock(store, { exclusive: false, clock }),
        (e: unknown) => e instanceof UserError,
      );
      await held.release();
    } finally {
      t.cleanup();
    }
  });
});
