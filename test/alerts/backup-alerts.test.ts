import { test, describe, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';
import { backupOk, commandJob, world, HOUR, MIN, MiB } from './helpers.ts';
import type { World } from './helpers.ts';
import type { Job } from '../../src/domain/job.ts';
import { detectAnomalies, median } from '../../src/alerts/anomaly.ts';
import { effectivePolicy } from '../../src/alerts/policy.ts';

interface WebhookBody {
  severity: string;
  title: string;
  text: string;
  run: { id: string; status: string | null } | null;
  fields: Record<string, string>;
}

let hook: Recorder;
let w: World | undefined;
before(async () => {
  hook = await startRecorder([{ status: 200, body: 'ok' }]);
});
after(async () => hook.close());
afterEach(async () => {
  await w?.close();
  w = undefined;
  hook.requests.length = 0;
});

function bodies(): WebhookBody[] {
  return hook.requests.map((r) => JSON.parse(r.body) as WebhookBody);
}

function backupJob(id: string, alerts?: Job['alerts']): Job {
  return commandJob(id, '', {
    payload: { kind: 'backup', profile: 'home' },
    schedule: { kind: 'every', everyMs: HOUR, anchorMs: commandJob('x', '').createdAtMs },
    ...(alerts ? { alerts } : {}),
  });
}

const config = (): object => ({
  channels: { hook: { kind: 'webhook', url: `${hook.url}/hook` } },
  alerts: { channels: ['hook'] },
});

describe('backup alerts', () => {
  test('a failed backup alerts by default, naming the snapshot and byte counts', async () => {
    w = await world(config());
    await w.app.store.insertJob(backupJob('b'));
    w.backups.script.push({
      status: 'error',
      error: 'repository locked by another process',
      details: {
        backup: {
          profile: 'home',
          repository: '/backups/home',
          bytesRead: 3 * MiB,
          bytesAdded: 0,
          repoBytes: 900 * MiB,
        },
      },
    });
    await w.engine.start();
    await w.alerts.start();
    await w.advance(HOUR);
    assert.equal(bodies().length, 1, 'backup jobs alert after one failure without being told to');
    const [b] = bodies();
    assert.equal(b!.severity, 'error');
    assert.match(b!.text, /repository locked by another process/);
    assert.equal(b!.fields.snapshot, 'none');
    assert.equal(b!.fields.bytesRead, '3.0 MiB');
    assert.equal(b!.fields.repoBytes, '900 MiB');
    assert.equal(b!.fields.profile, 'home');
  });

  test('a jump in new data alerts at 10x the median of earlier runs, not below, and only with 3 runs of history', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      backupJob('j', { afterFailures: 1, cooldownMs: HOUR, recovery: true, anomalyFactor: 10 }),
    );
    // Two runs of history are not enough to judge a third, however large.
    w.backups.script.push(backupOk({ bytesAdded: 10 * MiB }), backupOk({ bytesAdded: 12 * MiB }));
    w.backups.script.push(backupOk({ bytesAdded: 500 * MiB }));
    // History now 10, 12, 500 MiB: median 12 MiB. 119 MiB is below 10x; 121 MiB is above.
    w.backups.script.push(backupOk({ bytesAdded: 119 * MiB }));
    // History 10, 12, 500, 119: median (12+119)/2 = 65.5 MiB. 656 MiB is above 10x.
    w.backups.script.push(backupOk({ bytesAdded: 656 * MiB }));
    await w.engine.start();
    await w.alerts.start();
    for (let i = 0; i < 4; i++) await w.advance(HOUR);
    assert.equal(bodies().length, 0, `no anomaly: ${JSON.stringify(bodies())}`);
    await w.advance(HOUR);
    assert.equal(bodies().length, 1);
    const [b] = bodies();
    assert.equal(b!.severity, 'warning');
    assert.match(b!.title, /backup added unusually much data/);
    assert.match(b!.text, /added 656 MiB, 10\.0x the median of 65\.5 MiB over the last 4 ok runs/);
    assert.equal(b!.fields.anomalies, 'bytes-added');
    const runs = await w.runs('j');
    assert.ok(
      runs.every((r) => r.status === 'ok'),
      'an anomaly does not change the run',
    );
    assert.equal(b!.run?.id, runs.at(-1)!.runId);
    assert.equal(runs.at(-1)!.details?.alerts?.[0]?.purpose, 'anomaly');
  });

  test('a repository above maxRepoBytes warns once per cooldown', async () => {
    w = await world(config());
    await w.app.store.insertJob(
      backupJob('s', { afterFailures: 1, cooldownMs: 3 * HOUR, recovery: true, maxRepoBytes: 1024 * MiB }),
    );
    w.backups.script.push(
      backupOk({ bytesAdded: MiB, repoBytes: 1000 * MiB }),
      backupOk({ bytesAdded: MiB, repoBytes: 1100 * MiB }),
      backupOk({ bytesAdded: MiB, repoBytes: 1101 * MiB }),
      backupOk({ bytesAdded: MiB, repoBytes: 1102 * MiB }),
      backupOk({ bytesAdded: MiB, repoBytes: 1103 * MiB }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(HOUR);
    assert.equal(bodies().length, 0, 'below the limit');
    await w.advance(HOUR);
    assert.equal(bodies().length, 1);
    assert.match(bodies()[0]!.text, /the repository holds 1.1 GiB, above the limit of 1.0 GiB/);
    await w.advance(HOUR);
    await w.advance(HOUR);
    assert.equal(bodies().length, 1, 'still full, but within the cooldown');
    await w.advance(HOUR); // three hours after the first warning
    assert.equal(bodies().length, 2);
  });

  test("a local repository's filesystem above --alert-repo-usage warns, sharing the storage cooldown", async () => {
    w = await world(config());
    await w.app.store.insertJob(
      backupJob('u', { afterFailures: 1, cooldownMs: 3 * HOUR, recovery: true, maxRepoUsagePercent: 80 }),
    );
    w.backups.script.push(
      backupOk({ bytesAdded: MiB, repoDiskUsedPercent: 79.5 }),
      backupOk({ bytesAdded: MiB, repoDiskUsedPercent: 83.25 }),
      backupOk({ bytesAdded: MiB, repoDiskUsedPercent: 84 }),
    );
    await w.engine.start();
    await w.alerts.start();
    await w.advance(HOUR);
    assert.equal(bodies().length, 0, 'below 80%');
    await w.advance(HOUR);
    assert.equal(bodies().length, 1);
    assert.match(bodies()[0]!.text, /the repository's filesystem is 83\.3% full, above the limit of 80%/);
    await w.advance(HOUR);
    assert.equal(bodies().length, 1, 'still full, within the cooldown');
  });

  test('--alert-repo-usage also watches a local --copy-to destination (the USB disk), naming it', () => {
    const policy = effectivePolicy(
      backupJob('c', { afterFailures: 1, cooldownMs: HOUR, recovery: true, maxRepoUsagePercent: 80 }),
    );
    const ok = backupOk({ bytesAdded: MiB });
    ok.details!.backup!.copies = [
      { repository: '/media/usb/backups', ok: true, diskUsedPercent: 91.04 },
      { repository: 's3:https://s3.example/b', ok: true },
    ];
    const run = {
      runId: 'r',
      jobId: 'c',
      slotMs: 0,
      attempt: 1,
      trigger: 'schedule' as const,
      status: 'ok' as const,
    };
    const found = detectAnomalies({ ...run, details: ok.details! }, [], policy);
    assert.deepEqual(
      found.map((a) => a.message),
      ['the filesystem of the copy /media/usb/backups is 91.0% full, above the limit of 80%'],
    );
  });

  test('the anomaly rules: minimum history, floors, durations', () => {
    const job = backupJob('p');
    const policy = effectivePolicy(job);
    assert.equal(policy.anomalyFactor, 5, 'backup jobs default to 5x');
    assert.equal(effectivePolicy(commandJob('c', 'true')).anomalyFactor, undefined);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    const run = (id: string, bytesAdded: number, durationMs = 30_000) => ({
      ...{ runId: id, jobId: 'p', slotMs: 0, attempt: 1, trigger: 'schedule' as const },
      status: 'ok' as const,
      durationMs,
      details: backupOk({ bytesAdded, durationMs }).details!,
    });
    const history = [run('a', 0), run('b', 0), run('c', 0)];
    // A median of 0 with a small new amount is below the 1 MiB floor.
    assert.deepEqual(detectAnomalies(run('n', 512 * 1024), history, policy), []);
    assert.equal(detectAnomalies(run('n', 2 * MiB), history, policy)[0]?.kind, 'bytes-added');
    const slow = detectAnomalies(run('n', 0, 20 * MIN), history, policy);
    assert.equal(slow[0]?.kind, 'duration');
    assert.match(slow[0]!.message, /took 20m, 40\.0x the median of 30s/);
  });
});
