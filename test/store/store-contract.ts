/**
 * The store contract: what every store (SQLite, PostgreSQL) must do the same way. Each store's
 * test file calls describeStoreContract with a way to open two connections to one fresh database
 * (a daemon's and a CLI's).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StoreConflictError } from '../../src/store/store.ts';
import type { Store } from '../../src/store/store.ts';
import { UserError } from '../../src/domain/errors.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { Job, Run } from '../../src/domain/job.ts';

export const T0 = Date.UTC(2027, 0, 1);

export function job(id: string, name: string, extra: Partial<Job> = {}): Job {
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

export function run(jobId: string, slotMs: number, extra: Partial<Run> = {}): Run {
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

export interface StorePair {
  /** The daemon's connection. */
  a: Store;
  /** A CLI's connection to the same database. */
  b: Store;
  /** Closes both and removes the database. */
  dispose(): Promise<void>;
}

export function describeStoreContract(name: string, open: () => Promise<StorePair>): void {
  describe(`${name} store: the store contract`, () => {
    let pair: StorePair;
    let a: Store;
    let b: Store;

    before(async () => {
      pair = await open();
      ({ a, b } = pair);
    });

    after(async () => {
      await pair.dispose();
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

    test('countRuns counts runs per job, time bucket and status (the dashboard timeline)', async () => {
      await a.insertJob(job('t-1', 'timeline one'));
      await a.insertJob(job('t-2', 'timeline two'));
      const minute = 60_000;
      const writes = [
        run('t-1', T0, { status: 'ok' }),
        run('t-1', T0 + minute, { status: 'ok' }),
        run('t-1', T0 + 10 * minute, { status: 'error' }),
        run('t-2', T0 + 5 * minute, { status: 'skipped' }),
        run('t-2', T0 + 20 * minute, { status: 'ok' }), // outside the window
      ];
      for (const r of writes) assert.equal(await a.claimRun(r), true);
      const counts = await b.countRuns({
        jobIds: ['t-1', 't-2'],
        fromMs: T0,
        toMs: T0 + 15 * minute,
        bucketMs: 5 * minute,
      });
      const key = (c: { jobId: string; bucket: number; status: string; count: number }): string =>
        `${c.jobId}/${c.bucket}/${c.status}=${c.count}`;
      assert.deepEqual(counts.map(key).sort(), ['t-1/0/ok=2', 't-1/2/error=1', 't-2/1/skipped=1']);
      assert.deepEqual(
        await b.countRuns({ jobIds: [], fromMs: T0, toMs: T0 + minute, bucketMs: minute }),
        [],
      );
    });

    test('a slot claimed by one process is refused to the other', async () => {
      await a.insertJob(job('s-1', 'slotted'));
      assert.equal(await a.claimRun(run('s-1', T0)), true);
      assert.equal(await b.claimRun(run('s-1', T0, { runId: 'other-id' })), false);
      assert.equal(await b.getRun('other-id'), undefined);
      assert.equal(
        await b.claimRun(run('s-1', T0, { attempt: 2, trigger: 'retry' })),
        true,
        'a retry is new',
      );
      assert.equal(await b.claimRun(run('no-such-job', T0)), false, 'a deleted job cannot claim');
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

    test('listRuns pages by key: each page starts after the last run of the one before, ties in slot included', async () => {
      await a.insertJob(job('k-1', 'keyset-a'));
      await a.insertJob(job('k-2', 'keyset-b'));
      const want: string[] = [];
      // Two jobs firing at the same slots, one slot with a retry: slot, attempt and id decide the order.
      for (let i = 0; i < 12; i++) {
        await a.claimRun(run('k-1', T0 + i * 60_000, { status: i % 4 === 0 ? 'error' : 'ok' }));
        await a.claimRun(run('k-2', T0 + i * 60_000, { status: 'ok' }));
      }
      await a.claimRun(run('k-1', T0 + 5 * 60_000, { attempt: 2, trigger: 'retry', status: 'ok' }));
      for (let i = 11; i >= 0; i--) {
        if (i === 5) want.push('k-1-' + (T0 + i * 60_000) + '-2');
        want.push(`k-2-${T0 + i * 60_000}-1`, `k-1-${T0 + i * 60_000}-1`);
      }
      const seen: string[] = [];
      let after: { slotMs: number; attempt: number; runId: string } | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await b.listRuns({ limit: 5, ...(after ? { after } : {}) });
        const mine = page.entries.filter((r) => r.jobId.startsWith('k-'));
        seen.push(...mine.map((r) => r.runId));
        assert.equal(page.total >= 25, true);
        const last = page.entries.at(-1);
        if (!page.hasMore || !last) break;
        after = { slotMs: last.slotMs, attempt: last.attempt, runId: last.runId };
      }
      assert.deepEqual(seen, want, 'every run once, newest first, with offset ignored');
      // With a filter, the key applies within it.
      const errors = await b.listRuns({ jobId: 'k-1', status: 'error', limit: 1 });
      const first = errors.entries[0]!;
      const next = await b.listRuns({
        jobId: 'k-1',
        status: 'error',
        limit: 5,
        offset: 99,
        after: { slotMs: first.slotMs, attempt: first.attempt, runId: first.runId },
      });
      assert.deepEqual(
        next.entries.map((r) => r.slotMs),
        [T0 + 4 * 60_000, T0],
      );
      assert.equal(next.hasMore, false);
      assert.equal(next.total, 3);
    });

    test('lastSlotMs ignores manual runs', async () => {
      await a.insertJob(job('m-1', 'manual-last'));
      assert.equal(await a.lastSlotMs('m-1'), undefined);
      await a.claimRun(run('m-1', T0));
      await a.claimRun(run('m-1', T0 + 999_000, { trigger: 'manual' }));
      assert.equal(await a.lastSlotMs('m-1'), T0);
      assert.deepEqual(
        await b.lastSlotsMs(['m-1', 'l-1', 'no-such-job']),
        new Map([
          ['m-1', T0],
          ['l-1', T0 + 24 * 60_000],
        ]),
        'many jobs at once, manual runs ignored, jobs without runs absent',
      );
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
      assert.equal(
        (await a.listRuns({ jobId: 'o-2' })).total,
        1,
        'runs of live jobs are left to their policy',
      );
    });

    test('profiles, sessions with transcripts and inboxes, and alert state round-trip', async () => {
      const profile = { name: 'home', createdAtMs: T0, updatedAtMs: T0 } as unknown as Parameters<
        Store['profiles']['insert']
      >[0];
      await a.profiles.insert(profile);
      await assert.rejects(b.profiles.insert(profile), StoreConflictError);
      assert.deepEqual(await b.profiles.get('home'), profile);
      assert.equal(await b.profiles.update({ ...profile, updatedAtMs: T0 + 1 }), true);
      assert.equal((await a.profiles.list()).length, 1);
      assert.equal(await b.profiles.remove('home'), true);
      assert.equal(await b.profiles.remove('home'), false);

      const s = await a.sessions.ensure({ id: 's-1', agent: 'main', kind: 'main' }, T0);
      assert.equal(s.createdAtMs, T0);
      await a.sessions.append(
        's-1',
        [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'yo' },
        ],
        'r-1',
        T0 + 1,
      );
      assert.deepEqual(
        (await b.sessions.transcript('s-1', 1)).map((m) => m.content),
        ['yo'],
      );
      const seq1 = await a.sessions.pushInbox({ sessionId: 's-1', text: 'one', createdAtMs: T0 });
      const seq2 = await a.sessions.pushInbox({ sessionId: 's-1', text: 'two', createdAtMs: T0 });
      assert.ok(seq2 > seq1);
      assert.equal(await b.sessions.consumeInbox([seq1], 'r-2', T0 + 2), 1);
      assert.deepEqual(
        (await a.sessions.pendingInbox('s-1')).map((i) => i.text),
        ['two'],
      );

      await a.alertState.put('j-x', { alerting: true, failures: 2 });
      await a.alertState.put('j-x', { alerting: true, failures: 3 });
      assert.deepEqual(await b.alertState.get('j-x'), { alerting: true, failures: 3 });
    });
  });
}
