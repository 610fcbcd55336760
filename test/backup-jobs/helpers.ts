/**
 * Test setup for backup jobs: a real home (openApp on a temp dir), real repositories, real files,
 * and the real Engine with a ManualClock running the backup and drill executors.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openApp, type App } from '../../src/app/app.ts';
import { initRepository } from '../../src/backup/repository.ts';
import { keygen } from '../../src/backup/keys.ts';
import { writerKeyPath } from '../../src/backup/access.ts';
import { createBackupExecutors } from '../../src/backup-jobs/executors.ts';
import { buildProfile, type ProfileInput } from '../../src/domain/backup-profile.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY, type Job, type Payload, type Run } from '../../src/domain/job.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import { FAST_SCRYPT, noise } from '../backup/repository-helpers.ts';

export const T0 = Date.UTC(2027, 0, 4, 3, 0, 0);
export const HOUR = 3_600_000;
export const PASSWORD = 'pw-for-tests-' + Math.random().toString(36).slice(2);

export interface World {
  root: string;
  app: App;
  clock: ManualClock;
  engine: Engine;
  /** Live files to back up. */
  src: string;
  addJob(name: string, payload: Payload): Promise<Job>;
  /** Queues a manual run of the job and executes it in this process; returns the finished run. */
  run(name: string): Promise<Run>;
  close(): Promise<void>;
}

export async function world(): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), 'ns-bj-'));
  const app = await openApp(join(root, 'home'), { ...process.env, NS_TEST_PW: PASSWORD });
  const clock = new ManualClock(T0);
  const engine = new Engine({
    store: app.store,
    clock,
    executors: createBackupExecutors({ app, clock }),
    changePollMs: 0,
  });
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha\n');
  writeFileSync(join(src, 'sub', 'b.bin'), noise('b', 300_000));
  writeFileSync(join(src, 'sub', 'c.txt'), 'gamma '.repeat(1000));
  // An mtime in the past, as live files mostly have (the drill compares size + mtime).
  const past = new Date(Date.now() - HOUR);
  for (const f of ['a.txt', 'sub/b.bin', 'sub/c.txt']) utimesSync(join(src, f), past, past);
  return {
    root,
    app,
    clock,
    engine,
    src,
    async addJob(name, payload) {
      const job: Job = {
        id: name + '-id',
        name,
        enabled: true,
        schedule: { kind: 'every', everyMs: 24 * HOUR },
        payload,
        deleteAfterRun: false,
        policy: DEFAULT_POLICY,
        evidence: {},
        history: DEFAULT_HISTORY,
        createdAtMs: clock.now(),
        updatedAtMs: clock.now(),
        state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
      };
      await app.store.insertJob(job);
      return job;
    },
    async run(name) {
      const r = await engine.requestRun(name);
      if (!r.runId) throw new Error(`not queued: ${r.reason}`);
      return engine.runQueuedNow(r.runId);
    },
    async close() {
      await app.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A recipients repository whose writer key is kept in the home; returns the identity file (0600). */
export async function recipientsRepo(
  w: World,
  dir: string,
): Promise<{ identityFile: string; repoId: string }> {
  const id = await keygen();
  const { repo, writerKey } = await initRepository(dir, { recipients: [id.recipient] });
  const keyPath = writerKeyPath(w.app.home.dir, repo.id);
  mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, writerKey!, { mode: 0o600 });
  await repo.close();
  const identityFile = join(w.root, 'identity.txt');
  writeFileSync(identityFile, id.fileText, { mode: 0o600 });
  chmodSync(identityFile, 0o600);
  return { identityFile, repoId: repo.id };
}

/** A passphrase repository whose password the profile reads from env:NS_TEST_PW. */
export async function passphraseRepo(dir: string): Promise<void> {
  const { repo } = await initRepository(dir, { password: PASSWORD, scrypt: FAST_SCRYPT });
  await repo.close();
}

export async function addProfile(w: World, input: ProfileInput): Promise<void> {
  await w.app.store.profiles.insert(buildProfile(input, w.clock.now()));
}
