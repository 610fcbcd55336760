import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costReport } from '../../src/app/cost.ts';
import { buildJob } from '../../src/domain/job-validation.ts';
import type { JobInput } from '../../src/domain/job-validation.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2027, 2, 1, 12);

async function turn(
  store: Store,
  jobId: string,
  runId: string,
  atMs: number,
  model: string,
  prompt: number,
  completion: number,
) {
  await store.claimRun({
    runId,
    jobId,
    slotMs: atMs,
    attempt: 1,
    trigger: 'schedule',
    status: 'running',
    startedAtMs: atMs,
  });
  await store.finishRun(runId, {
    status: 'ok',
    finishedAtMs: atMs + 1000,
    details: {
      agent: {
        agent: 'manager',
        model,
        endpoint: 'http://127.0.0.1:1/v1',
        sessionId: 's',
        usage: { promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion },
        toolCalls: [],
      },
    },
  });
}

test('cost per job and model from recorded usage, and a monthly projection per job', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-cost-'));
  const store = await openSqliteStore(join(dir, 'db.sqlite'));
  try {
    const add = async (input: JobInput) => {
      const job = buildJob(input, NOW - 60 * DAY, () => input.name);
      await store.insertJob(job);
      return job;
    };
    await add({
      name: 'prep',
      schedule: { kind: 'cron', expr: '0 4 * * *', tz: 'UTC' },
      payload: { kind: 'agentTurn', message: 'm' } as never,
    });
    await add({
      name: 'reset',
      schedule: { kind: 'after', after: [{ job: 'prep', on: 'success' }] },
      payload: { kind: 'agentTurn', message: 'm' } as never,
    });
    await add({
      name: 'plain',
      schedule: { kind: 'every', everyMs: 3_600_000 },
      payload: { kind: 'command', command: 'true' },
    });
    // prep: 2 runs in the window on sonnet (one old run outside it); reset: 1 run on an unpriced model.
    await turn(store, 'prep', 'p1', NOW - 2 * DAY, 'sonnet', 10_000, 2_000);
    await turn(store, 'prep', 'p2', NOW - 1 * DAY, 'sonnet', 20_000, 4_000);
    await turn(store, 'prep', 'p0', NOW - 40 * DAY, 'sonnet', 1_000_000, 1_000_000);
    await turn(store, 'reset', 'r1', NOW - 1 * DAY, 'sonnet', 5_000, 1_000);
    await turn(store, 'reset', 'r2', NOW - 3 * DAY, 'mystery', 5_000, 1_000);
    await store.claimRun({
      runId: 'c1',
      jobId: 'plain',
      slotMs: NOW - DAY,
      attempt: 1,
      trigger: 'schedule',
      status: 'running',
      startedAtMs: NOW - DAY,
    });
    await store.finishRun('c1', { status: 'ok', finishedAtMs: NOW - DAY });

    const r = await costReport(
      store,
      { sonnet: { input: 3, output: 15 } },
      { sinceMs: NOW - 30 * DAY, nowMs: NOW },
    );
    const prep = r.byModel.find((m) => m.job === 'prep')!;
    assert.deepEqual([prep.runs, prep.promptTokens, prep.completionTokens], [2, 30_000, 6_000]);
    // 30k * $3/M + 6k * $15/M = 0.09 + 0.09
    assert.ok(Math.abs(prep.cost! - 0.18) < 1e-9);
    assert.equal(r.byModel.find((m) => m.model === 'mystery')!.cost, null);
    assert.deepEqual(r.unpriced, ['mystery']);
    assert.equal(
      r.byModel.some((m) => m.job === 'plain'),
      false,
    );

    const prepJob = r.byJob.find((j) => j.job === 'prep')!;
    assert.equal(prepJob.basis, 'schedule');
    assert.equal(prepJob.runsPerMonth, 30);
    assert.ok(Math.abs(prepJob.monthly! - 0.09 * 30) < 1e-9, String(prepJob.monthly));
    const resetJob = r.byJob.find((j) => j.job === 'reset')!;
    assert.equal(resetJob.basis, 'observed');
    assert.equal(resetJob.runsPerMonth, 2, '2 runs in the 30-day window');
    // Only the priced run counts towards the average: 5k*3/M + 1k*15/M = 0.03
    assert.ok(Math.abs(resetJob.cost - 0.03) < 1e-9);
    assert.ok(Math.abs(resetJob.monthly! - 0.06) < 1e-9, 'priced average x runs per month');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
