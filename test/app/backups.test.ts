/**
 * The backup use cases in src/app on real repositories: `backup run` (runBackup) and a backup job
 * (runProfileBackup) take the same path, so they share the files cache and the parent rule.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { listSnapshots, runBackup, type RepositoryRef } from '../../src/app/backups.ts';
import { runProfileBackup } from '../../src/backup-jobs/profile-backup.ts';
import { addProfile, passphraseRepo, PASSWORD, world } from '../backup-jobs/helpers.ts';

describe('app backups', () => {
  test('a backup run after a job of the same paths reads nothing and follows the job snapshot; the job keeps to its own', async () => {
    const w = await world();
    try {
      const location = join(w.root, 'repo');
      await passphraseRepo(location);
      await addProfile(w, {
        name: 'p',
        repository: location,
        key: { kind: 'passphrase', ref: 'env:NS_TEST_PW' },
        paths: [w.src],
      });
      const profile = (await w.app.store.profiles.get('p'))!;
      // The files cache skips files whose ctime is within a second of the backup's start (the
      // world's files were just written); this wait is for the filesystem, not for a schedule.
      await new Promise((r) => setTimeout(r, 1100));
      const job1 = await runProfileBackup(w.app, profile, { clock: w.clock });
      const ref: RepositoryRef = { homeDir: w.app.home.dir, location, keys: { password: PASSWORD } };
      const run = await runBackup(ref, { host: hostname(), tags: [], paths: [w.src] });
      assert.equal(run.stats.bytesRead, 0, 'the files cache the job filled vouched for every file');
      assert.equal(run.stats.filesUnchanged, 3);
      assert.equal(run.parent?.id, job1.details.snapshotId, 'any snapshot of the same host and paths');

      await w.clock.advance(60_000);
      const job2 = await runProfileBackup(w.app, profile, { clock: w.clock });
      const snaps = await listSnapshots(ref);
      const second = snaps.find((s) => s.id === job2.details.snapshotId)!;
      assert.equal(second.parent, job1.details.snapshotId, "a job's parent carries its profile tag");
    } finally {
      await w.close();
    }
  });

  test('a backup given a directory and a path inside it follows its previous snapshot', async () => {
    const w = await world();
    try {
      const location = join(w.root, 'repo');
      await passphraseRepo(location);
      const ref: RepositoryRef = { homeDir: w.app.home.dir, location, keys: { password: PASSWORD } };
      const input = { host: hostname(), tags: [], paths: [w.src, join(w.src, 'sub')] };
      const first = await runBackup(ref, input);
      assert.deepEqual(first.snapshot.paths, [w.src]);
      assert.equal(first.parent, undefined);
      const second = await runBackup(ref, input);
      assert.equal(second.parent?.id, first.snapshot.id);
    } finally {
      await w.close();
    }
  });
});
