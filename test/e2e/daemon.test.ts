/**
 * End to end: the real `nightshift daemon` as a child process on a temporary home, driven with the
 * real CLI, stopped with real signals.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, alive, cli, cliJson, eventually, tempHome } from '../interfaces/cli/cli-harness.ts';
import type { LogEvent, TempHome } from '../interfaces/cli/cli-harness.ts';

interface RunEntry {
  runId: string;
  jobId: string;
  status: string;
  trigger: string;
  attempt: number;
  slotMs: number;
  error: string | null;
}

async function addJob(home: string, args: string[]): Promise<string> {
  const r = await cliJson<{ id: string }>(home, ['cron', 'add', ...args]);
  assert.equal(r.result.code, 0, r.result.stderr);
  return r.json.id;
}

async function runsOf(home: string, job: string): Promise<RunEntry[]> {
  const r = await cliJson<{ entries: RunEntry[] }>(home, ['cron', 'runs', '--id', job, '--limit', '500']);
  assert.equal(r.result.code, 0, r.result.stderr);
  return r.json.entries;
}

const isRun =
  (event: string, jobId: string, extra: (e: LogEvent) => boolean = () => true) =>
  (e: LogEvent) =>
    e.event === event && e.jobId === jobId && extra(e);

describe('a running daemon', () => {
  let h: TempHome;
  let daemon: DaemonProcess;
  let tickId: string;

  before(async () => {
    h = tempHome();
    tickId = await addJob(h.home, [
      '--name',
      'tick',
      '--every',
      '1s',
      '--command',
      `echo "$NIGHTSHIFT_SLOT" >> ${join(h.work, 'tick.log')}`,
      '--expect-file',
      join(h.work, 'tick.log'),
    ]);
    daemon = new DaemonProcess(h.home);
    await daemon.ready();
  });

  after(async () => {
    await daemon.dispose();
    h.cleanup();
  });

  test('fires an every-1s job and records its runs', async () => {
    await daemon.waitForCount(
      isRun('run.finished', tickId, (e) => e.status === 'ok'),
      2,
      'two ok runs of tick',
    );
    const runs = await runsOf(h.home, 'tick');
    const ok = runs.filter((r) => r.status === 'ok' && r.trigger === 'schedule');
    assert.ok(ok.length >= 2, JSON.stringify(runs));
    const status = await cliJson<{ daemon: { running: boolean; pid: number } }>(h.home, ['cron', 'status']);
    assert.equal(status.json.daemon.running, true);
    assert.equal(status.json.daemon.pid, daemon.pid);
  });

  test('a second daemon on the same home refuses, naming the first', async () => {
    const second = await cli(h.home, ['daemon']);
    assert.equal(second.code, 4, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`another nightshift daemon \\(pid ${daemon.pid}\\) is running on ${h.home}`),
    );
    assert.match(second.stderr, /stop it first or use --home/);
    // The first one carries on.
    const before = daemon.events.filter(isRun('run.finished', tickId)).length;
    await daemon.waitForCount(isRun('run.finished', tickId), before + 1, 'tick to keep running');
  });

  test('a job added with the CLI while the daemon runs fires without a restart', async () => {
    const addedAt = Date.now();
    const id = await addJob(h.home, ['--name', 'late', '--every', '1s', '--command', 'true']);
    const started = await daemon.waitFor(isRun('run.started', id), 'the new job to start', 20_000);
    // The daemon notices changes within about a second; allow a loaded machine plenty of slack.
    assert.ok(
      (started.slotMs as number) - addedAt < 8_000,
      `first slot ${(started.slotMs as number) - addedAt} ms after add`,
    );
    const rm = await cli(h.home, ['cron', 'rm', 'late']);
    assert.equal(rm.code, 0, rm.stderr);
  });

  test('a one-shot is deleted after it succeeds; its run stays in `cron runs` under its id', async () => {
    const id = await addJob(h.home, ['--name', 'once', '--at', '+2s', '--command', 'true']);
    await daemon.waitFor(isRun('job.deleted', id), 'the one-shot to run and be deleted', 20_000);
    const list = await cliJson<{ jobs: { id: string }[] }>(h.home, ['cron', 'list', '--all']);
    assert.ok(!list.json.jobs.some((j) => j.id === id), 'the job is gone');
    const runs = await runsOf(h.home, id);
    assert.deepEqual(
      runs.map((r) => `${r.status}:${r.trigger}`),
      ['ok:schedule'],
    );
    const text = await cli(h.home, ['cron', 'runs', '--id', id]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\bok\b/);
    const unknown = await cli(h.home, ['cron', 'runs', '--id', 'no-such-job']);
    assert.equal(unknown.code, 3, 'an id with neither a job nor runs is still not found');
    assert.match(unknown.stderr, /no job with id or name "no-such-job"/);
  });

  test('cron run while the daemon runs is executed by the daemon', async () => {
    const id = await addJob(h.home, ['--name', 'manual', '--every', '1h', '--command', 'echo by-daemon']);
    const run = await cliJson<{ ok: boolean; enqueued: boolean; runId: string; run: { status: string } }>(
      h.home,
      ['cron', 'run', 'manual', '--wait', '--timeout', '30s'],
    );
    assert.equal(run.result.code, 0, run.result.stderr);
    assert.deepEqual([run.json.ok, run.json.enqueued, run.json.run.status], [true, true, 'ok']);
    const finished = await daemon.waitFor(
      isRun('run.finished', id, (e) => e.runId === run.json.runId),
      'the daemon to report the manual run',
    );
    assert.equal(finished.trigger, 'manual');
    assert.equal(finished.status, 'ok');
  });

  test('SIGTERM while a long job runs: its process tree is gone, the run is interrupted, exit 0', async () => {
    const pidFile = join(h.work, 'long.pids');
    const id = await addJob(h.home, [
      '--name',
      'long',
      '--every',
      '1h',
      '--command',
      `sleep 300 & echo "$$ $!" > ${pidFile}; wait`,
    ]);
    const queued = await cliJson<{ runId: string }>(h.home, ['cron', 'run', 'long']);
    assert.equal(queued.result.code, 0, queued.result.stderr);
    await daemon.waitFor(isRun('run.started', id), 'the long job to start');
    const pids = await eventually(() => {
      const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
      return /^\d+ \d+$/.test(text) ? text.split(' ').map(Number) : undefined;
    }, 'the job to write its pids');
    assert.ok(pids.every(alive));

    daemon.kill('SIGTERM');
    const exit = await daemon.exit();
    assert.equal(exit.code, 0, daemon.stderr);
    assert.ok(daemon.events.some((e) => e.event === 'daemon.stopped'));
    // Signals are delivered asynchronously: allow a moment for the last process to be reaped.
    for (const pid of pids) {
      await eventually(() => (alive(pid) ? undefined : true), `process ${pid} to be gone`, 5_000, 100);
    }

    const runs = await runsOf(h.home, 'long');
    const run = runs.find((r) => r.runId === queued.json.runId);
    assert.equal(run?.status, 'interrupted', JSON.stringify(runs));
    // Nothing is left running for the next start to clean up.
    const status = await cliJson<{ daemon: { running: boolean } }>(h.home, ['cron', 'status']);
    assert.equal(status.json.daemon.running, false);
  });
});

describe('a daemon killed with SIGKILL', () => {
  test('after a restart the run it left is interrupted, its process is ended, and no slot runs twice', async () => {
    const h = tempHome();
    const slotsFile = join(h.work, 'slots.log');
    const pidFile = join(h.work, 'slow.pid');
    let first: DaemonProcess | undefined;
    let second: DaemonProcess | undefined;
    try {
      const id = await addJob(h.home, [
        '--name',
        'slow',
        '--every',
        '2s',
        '--command',
        `echo "$NIGHTSHIFT_SLOT" >> ${slotsFile}; echo $$ > ${pidFile}; sleep 60`,
      ]);
      first = new DaemonProcess(h.home);
      const started = await first.waitFor(isRun('run.started', id), 'the slow job to start');
      const pid = await eventually(() => {
        const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
        return /^\d+$/.test(text) ? Number(text) : undefined;
      }, 'the job to write its pid');
      first.kill('SIGKILL');
      await first.exit();
      assert.ok(alive(pid), 'the job outlives a SIGKILLed daemon (its own process group)');

      second = new DaemonProcess(h.home);
      const interrupted = await second.waitFor(
        (e) => e.event === 'run.interrupted' && e.runId === started.runId,
        'the restarted daemon to recover the run',
      );
      assert.equal(interrupted.jobId, id);
      await eventually(() => (alive(pid) ? undefined : true), 'the leftover process to be ended', 15_000);
      // The schedule goes on with new slots.
      await second.waitFor(
        isRun('run.started', id, (e) => (e.slotMs as number) > (started.slotMs as number)),
        'a later slot to start',
      );
      second.kill('SIGTERM');
      assert.equal((await second.exit()).code, 0, second.stderr);

      const runs = await runsOf(h.home, 'slow');
      const left = runs.find((r) => r.runId === started.runId);
      assert.equal(left?.status, 'interrupted');
      assert.match(left?.error ?? '', /daemon stopped while running/);
      const slots = readFileSync(slotsFile, 'utf8').trim().split('\n');
      assert.equal(new Set(slots).size, slots.length, `a slot ran twice: ${slots.join(', ')}`);
      assert.ok(slots.length >= 2);
    } finally {
      await first?.dispose();
      await second?.dispose();
      h.cleanup();
    }
  });
});

describe('the README first command: daemon --sample-job', () => {
  test('adds the sample job, runs it at once, says where its runs are, and stops on SIGINT', async () => {
    const h = tempHome();
    const daemon = new DaemonProcess(h.home, ['--sample-job']);
    try {
      const sample = await daemon.waitFor((e) => e.event === 'sample.job', 'the sample job notice');
      assert.equal(sample.created, true);
      assert.equal(sample.name, 'sample-heartbeat');
      assert.match(String(sample.runs), /nightshift cron runs --id sample-heartbeat --home /);
      const finished = await daemon.waitFor(
        isRun('run.finished', String(sample.jobId)),
        'the first sample run',
      );
      assert.equal(finished.status, 'ok', JSON.stringify(finished));
      const log = readFileSync(join(h.home, 'sample', 'heartbeat.log'), 'utf8');
      assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
      daemon.kill('SIGINT');
      assert.equal((await daemon.exit()).code, 0, daemon.stderr);
      const runs = await runsOf(h.home, 'sample-heartbeat');
      assert.equal(runs[0]?.status, 'ok');
    } finally {
      await daemon.dispose();
      h.cleanup();
    }
  });
});
