/**
 * End to end: the real daemon runs a scheduled backup job (recipients repository, keep-last 3) on
 * an every-2s schedule; five runs end `ok` with evidence and retention holds the repository at
 * exactly 3 snapshots. Then SIGTERM stops the daemon cleanly with no repository lock left behind.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApp } from '../../src/app/app.ts';
import { buildJob } from '../../src/domain/job-validation.ts';
import { DaemonProcess, cli, cliJson, tempHome } from '../interfaces/cli/cli-harness.ts';
import type { LogEvent, TempHome } from '../interfaces/cli/cli-harness.ts';

interface RunEntry {
  status: string;
  error: string | null;
  outputTail: string | null;
}

/** Adds the job with `cron add --backup` when the CLI has the flag, else through the store. */
async function addBackupJob(home: string, name: string, profile: string): Promise<string> {
  const r = await cliJson<{ id?: string }>(home, [
    'cron',
    'add',
    '--name',
    name,
    '--every',
    '2s',
    '--backup',
    profile,
  ]).catch(() => undefined);
  if (r && r.result.code === 0 && r.json.id) return r.json.id;
  const app = await openApp(home);
  try {
    const job = buildJob(
      { name, schedule: { kind: 'every', everyMs: 2000 }, payload: { kind: 'backup', profile } },
      Date.now(),
      () => 'backup-e2e',
    );
    await app.store.insertJob(job);
    return job.id;
  } finally {
    await app.close();
  }
}

describe('a daemon running a backup job', { timeout: 300_000 }, () => {
  let h: TempHome;
  let daemon: DaemonProcess;
  let repo: string;
  let jobId: string;

  before(async () => {
    h = tempHome();
    repo = join(h.work, 'repo');
    const src = join(h.work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'state.json'), '{"n":1}\n');
    const kg = await cliJson<{ recipient: string }>(h.home, [
      'backup',
      'keygen',
      '--out',
      join(h.work, 'id.txt'),
    ]);
    assert.equal(kg.result.code, 0, kg.result.stderr);
    const init = await cli(h.home, ['backup', 'init', '--repo', repo, '--recipient', kg.json.recipient]);
    assert.equal(init.code, 0, init.stderr);
    const add = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'e2e',
      '--repo',
      repo,
      '--recipients-repo',
      '--path',
      src,
      '--keep-last',
      '3',
    ]);
    assert.equal(add.code, 0, add.stderr);
    jobId = await addBackupJob(h.home, 'e2e-backup', 'e2e');
    daemon = new DaemonProcess(h.home);
    await daemon.ready(60_000);
  });

  after(async () => {
    await daemon.dispose();
    h.cleanup();
  });

  test('five scheduled runs end ok with evidence, and retention keeps exactly 3 snapshots', async () => {
    const finishedOk = (e: LogEvent): boolean =>
      e.event === 'run.finished' && e.jobId === jobId && e.status === 'ok';
    const failed = (e: LogEvent): boolean =>
      e.event === 'run.finished' && e.jobId === jobId && e.status !== 'ok' && e.status !== 'skipped';
    // Five ok runs, or the first failure (then the assertions below say why).
    await daemon.waitFor(
      () => daemon.events.filter(finishedOk).length >= 5 || daemon.events.some(failed),
      'five ok backup runs',
      240_000,
    );
    const runs = await cliJson<{ entries: RunEntry[] }>(h.home, ['cron', 'runs', '--id', 'e2e-backup']);
    // Slots that came while a backup was still going are `skipped` (overlap policy), not failures.
    const finished = runs.json.entries.filter((r) =>
      ['ok', 'error', 'timeout', 'interrupted'].includes(r.status),
    );
    assert.ok(finished.length >= 5, JSON.stringify(runs.json.entries));
    for (const r of finished) assert.equal(r.status, 'ok', `${r.error}\n${r.outputTail}`);
    assert.match(
      finished[0]!.outputTail ?? '',
      /ok +retention: keep-last 3: 3 snapshots of the profile kept/,
    );

    daemon.kill('SIGTERM');
    const exit = await daemon.exit(60_000);
    assert.equal(exit.code, 0, daemon.stderr);
    // A run cut short by the shutdown may have left its snapshot before retention; one more run
    // (in this process, no daemon) settles the count.
    const again = await cli(h.home, ['cron', 'run', 'e2e-backup', '--wait']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const snaps = await cliJson<unknown[]>(h.home, ['backup', 'snapshots', '--repo', repo]);
    assert.equal(snaps.json.length, 3);
    let locks: string[] = [];
    try {
      locks = readdirSync(join(repo, 'locks'));
    } catch {
      // never created
    }
    assert.deepEqual(locks, [], 'no lock left behind');
  });
});
