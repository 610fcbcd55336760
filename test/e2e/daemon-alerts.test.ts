/**
 * The daemon end to end with alerts: a real `nightshift daemon` process, a configuration whose
 * channel credentials are secret references, a local webhook server. A failing job alerts, a
 * job disabled by mistake trips its dead-man's switch as soon as the daemon starts after the
 * deadline passed, a system event is recorded `delivered`, and the canary secrets are nowhere in
 * the home, the output or the process list.
 */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cli,
  cliJson,
  DaemonProcess,
  eventually,
  tempHome,
  filesUnder,
} from '../interfaces/cli/cli-harness.ts';
import type { TempHome } from '../interfaces/cli/cli-harness.ts';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';
import { openApp } from '../../src/app/app.ts';
import { newJobId } from '../../src/domain/job-id.ts';
import { buildJob } from '../../src/domain/job-validation.ts';

const HOUR = 3_600_000;
let rec: Recorder;
let h: TempHome;
before(async () => {
  rec = await startRecorder([{ status: 200, body: 'ok' }]);
  h = tempHome();
});
after(async () => {
  await rec.close();
  h.cleanup();
});

interface AlertBody {
  severity: string;
  title: string;
  job: { name: string } | null;
  run: { id: string; status: string | null } | null;
}

describe('daemon with alerts, end to end', () => {
  test('failure and dead-man alerts arrive, a system event is delivered, and no secret leaks', async () => {
    const canaryPath = `CANARY-${randomBytes(8).toString('hex')}`;
    const canaryKey = `CANARY-KEY-${randomBytes(8).toString('hex')}`;
    const env = { NS_HOOK_URL: `${rec.url}/hook/${canaryPath}`, NS_HOOK_KEY: canaryKey };
    const { home } = h;
    // The home first (openApp creates it 0700), then the configuration: references only.
    const app = await openApp(home, {});
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        channels: { hook: { kind: 'webhook', url: 'env:NS_HOOK_URL', secret: 'env:NS_HOOK_KEY' } },
        alerts: { channels: ['hook'] },
      }),
      { mode: 0o600 },
    );
    // A job created two hours ago, disabled by mistake, that must succeed every hour.
    const created = Date.now() - 2 * HOUR;
    await app.store.insertJob(
      buildJob(
        {
          name: 'forgotten',
          enabled: false,
          schedule: { kind: 'every', everyMs: HOUR },
          payload: { kind: 'command', command: 'true' },
          alerts: { ifNoSuccessWithinMs: HOUR },
        },
        created,
        newJobId,
      ),
    );
    await app.close();

    const daemon = new DaemonProcess(home, [], env);
    try {
      await daemon.ready();
      // Added while the daemon runs (it sees CLI edits within a second), so no slot passes unseen.
      const add = (args: string[]): Promise<unknown> =>
        cli(home, ['cron', 'add', ...args]).then((r) => assert.equal(r.code, 0, r.stderr));
      await add([
        '--name',
        'failing',
        '--every',
        '2s',
        '--command',
        'echo disk full >&2; exit 3',
        '--alert-after',
        '1',
        // A slot missed on a loaded machine alerts too; a short cooldown lets the error alert follow.
        '--alert-cooldown',
        '1s',
      ]);
      await add(['--name', 'reminder', '--every', '2s', '--system-event', 'check the backups']);

      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      const alerts = await eventually(
        () => {
          const bodies = rec.requests.map((r) => JSON.parse(r.body) as AlertBody);
          const failing = bodies.find((b) => b.job?.name === 'failing' && b.run?.status === 'error');
          const deadMan = bodies.find((b) => b.job?.name === 'forgotten');
          return failing && deadMan ? { failing, deadMan, bodies } : undefined;
        },
        'a failure alert and a dead-man alert',
        60_000,
      );
      assert.equal(alerts.failing.run?.status, 'error');
      assert.match(alerts.deadMan.title, /forgotten/);
      // Every alert went to the configured URL, signed with the referenced key.
      for (const r of rec.requests) {
        assert.equal(r.path, `/hook/${canaryPath}`);
        assert.match(String(r.headers['x-nightshift-signature']), /^sha256=[0-9a-f]{64}$/);
      }
      // The failing run records the alert it caused, naming the channel, not its URL.
      const runs = await cliJson<{ entries: Array<{ runId: string; status: string }> }>(home, [
        'cron',
        'runs',
        '--id',
        'failing',
      ]);
      const alerted = runs.json.entries.find((r) => r.runId === alerts.failing.run?.id);
      assert.ok(alerted, 'the alerted run is in the history');
      const reminder = await eventually(async () => {
        const r = await cliJson<{ entries: Array<{ status: string }> }>(home, [
          'cron',
          'runs',
          '--id',
          'reminder',
        ]);
        return r.json.entries.find((e) => e.status === 'delivered');
      }, 'a delivered system event');
      assert.equal(reminder.status, 'delivered');
      const inbox = await cli(home, ['session', 'inbox', 'main']);
      assert.match(inbox.stdout, /check the backups/);

      daemon.kill('SIGTERM');
      assert.equal((await daemon.exit()).code, 0);

      // The canaries: in no file of the home, no line the daemon printed, no process argument.
      const printed = JSON.stringify(daemon.events) + daemon.stderr + runs.result.stdout + inbox.stdout;
      for (const canary of [canaryPath, canaryKey]) {
        for (const f of filesUnder(home))
          assert.ok(!readFileSync(f).includes(canary), `${canary.slice(0, 12)}… found in ${f}`);
        assert.ok(!printed.includes(canary), 'printed output holds a canary');
        assert.ok(!ps.includes(canary), 'the process list holds a canary');
      }
      assert.ok(!rec.requests.some((r) => r.body.includes(canaryKey)), 'the signing key was sent');
    } finally {
      await daemon.dispose();
    }
  });
});

describe('daemon with a bad configuration', () => {
  test('refuses to start, naming the file and the field, before anything runs', async () => {
    const t = tempHome();
    try {
      const app = await openApp(t.home, {});
      await app.close();
      writeFileSync(join(t.home, 'config.json'), JSON.stringify({ alerts: { channels: ['pager'] } }), {
        mode: 0o600,
      });
      const r = await cli(t.home, ['daemon', '--sample-job'], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /config\.json: alerts\.channels\[0\]: no channel named "pager"/);
      assert.doesNotMatch(r.stdout, /daemon started|engine\.started/);
      const jobs = await cliJson<{ jobs: unknown[] }>(t.home, ['cron', 'list', '--all']);
      assert.deepEqual(jobs.json.jobs, [], 'the sample job was not added');
    } finally {
      t.cleanup();
    }
  });
});
