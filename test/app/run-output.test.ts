/**
 * The "run output" use case against a real SQLite home: a running run shows the live tail, a
 * finished one its stored tail; following a run that another process executes (no live lines
 * here) ends once the store says it has ended, found by looking again on the injected clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../../src/app/app.ts';
import { newJob } from '../../src/app/jobs.ts';
import { FOLLOW_POLL_MS, followRunOutput, runOutput } from '../../src/app/run-output.ts';
import type { RunOutputEvent } from '../../src/app/run-output.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { LiveOutput } from '../../src/payloads/live-output.ts';

const T0 = Date.UTC(2027, 0, 5, 3, 0, 0);

test('live tail while running, stored tail once ended; a follow ends when the store says so', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ns-run-output-'));
  const app = await openApp(join(root, 'home'));
  try {
    const job = newJob(
      {
        name: 'nightly-dump',
        schedule: { kind: 'every', everyMs: 86_400_000 },
        payload: { kind: 'command', command: 'true' },
      } as never,
      T0,
    );
    await app.store.insertJob(job);
    await app.store.claimRun({
      runId: 'r-1',
      jobId: job.id,
      slotMs: T0,
      attempt: 1,
      trigger: 'schedule',
      status: 'running',
      startedAtMs: T0,
    });
    const live = new LiveOutput();
    live.write('r-1', job, 'dumped 3 of 9 tables\n', 'stdout');

    const running = await runOutput(app, live, 'r-1');
    assert.deepEqual(
      { status: running.status, source: running.source, output: running.output, jobName: running.jobName },
      { status: 'running', source: 'live', output: 'dumped 3 of 9 tables\n', jobName: 'nightly-dump' },
    );
    // Another process's run: this one holds no live tail of it.
    assert.equal((await runOutput(app, new LiveOutput(), 'r-1')).source, 'none');

    const clock = new ManualClock(T0);
    const events: RunOutputEvent[] = [];
    const f = await followRunOutput(app, undefined, clock, 'r-1', (e) => events.push(e));
    assert.equal(f.following, true);
    await app.store.finishRun('r-1', {
      status: 'ok',
      finishedAtMs: T0 + 5_000,
      outputTail: 'dumped 9 of 9 tables\n',
    });
    assert.equal(events.length, 0, 'nothing before the next look');
    await clock.advance(FOLLOW_POLL_MS);
    for (let i = 0; i < 50 && events.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(events.length, 1);
    const end = events[0] as Extract<RunOutputEvent, { kind: 'end' }>;
    assert.equal(end.status, 'ok');
    assert.equal(end.output.source, 'stored');
    assert.equal(end.output.output, 'dumped 9 of 9 tables\n');
    assert.equal(clock.pendingTimers(), 0, 'the follow stopped looking');

    const stored = await runOutput(app, live, 'r-1');
    assert.equal(stored.source, 'stored');
    const again = await followRunOutput(app, live, clock, 'r-1', () =>
      assert.fail('no events for an ended run'),
    );
    assert.equal(again.following, false);
    await assert.rejects(runOutput(app, live, 'no-such-run'), /no-such-run/);
  } finally {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  }
});
