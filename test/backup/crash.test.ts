/**
 * Crash safety: `nightshift backup run` and `nightshift backup prune` are killed with SIGKILL at
 * seeded random points; after every kill the repository must pass `check --read-data` and its
 * newest snapshot must restore byte-exact to the data it was taken from.
 *
 * NIGHTSHIFT_CRASH_SEED replays a run; NIGHTSHIFT_CRASH_ITERATIONS changes the count (default 50).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from '../../src/backup/check.ts';
import { keygen } from '../../src/backup/keys.ts';
import { forgetSnapshots } from '../../src/backup/prune.ts';
import { initRepository, openRepository, type Repo } from '../../src/backup/repository.ts';
import { restore } from '../../src/backup/restorer.ts';
import { writerKeyPath } from '../../src/backup/access.ts';

const BIN = fileURLToPath(new URL('../../bin/nightshift', import.meta.url));
const SEED = Number(process.env.NIGHTSHIFT_CRASH_SEED ?? 20261122);
const ITERATIONS = Number(process.env.NIGHTSHIFT_CRASH_ITERATIONS ?? 50);
/** Every third iteration kills a prune; the others a backup. */
const PRUNE_EVERY = 3;
const BIG_FILES = 3;
/** Each backup writes 3 × 6 MiB of new incompressible data: more than one 16 MiB pack. */
const BIG_SIZE = 6 * 1024 * 1024;

/** mulberry32: small, seedable, good enough to spread kill points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function describeTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        out[r] = 'dir';
        walk(r);
      } else
        out[r] =
          `file ${(st.mode & 0o777).toString(8)} ${st.size} ${fs.lstatSync(p, { bigint: true }).mtimeNs / 1_000_000n} ` +
          createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk('');
  return out;
}

/** Turns the data into a new version: new big files, one small file changed, one added. */
function mutate(data: string, version: number): void {
  for (let i = 0; i < BIG_FILES; i++)
    fs.writeFileSync(path.join(data, `big-${i}.bin`), randomBytes(BIG_SIZE));
  fs.writeFileSync(path.join(data, 'small', `note-${version % 7}.txt`), `version ${version}\n`.repeat(50));
  fs.writeFileSync(path.join(data, 'small', `added-${version}.txt`), `added in ${version}\n`);
}

interface Outcome {
  killed: boolean;
  code: number | null;
  stderr: string;
  elapsedMs: number;
}

/** Runs the CLI and SIGKILLs it after `killAfterMs` unless it ends first. */
function runAndKill(args: string[], killAfterMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = child.kill('SIGKILL');
    }, killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: killed && signal === 'SIGKILL', code, stderr, elapsedMs: Date.now() - started });
    });
  });
}

test(
  'SIGKILL during backup run and prune never leaves a repository that fails check or restore',
  { timeout: 900_000 },
  async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    try {
      const home = path.join(tmp, 'home');
      const repoDir = path.join(tmp, 'repo');
      const data = path.join(tmp, 'data');
      fs.mkdirSync(path.join(data, 'small'), { recursive: true });
      for (let i = 0; i < 20; i++)
        fs.writeFileSync(path.join(data, 'small', `file-${i}.txt`), `small file ${i}\n`);

      // A recipients repository: no password KDF per spawned command keeps each iteration fast.
      const { identity, recipient } = await keygen();
      const { repo: created, writerKey } = await initRepository(repoDir, { recipients: [recipient] });
      fs.mkdirSync(path.dirname(writerKeyPath(home, created.id)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(writerKeyPath(home, created.id), writerKey!, { mode: 0o600 });
      await created.close();
      const open = (): Promise<Repo> => openRepository(repoDir, { identities: [identity] });

      const expected = new Map<string, Record<string, string>>();
      const backupArgs = (v: number): string[] => [
        '--home',
        home,
        'backup',
        'run',
        '-r',
        repoDir,
        '--tag',
        `v${v}`,
        data,
      ];
      const pruneArgs = ['--home', home, 'backup', 'prune', '-r', repoDir];

      // Baselines, not killed: how long a whole backup and a whole prune take on this machine now,
      // so kill points spread over the work whatever the machine's speed.
      mutate(data, 0);
      expected.set('v0', describeTree(data));
      const base = await runAndKill(backupArgs(0), 600_000);
      assert.equal(base.code, 0, base.stderr);
      let backupMs = base.elapsedMs;
      let pruneMs = 0;

      const random = rng(SEED);
      let kills = 0;
      let backupsKilled = 0;
      let prunesKilled = 0;
      for (let it = 1; it <= ITERATIONS; it++) {
        const isPrune = it % PRUNE_EVERY === 0;
        let outcome: Outcome;
        if (isPrune) {
          // Leave garbage for prune: forget all but the newest snapshot.
          const repo = await open();
          const snaps = await repo.listSnapshots();
          await forgetSnapshots(
            repo,
            snaps.slice(0, -1).map((s) => s.id),
          );
          await repo.close();
          if (pruneMs === 0) {
            outcome = await runAndKill(pruneArgs, 600_000);
            assert.equal(outcome.code, 0, outcome.stderr);
            pruneMs = outcome.elapsedMs;
          } else {
            outcome = await runAndKill(pruneArgs, Math.floor(pruneMs * (0.25 + 0.85 * random())));
            if (outcome.killed) prunesKilled++;
          }
        } else {
          mutate(data, it);
          expected.set(`v${it}`, describeTree(data));
          outcome = await runAndKill(backupArgs(it), Math.floor(backupMs * (0.25 + 0.85 * random())));
          if (outcome.killed) backupsKilled++;
          else backupMs = Math.max(backupMs, outcome.elapsedMs);
        }
        if (outcome.killed) kills++;
        else
          assert.equal(
            outcome.code,
            0,
            `iteration ${it} (${isPrune ? 'prune' : 'backup'}) failed: ${outcome.stderr}`,
          );

        const repo = await open();
        try {
          const report = await check(repo, { readData: true });
          assert.ok(
            report.ok,
            `iteration ${it} (${isPrune ? 'prune' : 'backup'}, seed ${SEED}): check failed: ${JSON.stringify(report.errors)}`,
          );
          const snaps = await repo.listSnapshots();
          const latest = snaps[snaps.length - 1]!;
          const tag = latest.tags[0]!;
          const target = path.join(tmp, `restore-${it}`);
          await restore(repo, latest, { target });
          assert.deepEqual(
            describeTree(path.join(target, data)),
            expected.get(tag),
            `iteration ${it} (seed ${SEED}): snapshot ${tag} does not restore byte-exact`,
          );
          fs.rmSync(target, { recursive: true, force: true });
        } finally {
          await repo.close();
        }
      }

      // Most kill points must land inside the work, or the test proves little.
      assert.ok(
        backupsKilled >= (ITERATIONS - Math.floor(ITERATIONS / PRUNE_EVERY)) / 3,
        `only ${backupsKilled} backups were killed`,
      );
      assert.ok(kills >= ITERATIONS / 3, `only ${kills} of ${ITERATIONS} runs were killed`);

      // The command users run agrees, and a clean backup still works after all the crashes.
      const last = await runAndKill([...backupArgs(ITERATIONS + 1)], 600_000);
      assert.equal(last.code, 0, last.stderr);
      const idFile = path.join(tmp, 'identity.txt');
      fs.writeFileSync(idFile, identity + '\n', { mode: 0o600 });
      const final = await runAndKill(
        ['--home', home, 'backup', 'check', '--read-data', '-r', repoDir, '-i', idFile],
        600_000,
      );
      assert.equal(final.code, 0, final.stderr);
      t.diagnostic(`kills: ${kills} (${backupsKilled} backups, ${prunesKilled} prunes) of ${ITERATIONS}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
