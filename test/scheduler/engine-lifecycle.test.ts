import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { CommandExecutor } from '../../src/payloads/command.ts';
import { harness, LEAD, makeJob, statuses, until, HOUR, MIN, SEC, T0 } from './harness.ts';
import type { Harness } from './harness.ts';
import type { Run } from '../../src/domain/job.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process group like a payload's: a shell and a background child, marked with the run id. */
function spawnPayloadLike(runId: string): number {
  const child = spawn('/bin/sh', ['-c', 'sleep 60 & sleep 60'], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, NIGHTSHIFT_RUN_ID: runId },
  });
  child.unref();
  return child.pid!;
}

describe('engine: crash recovery and shutdown', () => {
  let h: Harness;
  afterEach(async () => h.close());

  /** A run of job `a` that a crashed daemon left `running`. */
  async function leftover(runId: string, slotMs: number, extra: Partial<Run> = {}): Promise<void> {
    await h.store.claimRun({
      runId,
      jobId: 'a',
      slotMs,
      attempt: 1,
      trigger: 'schedule',
      status: 'running',
      ...extra,
    });
  }

  test('a run left running by a crash is recorded interrupted and its processes are ended', async () => {
    h = await harness(T0 + 30 * SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: HOUR } }));
    const runId = randomUUID();
    const pid = spawnPayloadLike(runId);
    await until(() => alive(pid), 'payload process');
    await leftover(runId, T0, { startedAtMs: T0, pid });
    // A second leftover whose pid now belongs to a process that is not ours: recorded, not killed.
    const strangerRunId = randomUUID();
    const stranger = spawnPayloadLike(randomUUID());
    await leftover(strangerRunId, T0 - HOUR, { startedAtMs: T0 - HOUR, pid: stranger });
    try {
      const engine = h.engine();
      await engine.start();
      const run = await h.store.getRun(runId);
      assert.equal(run?.status, 'interrupted');
      assert.equal(run?.error, `daemon stopped while running (pid ${pid})`);
      await until(() => !alive(pid), 'payload ended');
      assert.equal((await h.store.getRun(strangerRunId))?.status, 'interrupted');
      assert.ok(alive(stranger), 'a process without the run marker is left alone');
      const job = await h.store.findJob('a');
      assert.equal(job?.state.lastRunStatus, 'interrupted');
      assert.equal(job?.state.runningAtMs, undefined);
      // The interrupted slot is not run again.
      await engine.idle();
      assert.equal(h.exec.calls.length, 0);
    } finally {
      for (const p of [pid, stranger]) {
        try {
          process.kill(-p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  test('a crash before the pid was written: the run marker finds the processes, which are ended', async () => {
    h = await harness(T0 + 30 * SEC);
    await h.store.insertJob(makeJob('a', { schedule: { kind: 'every', everyMs: HOUR } }));
    const runId = randomUUID();
    const pid = spawnPayloadLike(runId);
    await until(() => alive(pid), 'payload process');
    // Claimed ahead of its slot; the daemon died as the payload started, before recording it.
    await leftover(runId, T0);
    try {
      await h.engine().start();
      const run = await h.store.getRun(runId);
      assert.equal(run?.status, 'interrupted');
      assert.equal(run?.error, `daemon stopped while running (pid ${pid})`);
      await until(() => !alive(pid), 'payload ended');
      const event = h.events.find((e) => e.event === 'run.interrupted');
      assert.deepEqual(event, { event: 'run.interrupted', jobId: 'a', runId, pid, killed: true });
    } finally {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  test('stop() ends running payloads (real processes) and records them interrupted', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: MIN },
        payload: { kind: 'command', command: 'sleep 60 & sleep 60' },
        policy: { retries: 2 },
      }),
    );
    const engine = h.engine({ executors: [new CommandExecutor({ killGraceMs: 2_000 })] });
    await engine.start();
    await h.clock.advanceTo(T0 + MIN);
    let pid: number | undefined;
    await until(async () => {
      pid = (await h.runs('a'))[0]?.pid;
      return pid !== undefined;
    }, 'pid recorded');
    assert.ok(alive(pid!));
    await engine.stop();
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'interrupted');
    assert.ok(!alive(pid!), 'payload process ended');
    assert.equal((await h.store.unfinishedRuns()).length, 0, 'no retry for an interrupted run');
    assert.equal(h.clock.pendingTimers(), 0, 'no timers left armed');
    assert.ok(h.events.some((e) => e.event === 'engine.stopped'));
  });

  test('a real command runs end to end: exit status, output tail, environment', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('a', {
        schedule: { kind: 'every', everyMs: MIN },
        payload: {
          kind: 'command',
          command: 'echo "slot=$NIGHTSHIFT_SLOT attempt=$NIGHTSHIFT_ATTEMPT"; exit 4',
        },
      }),
    );
    const engine = h.engine({ executors: [new CommandExecutor()] });
    await engine.start();
    await h.clock.advanceTo(T0 + MIN);
    await engine.idle();
    const [run] = await h.runs('a');
    assert.equal(run?.status, 'error');
    assert.equal(run?.exitCode, 4);
    assert.match(run?.outputTail ?? '', /slot=2027-01-04T00:01:00.000Z attempt=1/);
  });
});

describe('engine: one-shot jobs and history', () => {
  let h: Harness;
  afterEach(async () => h.close());

  test('a one-shot job is deleted after success, or kept disabled with keep-after-run', async () => {
    h = await harness(T0);
    const at = new Date(T0 + HOUR).toISOString();
    await h.store.insertJob(makeJob('del', { schedule: { kind: 'at', at }, deleteAfterRun: true }));
    await h.store.insertJob(makeJob('keep', { schedule: { kind: 'at', at }, deleteAfterRun: false }));
    const engine = h.engine();
    await engine.start();
    assert.equal(h.clock.nextTimerAt(), T0 + HOUR - LEAD);
    await h.clock.advanceTo(T0 + HOUR);
    await engine.idle();
    assert.equal(h.exec.calls.length, 2);
    assert.equal(await h.store.findJob('del'), undefined);
    assert.deepEqual(statuses(await h.runs('del')), ['ok:schedule:1'], 'its run history stays');
    const kept = await h.store.findJob('keep');
    assert.equal(kept?.enabled, false);
    assert.equal(kept?.state.lastRunStatus, 'ok');
    assert.equal(kept?.state.nextRunAtMs, undefined);
    assert.deepEqual(statuses(await h.runs('keep')), ['ok:schedule:1']);
    assert.equal(h.clock.nextTimerAt(), undefined, 'nothing left to wake for');

    // The deleted job's history ages out with the default history age (30 days); a live job's
    // follows its own policy.
    await engine.stop();
    await h.clock.advanceTo(T0 + HOUR + 31 * 24 * HOUR);
    await h.engine().start();
    assert.deepEqual(await h.runs('del'), []);
    assert.deepEqual(statuses(await h.runs('keep')), ['ok:schedule:1']);
  });

  test('a one-shot that fails its last attempt stays, disabled, with the error visible', async () => {
    h = await harness(T0);
    h.exec.auto = () => ({ status: 'timeout', error: 'timed out after 600s' });
    const at = new Date(T0 + HOUR).toISOString();
    await h.store.insertJob(
      makeJob('o', {
        schedule: { kind: 'at', at },
        deleteAfterRun: true,
        policy: { retries: 1, retryBackoffMs: [MIN] },
      }),
    );
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + HOUR);
    await engine.idle();
    assert.equal((await h.store.findJob('o'))?.enabled, true, 'still enabled while a retry waits');
    await h.clock.advanceTo(T0 + HOUR + 2 * MIN);
    await engine.idle();
    const job = await h.store.findJob('o');
    assert.equal(job?.enabled, false);
    assert.equal(job?.state.lastRunStatus, 'timeout');
    assert.equal(job?.state.lastError, 'timed out after 600s');
    assert.deepEqual(statuses(await h.runs('o')), ['timeout:schedule:1', 'timeout:retry:2']);
  });

  test('a one-shot created with the daemon running fires at its time', async () => {
    h = await harness(T0);
    const engine = h.engine({ changePollMs: 500 });
    await engine.start();
    const cli = await h.otherStore();
    await cli.insertJob(
      makeJob('o', {
        schedule: { kind: 'at', at: new Date(T0 + 10 * SEC).toISOString() },
        deleteAfterRun: true,
      }),
    );
    await h.clock.advanceTo(T0 + 10 * SEC);
    await engine.idle();
    assert.deepEqual(h.exec.slots(), [T0 + 10 * SEC]);
    assert.equal(await h.store.findJob('o'), undefined);
  });

  test('run history keeps the configured count and age', async () => {
    h = await harness(T0 + SEC);
    await h.store.insertJob(
      makeJob('n', {
        schedule: { kind: 'every', everyMs: MIN },
        history: { maxRuns: 3, maxAgeMs: 30 * 24 * HOUR, outputTailBytes: 1024 },
      }),
    );
    await h.store.insertJob(
      makeJob('age', {
        schedule: { kind: 'every', everyMs: MIN },
        history: { maxRuns: 200, maxAgeMs: 150 * SEC, outputTailBytes: 1024 },
      }),
    );
    const engine = h.engine();
    await engine.start();
    await h.clock.advanceTo(T0 + 6 * MIN);
    await engine.idle();
    assert.deepEqual(
      (await h.runs('n')).map((r) => (r.slotMs - T0) / MIN),
      [4, 5, 6],
    );
    // Finished more than 150 s before the last run finished (at 6 min): 1, 2 and 3 are gone.
    assert.deepEqual(
      (await h.runs('age')).map((r) => (r.slotMs - T0) / MIN),
      [4, 5, 6],
    );
  });
});
