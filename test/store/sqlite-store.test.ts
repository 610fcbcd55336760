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
import { StoreConflictError } from '../../src/store/store.ts';
import type { Store } from '../../src/store/store.ts';
import { UserError } from '../../src/domain/errors.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { Job, Run } from '../../src/domain/job.ts';

const T0 = Date.UTC(2027, 0, 1);

function job(id: string, name: string, extra: Partial<Job> = {}): Job {
  return {
    id,
    name,
    enabled: true,
    schedule: { kind: 'every', everyMs: 60_000 },
    payload: { kind: 'command', command: 'echo hi', env: { A: 'b' } },
    deleteAfterRun: false,
    policy: DEFAULT_POLICY,
    evidence: { expectOutput: 'hi' },
    history: DEFAULT_HISTORY,
    createdAtMs: T0,
    updatedAtMs: T0,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
    ...extra,
  };
}

function run(jobId: string, slotMs: number, extra: Partial<Run> = {}): Run {
  return {
    runId: `${jobId}-${slotMs}-${extra.attempt ?? 1}`,
    jobId,
    slotMs,
    attempt: 1,
    trigger: 'schedule',
    status: 'running',
    startedAtMs: slotMs,
    ...extra,
  };
}

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

  test('a job round-trips, is found by id or exact name, and listed by name', async () => {
    const j = job('j-1', 'nightly backup', { description: 'tar the state', enabled: false });
    await a.insertJob(j);
    assert.deepEqual(await b.findJob('j-1'), j);
    assert.deepEqual(await b.findJob('nightly backup'), j);
    assert.equal(await b.findJob('Nightly Backup'), undefined, 'names are case-sensitive');
    await a.insertJob(job('j-2', 'Nightly Backup'));
    const names = (await b.listJobs()).map((x) => x.name);
    const sorted = [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    assert.deepEqual(names, sorted);
    assert.ok(names.includes('Nightly Backup') && names.includes('nightly backup'));
  });

  test('a taken name is a conflict, on insert and on rename', async () => {
    await a.insertJob(job('c-1', 'alpha'));
    await a.insertJob(job('c-2', 'beta'));
    await assert.rejects(b.insertJob(job('c-3', 'alpha')), (err: Error) => {
      assert.ok(err instanceof StoreConflictError);
      assert.match(err.message, /"alpha" already exists/);
      return true;
    });
    await assert.rejects(b.insertJob(job('c-1', 'gamma')), StoreConflictError);
    await assert.rejects(b.updateJob(job('c-2', 'alpha')), /"alpha" already exists/);
    assert.equal((await a.findJob('c-2'))?.name, 'beta', 'the failed rename changed nothing');
    await b.updateJob(job('c-2', 'beta2', { description: 'renamed' }));
    assert.equal((await a.findJob('beta2'))?.description, 'renamed');
    await assert.rejects(b.updateJob(job('nope', 'x')), (err: Error) => err instanceof UserError);
  });

  test('patchJobState merges into state and can clear a field', async () => {
    await a.insertJob(job('p-1', 'patched', { description: 'keep me' }));
    await b.updateJob(job('p-1', 'patched', { description: 'user edit' }));
    await a.patchJobState('p-1', { lastError: 'exit code 1', consecutiveErrors: 2, lastRunAtMs: T0 });
    let j = await b.findJob('p-1');
    assert.equal(j?.description, 'user edit', 'the patch did not overwrite the user edit');
    assert.deepEqual(j?.state, {
      consecutiveErrors: 2,
      consecutiveSkipped: 0,
      lastError: 'exit code 1',
      lastRunAtMs: T0,
    });
    await a.patchJobState('p-1', { lastError: undefined, consecutiveErrors: 0 });
    j = await b.findJob('p-1');
    assert.equal(j?.state.lastError, undefined);
    assert.equal('lastError' in (j?.state ?? {}), false);
    assert.equal(j?.state.consecutiveErrors, 0);
  });

  test('a slot claimed by one process is refused to the other', async () => {
    await a.insertJob(job('s-1', 'slotted'));
    assert.equal(await a.claimRun(run('s-1', T0)), true);
    assert.equal(await b.claimRun(run('s-1', T0, { runId: 'other-id' })), false);
    assert.equal(await b.getRun('other-id'), undefined);
    assert.equal(await b.claimRun(run('s-1', T0, { attempt: 2, trigger: 'retry' })), true, 'a retry is new');
    assert.equal(await b.claimRun(run('no-such-job', T0)), false, 'a deleted job cannot claim');
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

  test('a run goes queued -> running -> finished, with duration; a final record is not overwritten', async () => {
    await a.insertJob(job('r-1', 'lifecycle'));
    const q = run('r-1', T0, { status: 'queued', startedAtMs: undefined, notBeforeMs: T0 + 30_000 });
    assert.equal(await a.claimRun(q), true);
    assert.deepEqual(
      (await b.unfinishedRuns()).filter((r) => r.jobId === 'r-1').map((r) => r.status),
      ['queued'],
    );
    await a.startRun(q.runId, T0 + 30_000, 4242);
    let r = await b.getRun(q.runId);
    assert.equal(r?.status, 'running');
    assert.equal(r?.pid, 4242);
    assert.equal(r?.notBeforeMs, T0 + 30_000);
    await a.finishRun(q.runId, {
      status: 'error',
      error: 'exit code 3',
      finishedAtMs: T0 + 31_500,
      exitCode: 3,
      signal: null,
      outputTail: 'boom\n',
      evidence: [{ check: 'expectOutput /hi/', ok: false, detail: 'no match' }],
    });
    r = await b.getRun(q.runId);
    assert.equal(r?.status, 'error');
    assert.equal(r?.durationMs, 1500);
    assert.equal(r?.exitCode, 3);
    assert.equal(r?.outputTail, 'boom\n');
    assert.deepEqual(r?.evidence, [{ check: 'expectOutput /hi/', ok: false, detail: 'no match' }]);
    await b.finishRun(q.runId, { status: 'interrupted', finishedAtMs: T0 + 40_000 });
    assert.equal((await a.getRun(q.runId))?.status, 'error');
    assert.equal((await a.unfinishedRuns()).filter((r) => r.jobId === 'r-1').length, 0);
  });

  test('a queued run is taken by one process only', async () => {
    await a.insertJob(job('tk-1', 'taken'));
    const q = run('tk-1', T0, { status: 'queued', startedAtMs: undefined, trigger: 'manual' });
    await a.claimRun(q);
    assert.ok(a.takeRun && b.takeRun);
    const [first, second] = await Promise.all([a.takeRun(q.runId, T0 + 5), b.takeRun(q.runId, T0 + 6)]);
    assert.equal([first, second].filter(Boolean).length, 1);
    const r = await a.getRun(q.runId);
    assert.equal(r?.status, 'running');
    assert.equal(r?.startedAtMs, first ? T0 + 5 : T0 + 6);
    assert.equal(await b.takeRun(q.runId, T0 + 7), false, 'a running run is not taken again');
  });

  test('writeBatch applies claims, finishes, state patches and pruning in one transaction', async () => {
    await a.insertJob(job('wb-1', 'batched'));
    await a.claimRun(run('wb-1', T0 - 60_000, { status: 'ok', finishedAtMs: T0 - 59_000 }));
    const before = await b.changeToken();
    const results = await a.writeBatch([
      { kind: 'claim', run: run('wb-1', T0) },
      { kind: 'claim', run: run('wb-1', T0, { runId: 'dup' }) },
      { kind: 'claim', run: run('gone-job', T0) },
      {
        kind: 'finish',
        runId: run('wb-1', T0).runId,
        finish: { status: 'error', error: 'exit code 2', finishedAtMs: T0 + 250, exitCode: 2 },
      },
      { kind: 'patchState', jobId: 'wb-1', patch: { lastRunStatus: 'error', consecutiveErrors: 1 } },
      { kind: 'prune', jobId: 'wb-1', keep: { maxRuns: 1, olderThanMs: 0 } },
    ]);
    assert.deepEqual(results, [true, false, false, true, true, true]);
    assert.notEqual(await b.changeToken(), before, 'the other connection sees the batch');
    const page = await b.listRuns({ jobId: 'wb-1' });
    assert.equal(page.total, 1, 'the older finished run was pruned');
    assert.equal(page.entries[0]?.status, 'error');
    assert.equal(page.entries[0]?.durationMs, 250);
    assert.equal(page.entries[0]?.error, 'exit code 2');
    assert.equal((await b.findJob('wb-1'))?.state.consecutiveErrors, 1);
    assert.equal(await b.getRun('dup'), undefined);
  });

  test('writeBatch records the start of a run claimed ahead, and puts one back in the queue', async () => {
    await a.insertJob(job('wb-2', 'ahead'));
    const ahead = run('wb-2', T0, { startedAtMs: undefined });
    const other = run('wb-2', T0 + 60_000, { startedAtMs: undefined });
    await a.claimRun(ahead);
    await a.claimRun(other);
    assert.equal((await b.getRun(ahead.runId))?.startedAtMs, undefined, 'claimed, not started');
    const results = await a.writeBatch([
      { kind: 'start', runId: ahead.runId, startedAtMs: T0 + 2, pid: 4242 },
      // A start without a pid keeps the one already written.
      { kind: 'start', runId: ahead.runId, startedAtMs: T0 + 2 },
      { kind: 'requeue', runId: other.runId, notBeforeMs: T0 + 60_000 },
      { kind: 'start', runId: 'no-such-run', startedAtMs: T0 },
    ]);
    assert.deepEqual(results, [true, true, true, false]);
    const started = await b.getRun(ahead.runId);
    assert.equal(started?.startedAtMs, T0 + 2);
    assert.equal(started?.pid, 4242);
    const queued = await b.getRun(other.runId);
    assert.equal(queued?.status, 'queued');
    assert.equal(queued?.notBeforeMs, T0 + 60_000);
    // Only a running run goes back to the queue, and only a running one records a start.
    assert.deepEqual(
      await a.writeBatch([
        { kind: 'requeue', runId: other.runId, notBeforeMs: T0 },
        { kind: 'start', runId: other.runId, startedAtMs: T0 },
      ]),
      [false, false],
    );
  });

  test('listRuns pages newest first with total and hasMore, filters by status', async () => {
    await a.insertJob(job('l-1', 'paged'));
    for (let i = 0; i < 25; i++) {
      await a.claimRun(run('l-1', T0 + i * 60_000, { status: i % 5 === 0 ? 'skipped' : 'running' }));
    }
    const p1 = await b.listRuns({ jobId: 'l-1', limit: 10 });
    assert.equal(p1.total, 25);
    assert.equal(p1.hasMore, true);
    assert.deepEqual(
      p1.entries.map((r) => r.slotMs),
      Array.from({ length: 10 }, (_, i) => T0 + (24 - i) * 60_000),
    );
    const p3 = await b.listRuns({ jobId: 'l-1', limit: 10, offset: 20 });
    assert.equal(p3.entries.length, 5);
    assert.equal(p3.hasMore, false);
    assert.equal(p3.entries.at(-1)?.slotMs, T0);
    const skipped = await b.listRuns({ jobId: 'l-1', status: 'skipped' });
    assert.equal(skipped.total, 5);
    assert.ok(skipped.entries.every((r) => r.status === 'skipped'));
    assert.equal(await b.lastSlotMs('l-1'), T0 + 24 * 60_000);
  });

  test('lastSlotMs ignores manual runs', async () => {
    await a.insertJob(job('m-1', 'manual-last'));
    assert.equal(await a.lastSlotMs('m-1'), undefined);
    await a.claimRun(run('m-1', T0));
    await a.claimRun(run('m-1', T0 + 999_000, { trigger: 'manual' }));
    assert.equal(await a.lastSlotMs('m-1'), T0);
  });

  test('pruneRuns keeps the newest N and drops old ones, never queued or running runs', async () => {
    await a.insertJob(job('pr-1', 'pruned'));
    for (let i = 0; i < 10; i++) {
      const slot = T0 + i * 3_600_000;
      await a.claimRun(run('pr-1', slot, { status: 'ok', finishedAtMs: slot + 1000 }));
    }
    // Two unfinished runs among the oldest slots.
    await a.claimRun(run('pr-1', T0 - 7_200_000, { status: 'running' }));
    await a.claimRun(run('pr-1', T0 - 3_600_000, { status: 'queued', startedAtMs: undefined }));
    assert.equal(await b.pruneRuns('pr-1', { maxRuns: 6, olderThanMs: 0 }), 4);
    let left = await b.listRuns({ jobId: 'pr-1' });
    assert.equal(left.total, 8);
    assert.deepEqual(
      left.entries.filter((r) => r.status === 'ok').map((r) => r.slotMs),
      [9, 8, 7, 6, 5, 4].map((i) => T0 + i * 3_600_000),
    );
    // Age: everything finished before slot 7 goes; still the unfinished stay.
    assert.equal(await b.pruneRuns('pr-1', { maxRuns: 100, olderThanMs: T0 + 7 * 3_600_000 }), 3);
    left = await b.listRuns({ jobId: 'pr-1' });
    assert.deepEqual(left.entries.map((r) => r.status).sort(), ['ok', 'ok', 'ok', 'queued', 'running']);
    assert.equal(await b.pruneRuns('pr-1', { maxRuns: 0, olderThanMs: Number.MAX_SAFE_INTEGER }), 3);
    assert.equal((await b.listRuns({ jobId: 'pr-1' })).total, 2);
  });

  test('deleting a job removes its runs', async () => {
    await a.insertJob(job('d-1', 'doomed'));
    await a.claimRun(run('d-1', T0, { status: 'ok' }));
    await a.claimRun(run('d-1', T0 + 1, { status: 'ok' }));
    assert.equal(await b.deleteJob('d-1'), true);
    assert.equal(await b.deleteJob('d-1'), false);
    assert.equal(await a.findJob('d-1'), undefined);
    assert.equal((await a.listRuns({ jobId: 'd-1' })).total, 0);
  });

  test('a job deleted with keepRuns leaves its history, which ages out once the job is gone', async () => {
    await a.insertJob(job('o-1', 'one-shot'));
    await a.insertJob(job('o-2', 'alive'));
    await a.claimRun(run('o-1', T0, { status: 'ok', finishedAtMs: T0 + 5 }));
    await a.claimRun(run('o-2', T0, { status: 'ok', finishedAtMs: T0 + 5 }));
    assert.equal(await b.deleteJob('o-1', { keepRuns: true }), true);
    assert.equal(await a.findJob('o-1'), undefined);
    assert.equal((await a.listRuns({ jobId: 'o-1' })).entries[0]?.status, 'ok', 'the history stays');
    assert.equal(await a.claimRun(run('o-1', T0 + 60_000)), false, 'a gone job claims nothing');

    assert.equal(await b.pruneOrphanRuns(T0), 0, 'not old enough yet');
    assert.equal(await b.pruneOrphanRuns(T0 + 10), 1);
    assert.equal((await a.listRuns({ jobId: 'o-1' })).total, 0);
    assert.equal((await a.listRuns({ jobId: 'o-2' })).total, 1, 'runs of live jobs are left to their policy');
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
