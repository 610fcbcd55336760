import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/sqlite-schema.ts';
import type { Store } from '../../src/store/store.ts';
import { UserError } from '../../src/domain/errors.ts';
import { describeStoreContract, job, run, T0 } from './store-contract.ts';

describeStoreContract('SQLite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
  const file = path.join(dir, 'nightshift.db');
  const a = await openSqliteStore(file);
  const b = await openSqliteStore(file);
  return {
    a,
    b,
    async dispose() {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite store', () => {
  let dir: string;
  let file: string;
  let a: Store; // the daemon's connection
  let b: Store; // a CLI's connection

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    file = path.join(dir, 'nightshift.db');
    a = await openSqliteStore(file);
    b = await openSqliteStore(file);
  });

  after(async () => {
    await a.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the database and its WAL files are private to the user (0600)', async () => {
    await a.insertJob(job('mode-1', 'mode-check'));
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
    }
  });

  test('changeToken moves when the other connection commits, not on own writes', async () => {
    const before = await a.changeToken();
    assert.equal(await a.changeToken(), before);
    await a.insertJob(job('t-1', 'own-write'));
    assert.equal(await a.changeToken(), before, 'own commit does not change it');
    await b.insertJob(job('t-2', 'cli-write'));
    const after1 = await a.changeToken();
    assert.notEqual(after1, before);
    await b.patchJobState('t-2', { consecutiveSkipped: 1 });
    assert.notEqual(await a.changeToken(), after1);
  });

  test('reopening the file keeps jobs and runs; a read-only open sees them and cannot write', async () => {
    await a.insertJob(job('k-1', 'kept'));
    await a.claimRun(run('k-1', T0, { status: 'ok' }));
    const c = await openSqliteStore(file);
    assert.equal((await c.findJob('kept'))?.id, 'k-1');
    assert.equal((await c.listRuns({ jobId: 'k-1' })).total, 1);
    await c.close();
    const ro = await openSqliteStore(file, { readonly: true });
    assert.equal((await ro.findJob('kept'))?.id, 'k-1');
    await assert.rejects(ro.insertJob(job('k-2', 'nope')), /readonly/i);
    await ro.close();
  });

  test('10k slot claims from one process: prints the rate', async () => {
    await a.insertJob(job('perf-1', 'perf'));
    const n = 10_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await a.claimRun(run('perf-1', T0 + i * 1000, { status: 'ok', finishedAtMs: T0 + i * 1000 }));
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`sqlite store: ${n} claims in ${ms.toFixed(0)} ms (${Math.round((n / ms) * 1000)}/s)`);
    const dupStart = process.hrtime.bigint();
    let refused = 0;
    for (let i = 0; i < 1000; i++) if (!(await b.claimRun(run('perf-1', T0 + i * 1000)))) refused++;
    const dupMs = Number(process.hrtime.bigint() - dupStart) / 1e6;
    console.log(`sqlite store: 1000 refused duplicate claims in ${dupMs.toFixed(0)} ms`);
    assert.equal(refused, 1000);
    assert.equal((await b.listRuns({ jobId: 'perf-1', limit: 1 })).total, n);
    assert.ok(ms < 60_000, 'claims are not pathologically slow');

    await a.insertJob(job('perf-2', 'perf batched'));
    const batchStart = process.hrtime.bigint();
    let claimed = 0;
    for (let b0 = 0; b0 < n; b0 += 1000) {
      const writes = Array.from({ length: 1000 }, (_, i) => ({
        kind: 'claim' as const,
        run: run('perf-2', T0 + (b0 + i) * 1000),
      }));
      claimed += (await a.writeBatch?.(writes))?.filter(Boolean).length ?? 0;
    }
    const batchMs = Number(process.hrtime.bigint() - batchStart) / 1e6;
    console.log(`sqlite store: ${n} claims in batches of 1000 in ${batchMs.toFixed(0)} ms`);
    assert.equal(claimed, n);
  });

  test('with claimSync FULL claims still work (each one synced); prints the rate', async () => {
    const full = await openSqliteStore(path.join(dir, 'full.db'), { claimSync: 'FULL' });
    try {
      await full.insertJob(job('full-1', 'synced'));
      const n = 200;
      const start = process.hrtime.bigint();
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => full.claimRun(run('full-1', T0 + (i % 100) * 1000))),
      );
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      console.log(`sqlite store: ${n} synced claims (half duplicates) in ${ms.toFixed(0)} ms`);
      assert.equal(results.filter(Boolean).length, 100);
      assert.equal((await full.listRuns({ jobId: 'full-1' })).total, 100);
    } finally {
      await full.close();
    }
  });
});

describe('SQLite store: processes racing for slots', () => {
  test('two processes claiming the same 1000 slots at once: each slot is won exactly once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
    try {
      const file = path.join(dir, 'race.db');
      const s = await openSqliteStore(file);
      await s.insertJob(job('race-1', 'race'));
      const storeModule = fileURLToPath(new URL('../../src/store/sqlite-store.ts', import.meta.url));
      const script = `
        import { openSqliteStore } from ${JSON.stringify(storeModule)};
        import fs from 'node:fs';
        const s = await openSqliteStore(${JSON.stringify(file)});
        // Start together: each says it is ready and waits for the other.
        fs.writeFileSync(${JSON.stringify(dir)} + '/ready-' + process.argv[1], '');
        while (fs.readdirSync(${JSON.stringify(dir)}).filter((f) => f.startsWith('ready-')).length < 2) {
          await new Promise((r) => setTimeout(r, 5));
        }
        let won = 0;
        // Opposite directions, so they meet in the middle and contend for the same slots.
        for (let n = 0; n < 1000; n++) {
          const i = process.argv[1] === 'p1' ? n : 999 - n;
          const ok = await s.claimRun({ runId: process.argv[1] + '-' + i, jobId: 'race-1', slotMs: ${T0} + i * 1000,
            attempt: 1, trigger: 'schedule', status: 'running' });
          if (ok) won++;
        }
        await s.close();
        console.log(won);
      `;
      const run = (name: string) =>
        promisify(execFile)(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, name],
          {
            timeout: 60_000,
          },
        );
      const [p1, p2] = await Promise.all([run('p1'), run('p2')]);
      const won = [Number(p1.stdout), Number(p2.stdout)];
      console.log(`sqlite store: slots won per process ${won.join(' + ')}`);
      assert.equal((won[0] ?? 0) + (won[1] ?? 0), 1000);
      const page = await s.listRuns({ jobId: 'race-1' });
      assert.equal(page.total, 1000);
      assert.equal(new Set(page.entries.map((r) => r.slotMs)).size, 1000);
      await s.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite store: bad files', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a file that is not SQLite is refused with an error naming it, and left untouched', async () => {
    const f = path.join(dir, 'garbage.db');
    const bytes = Buffer.from('this is not a database, it is a shopping list\n'.repeat(200));
    fs.writeFileSync(f, bytes);
    await assert.rejects(openSqliteStore(f), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.ok(err.message.includes(f), err.message);
      assert.match(err.message, /not a nightshift database/);
      return true;
    });
    assert.deepEqual(fs.readFileSync(f), bytes);
    await assert.rejects(openSqliteStore(f, { readonly: true }), /not a nightshift database/);
  });

  test('a version 2 database is upgraded in place: runs keep every field and no longer go with their job', async () => {
    const f = path.join(dir, 'v2.db');
    const raw = new Database(f);
    raw.exec(MIGRATIONS[0]!);
    raw.exec(MIGRATIONS[1]!);
    raw.pragma('user_version = 2');
    raw
      .prepare('INSERT INTO jobs VALUES (?, ?, 1, ?, ?, ?, ?)')
      .run('v-1', 'old', JSON.stringify(job('v-1', 'old')), '{}', T0, T0);
    raw
      .prepare(
        `INSERT INTO runs (run_id, job_id, slot_ms, attempt, trigger, status, error, started_at_ms,
          finished_at_ms, duration_ms, exit_code, signal, output_tail, evidence, pid, not_before_ms, details)
         VALUES ('r-1', 'v-1', ?, 1, 'schedule', 'error', 'exit code 3', ?, ?, 7, 3, NULL, 'tail', '[]', 99, NULL, '{"k":1}')`,
      )
      .run(T0, T0, T0 + 7);
    raw.close();

    const s = await openSqliteStore(f);
    try {
      const r = await s.getRun('r-1');
      assert.deepEqual(
        [r?.status, r?.error, r?.startedAtMs, r?.durationMs, r?.exitCode, r?.outputTail, r?.pid, r?.details],
        ['error', 'exit code 3', T0, 7, 3, 'tail', 99, { k: 1 }],
      );
      assert.equal(await s.deleteJob('v-1', { keepRuns: true }), true);
      assert.equal((await s.getRun('r-1'))?.status, 'error', 'no cascade any more');
    } finally {
      await s.close();
    }
    const check = new Database(f, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepEqual(
      check
        .prepare(
          "SELECT name FROM sqlite_master WHERE tbl_name = 'runs' AND type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .all(),
      [{ name: 'runs_by_slot' }, { name: 'runs_by_status' }],
    );
    check.close();
  });

  test('a database from a newer nightshift is refused', async () => {
    const f = path.join(dir, 'newer.db');
    const s = await openSqliteStore(f);
    await s.close();
    const raw = new Database(f);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    for (const readonly of [false, true]) {
      await assert.rejects(openSqliteStore(f, { readonly }), (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /newer nightshift/);
        assert.ok(err.message.includes(f));
        return true;
      });
    }
  });

  test('a read-only open of a missing file says so and creates nothing', async () => {
    const f = path.join(dir, 'missing.db');
    await assert.rejects(openSqliteStore(f, { readonly: true }), /does not exist/);
    assert.equal(fs.existsSync(f), false);
  });

  test('an unwritable location is a clear error', async () => {
    await assert.rejects(
      openSqliteStore(path.join(dir, 'no', 'such', 'dir.db')),
      /cannot create the database/,
    );
  });
});
