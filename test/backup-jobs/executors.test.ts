/**
 * Backup and drill jobs through the real Engine (ManualClock) with real repositories and files.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { precheckSpace } from '../../src/backup-jobs/disk-space.ts';
import { listProfileSnapshots } from '../../src/backup-jobs/profile-snapshots.ts';
import { BackupExecutor } from '../../src/backup-jobs/executors.ts';
import { buildProfile } from '../../src/domain/backup-profile.ts';
import { addProfile, HOUR, passphraseRepo, PASSWORD, recipientsRepo, world } from './helpers.ts';

/** Lock files left in the repository (none when the directory was never made). */
function locks(repo: string): string[] {
  try {
    return readdirSync(join(repo, 'locks'));
  } catch {
    return [];
  }
}

function snapshotsIn(repo: string): number {
  try {
    return readdirSync(join(repo, 'snapshots')).length;
  } catch {
    return 0;
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe('backup job', () => {
  test('a recipients profile with keep-last 3, run 5 times, leaves exactly 3 snapshots and proves each run', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await recipientsRepo(w, repo);
      await addProfile(w, {
        name: 'nightly',
        repository: repo,
        key: { kind: 'recipients' },
        paths: [w.src],
        retention: { last: 3 },
        verifySubset: '100%',
      });
      await w.addJob('nightly-backup', { kind: 'backup', profile: 'nightly' });
      const runs = [];
      for (let i = 0; i < 5; i++) {
        writeFileSync(join(w.src, `day-${i}.txt`), `day ${i}\n`);
        runs.push(await w.run('nightly-backup'));
        await w.clock.advance(24 * HOUR);
      }
      for (const r of runs) {
        assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
        const checks = Object.fromEntries((r.evidence ?? []).map((e) => [e.check, e]));
        assert.equal(checks['snapshot listed']?.ok, true);
        assert.equal(checks['index entries']?.ok, true);
        assert.equal(checks['retention']?.ok, true);
        assert.equal(checks['verify']?.ok, true);
        assert.match(r.details?.backup?.snapshotId ?? '', /^[0-9a-f]{64}$/);
        assert.ok((r.details?.backup?.repoBytes ?? 0) > 0);
        // What --alert-repo-usage compares: the local repository's filesystem, as df shows it.
        const used = r.details?.backup?.repoDiskUsedPercent;
        assert.ok(used !== undefined && used > 0 && used <= 100, `used ${used}`);
        const verified = r.details?.backup?.verified;
        assert.equal(verified?.ok, true);
        assert.equal(verified?.readDataSubset, '100%');
        assert.equal(verified?.errors, 0);
        assert.ok((verified?.packsRead ?? 0) >= 1, 'the verify step says how many packs it read');
        assert.ok((verified?.bytesRead ?? 0) > 0, 'and how many bytes');
      }
      // Runs 4 and 5 each pushed the oldest snapshot out.
      assert.deepEqual(
        runs.map((r) => r.details?.backup?.forgotten?.length),
        [0, 0, 0, 1, 1],
      );
      assert.equal(runs[3]!.details?.backup?.forgotten?.[0], runs[0]!.details?.backup?.snapshotId);
      assert.match(
        runs[4]!.evidence!.find((e) => e.check === 'retention')!.detail,
        /keep-last 3: 3 snapshots/,
      );
      const snaps = await listProfileSnapshots(w.app, 'nightly');
      assert.deepEqual(
        snaps.map((s) => s.id),
        runs.slice(2).map((r) => r.details!.backup!.snapshotId),
      );
      // Deduplication: the second run stored only what changed, not the 300 KB again.
      assert.ok(runs[0]!.details!.backup!.bytesAdded! > 250_000);
      assert.ok(runs[1]!.details!.backup!.bytesAdded! < 10_000, JSON.stringify(runs[1]!.details));
    } finally {
      await w.close();
    }
  });

  test('a broken secret reference fails the run naming the reference, and leaves no lock', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await passphraseRepo(repo);
      await addProfile(w, {
        name: 'pw',
        repository: repo,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_NOT_SET' },
        paths: [w.src],
      });
      await w.addJob('pw-backup', { kind: 'backup', profile: 'pw' });
      const run = await w.run('pw-backup');
      assert.equal(run.status, 'error');
      assert.match(run.error ?? '', /env:NS_TEST_NOT_SET/);
      assert.doesNotMatch(JSON.stringify(run), new RegExp(PASSWORD));
      assert.deepEqual(locks(repo), []);
      assert.deepEqual(locks(repo), []);
      assert.equal(snapshotsIn(repo), 0);
    } finally {
      await w.close();
    }
  });

  test('a missing profile fails the run naming it', async () => {
    const w = await world();
    try {
      await w.addJob('orphan', { kind: 'backup', profile: 'gone' });
      const run = await w.run('orphan');
      assert.equal(run.status, 'error');
      assert.match(run.error ?? '', /no backup profile named "gone"/);
    } finally {
      await w.close();
    }
  });

  test('the disk-space precheck refuses below --min-free, before anything is written', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await passphraseRepo(repo);
      await addProfile(w, {
        name: 'big',
        repository: repo,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
        minFreeBytes: 2 ** 50,
      });
      await w.addJob('big-backup', { kind: 'backup', profile: 'big' });
      const run = await w.run('big-backup');
      assert.equal(run.status, 'error');
      assert.match(run.error ?? '', /not enough free space .* need 1\.0 PiB \(the profile's --min-free/);
      assert.ok((run.details?.backup?.freeBytesBefore ?? 0) > 0);
      assert.equal(run.evidence?.[0]?.check, 'disk space');
      assert.deepEqual(locks(repo), []);
      assert.equal(snapshotsIn(repo), 0);
    } finally {
      await w.close();
    }
  });

  test('the precheck also wants 1.2 x the largest recent backup', async () => {
    const p = buildProfile(
      { name: 'x', repository: '/', key: { kind: 'passphrase', ref: 'env:X' }, paths: ['/etc'] },
      0,
    );
    const fine = await precheckSpace(p, [1000]);
    assert.equal(fine.ok, true);
    assert.equal(fine.neededBytes, 1200);
    const huge = await precheckSpace(p, [2 ** 60]);
    assert.equal(huge.ok, false);
    assert.match(huge.reason ?? '', /1\.2 x the largest recent backup/);
  });

  test('prune runs when due and frees the space of forgotten snapshots', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await passphraseRepo(repo);
      await addProfile(w, {
        name: 'p',
        repository: repo,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
        retention: { last: 1 },
        pruneEveryMs: 2 * HOUR,
      });
      await w.addJob('p-backup', { kind: 'backup', profile: 'p' });
      const first = await w.run('p-backup');
      assert.equal(first.details?.backup?.pruned, true);
      writeFileSync(join(w.src, 'sub', 'b.bin'), 'replaced');
      await w.clock.advance(HOUR);
      const second = await w.run('p-backup');
      assert.equal(second.status, 'ok', second.error);
      assert.equal(second.details?.backup?.pruned, false, 'pruned an hour after the last prune');
      await w.clock.advance(HOUR);
      const third = await w.run('p-backup');
      assert.equal(third.status, 'ok', third.error);
      assert.equal(third.details?.backup?.pruned, true);
      // The 300 KB of noise only the first snapshot held is gone.
      assert.ok((third.details?.backup?.prunedBytes ?? 0) > 250_000, JSON.stringify(third.details));
    } finally {
      await w.close();
    }
  });

  test('a run whose signal is already aborted ends interrupted', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await passphraseRepo(repo);
      await addProfile(w, {
        name: 'i',
        repository: repo,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
      });
      const job = await w.addJob('i-backup', { kind: 'backup', profile: 'i' });
      const ac = new AbortController();
      ac.abort();
      const out = await new BackupExecutor({ app: w.app, clock: w.clock }).execute(
        { kind: 'backup', profile: 'i' },
        { job, runId: 'r1', slotMs: 0, attempt: 1, signal: ac.signal, startedAtMs: 0, now: () => 0 },
      );
      assert.equal(out.status, 'interrupted');
      assert.deepEqual(locks(repo), []);
    } finally {
      await w.close();
    }
  });
});

describe('drill job', () => {
  test('restores a sample, matches live files, and fails once a pack is corrupted', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      await passphraseRepo(repo);
      await addProfile(w, {
        name: 'd',
        repository: repo,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
      });
      await w.addJob('d-backup', { kind: 'backup', profile: 'd' });
      await w.addJob('d-drill', { kind: 'drill', profile: 'd', samplePercent: 100 });
      assert.equal((await w.run('d-backup')).status, 'ok');
      writeFileSync(join(w.src, 'a.txt'), 'changed after the snapshot, longer\n');

      const good = await w.run('d-drill');
      assert.equal(good.status, 'ok', `${good.error}\n${good.outputTail}`);
      assert.deepEqual(
        { ...good.details?.drill, snapshotId: undefined, durationMs: undefined },
        {
          profile: 'd',
          repository: repo,
          snapshotId: undefined,
          durationMs: undefined,
          filesInSnapshot: 3,
          bytesRestored: 306006,
          sampled: 3,
          verified: 3,
          matchedLive: 2,
          skippedChanged: 1,
          failures: [],
        },
      );

      // Flip one byte in the middle of the biggest pack.
      const packs = filesUnder(join(repo, 'data')).sort((a, b) => statSync(b).size - statSync(a).size);
      const bytes = readFileSync(packs[0]!);
      bytes[Math.floor(bytes.length / 3)]! ^= 0xff;
      writeFileSync(packs[0]!, bytes);

      const bad = await w.run('d-drill');
      assert.equal(bad.status, 'error');
      assert.ok((bad.details?.drill?.failures.length ?? 0) >= 1, JSON.stringify(bad.details));
      assert.match(bad.error ?? '', /sampled files failed/);
    } finally {
      await w.close();
    }
  });

  test('a recipients profile drills with its identity reference, and says why it cannot without one', async () => {
    const w = await world();
    try {
      const repo = join(w.root, 'repo');
      const { identityFile } = await recipientsRepo(w, repo);
      await addProfile(w, {
        name: 'r',
        repository: repo,
        key: { kind: 'recipients' },
        paths: [w.src],
      });
      await w.addJob('r-backup', { kind: 'backup', profile: 'r' });
      await w.addJob('r-drill', { kind: 'drill', profile: 'r', sampleFiles: 2 });
      assert.equal((await w.run('r-backup')).status, 'ok');
      const refused = await w.run('r-drill');
      assert.equal(refused.status, 'error');
      assert.match(refused.error ?? '', /no identity reference.*--identity-ref/s);

      const p = (await w.app.store.profiles.get('r'))!;
      await w.app.store.profiles.update({
        ...p,
        key: { kind: 'recipients', identityRef: `file:${identityFile}` },
      });
      const ok = await w.run('r-drill');
      assert.equal(ok.status, 'ok', ok.error);
      assert.equal(ok.details?.drill?.sampled, 2);
      assert.equal(ok.details?.drill?.matchedLive, 2);
    } finally {
      await w.close();
    }
  });
});
