/**
 * --nice on a backup profile: its backup reads, chunks and seals on worker threads that run at
 * nice 19, read back from the kernel (/proc/self/task/TID/stat and `ps -L`), while the main thread
 * (the daemon's scheduler) and a normal profile's worker threads keep their priority.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProfileBackup } from '../../src/backup-jobs/profile-backup.ts';
import { checkProfile } from '../../src/backup-jobs/profile-snapshots.ts';
import { openProfileRepository } from '../../src/backup-jobs/profile-repository.ts';
import { sharedBlobPool } from '../../src/backup/blob-workers.ts';
import { noise } from '../backup/repository-helpers.ts';
import { addProfile, passphraseRepo, world, type World } from './helpers.ts';

// Two worker threads per pool, whatever the machine's cores.
process.env.NIGHTSHIFT_BLOB_WORKERS = '2';

/** Nice value of every thread of this process, by thread id (field 19 of its stat line). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[19 - 3]));
  }
  return out;
}

/** Runs the profile's backup, sampling the threads' nice values every few milliseconds meanwhile. */
async function backupSampled(w: World, name: string): Promise<Map<number, number>[]> {
  const samples: Map<number, number>[] = [];
  const timer = setInterval(() => samples.push(threadNices()), 2);
  try {
    const profile = (await w.app.store.profiles.get(name))!;
    const r = await runProfileBackup(w.app, profile, { clock: w.clock });
    assert.ok(
      r.evidence.every((e) => e.ok),
      JSON.stringify(r.evidence),
    );
  } finally {
    clearInterval(timer);
  }
  samples.push(threadNices());
  return samples;
}

/** CPU time (utime + stime, in clock ticks) a thread of this process has used so far. */
function cpuTicks(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

function niced(m: Map<number, number>): number[] {
  return [...m].filter(([, n]) => n === 19).map(([tid]) => tid);
}

test('a --nice profile backs up on nice 19 worker threads; the main thread and a normal backup do not change', async () => {
  const w = await world();
  try {
    // Enough data that the backup is still running while it is sampled.
    for (let i = 0; i < 6; i++) writeFileSync(join(w.src, `big-${i}.bin`), noise(`big-${i}`, 1_500_000));
    const main = process.pid;
    const original = threadNices().get(main)!;
    assert.ok(original < 19, `this test needs a process not already at nice 19 (it is at ${original})`);
    const before = new Set(threadNices().keys());

    const normalRepo = join(w.root, 'normal-repo');
    const niceRepo = join(w.root, 'nice-repo');
    await passphraseRepo(normalRepo);
    await passphraseRepo(niceRepo);
    const key = { kind: 'passphrase' as const, ref: 'env:NS_TEST_PW' };
    await addProfile(w, { name: 'normal', repository: normalRepo, key, paths: [w.src] });
    await addProfile(w, { name: 'gentle', repository: niceRepo, key, paths: [w.src], lowPriority: true });

    // A normal backup: its worker threads appear and keep the process's priority.
    const normal = await backupSampled(w, 'normal');
    const afterNormal = normal[normal.length - 1]!;
    const normalWorkers = [...afterNormal.keys()].filter((t) => !before.has(t));
    assert.ok(normalWorkers.length >= 2, 'the normal backup started its worker threads');
    for (const s of normal) assert.deepEqual(niced(s), [], 'no thread is niced during a normal backup');

    // The --nice backup: two more threads (its pool), at 19 while it runs; nothing else moves.
    const gentle = await backupSampled(w, 'gentle');
    const during = gentle.slice(0, -1);
    assert.ok(
      during.some((s) => niced(s).length === 2),
      `the low-priority pool's 2 threads are at nice 19 while the backup runs (${during.length} samples)`,
    );
    const last = gentle[gentle.length - 1]!;
    const low = niced(last);
    assert.equal(low.length, 2);
    for (const tid of low)
      assert.ok(!before.has(tid) && !normalWorkers.includes(tid), 'new threads, not reused ones');
    for (const s of gentle) {
      assert.equal(s.get(main), original, 'the main (scheduler) thread keeps its priority');
      for (const tid of normalWorkers) if (s.has(tid)) assert.equal(s.get(tid), original);
      assert.ok(niced(s).every((t) => !normalWorkers.includes(t)));
    }

    // What `ps -L` shows is the same: only those two threads at NI 19.
    const ps = execFileSync('ps', ['-L', '-o', 'tid=,ni=', '-p', String(main)], { encoding: 'utf8' });
    const rows = ps
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
    assert.deepEqual(
      rows
        .filter(([, ni]) => ni === 19)
        .map(([tid]) => tid)
        .sort(),
      [...low].sort(),
    );
    assert.equal(rows.find(([tid]) => tid === main)?.[1], original);

    // Verifying, drilling and copying a --nice profile open its repository on the same pool.
    const checked = await checkProfile(w.app, 'gentle', { readDataSubset: '100%' });
    assert.equal(checked.ok, true, JSON.stringify(checked.errors));
    assert.deepEqual(niced(threadNices()).sort(), [...low].sort());
    assert.equal(threadNices().get(main), original);
    for (const [name, lowPriority] of [
      ['gentle', true],
      ['normal', false],
    ] as const) {
      const repo = await openProfileRepository(w.app, (await w.app.store.profiles.get(name))!, 'read');
      try {
        assert.equal(repo.blobPool(), sharedBlobPool({ lowPriority }));
      } finally {
        await repo.close();
      }
    }

    // Both profiles at once in one process: each keeps its own threads and priority.
    for (let i = 0; i < 4; i++) writeFileSync(join(w.src, `new-${i}.bin`), noise(`new-${i}`, 2_000_000));
    const ticks = (tids: number[]): number => tids.reduce((a, t) => a + cpuTicks(t), 0);
    const lowBefore = ticks(low);
    const both = await Promise.all([backupSampled(w, 'normal'), backupSampled(w, 'gentle')]);
    for (const s of both.flat()) {
      assert.deepEqual(niced(s).sort(), [...low].sort(), 'the same two threads, and only they, are niced');
      assert.equal(s.get(main), original);
    }
    assert.ok(ticks(low) > lowBefore, 'the --nice backup worked on its nice 19 threads');
  } finally {
    await w.close();
  }
});
