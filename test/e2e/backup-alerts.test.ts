/**
 * End to end, the failure paths of scheduled backups with the real daemon: a backup whose
 * passphrase reference cannot be resolved fails naming the reference and alerts; a repository
 * with a corrupted pack fails its restore drill and alerts. Alerts arrive at a local webhook
 * server; the passphrase (a canary) is in no file of the home and no printed line.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, cli, eventually, tempHome, filesUnder } from '../interfaces/cli/cli-harness.ts';
import type { TempHome } from '../interfaces/cli/cli-harness.ts';
import { startRecorder } from '../delivery/http-recorder.ts';
import type { Recorder } from '../delivery/http-recorder.ts';

interface AlertBody {
  severity: string;
  title: string;
  text: string;
  job: { name: string } | null;
  run: { id: string; status: string | null } | null;
}

describe('scheduled backups that fail, end to end', { timeout: 300_000 }, () => {
  let h: TempHome;
  let rec: Recorder;
  const password = `CANARY-PW-${randomBytes(8).toString('hex')}`;

  before(async () => {
    h = tempHome();
    rec = await startRecorder([{ status: 200, body: 'ok' }]);
  });
  after(async () => {
    await rec.close();
    h.cleanup();
  });

  test('a broken secret reference and a corrupted repository each fail with a clear reason and alert', async () => {
    const { home, work } = h;
    const ok = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> => {
      const r = await cli(home, args, { env });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    };
    const src = join(work, 'src');
    mkdirSync(src);
    for (let i = 0; i < 5; i++) writeFileSync(join(src, `file-${i}.txt`), `content ${i} `.repeat(500 + i));
    const repo = join(work, 'repo');
    const pw = { NIGHTSHIFT_PASSWORD: password };
    await ok(['backup', 'init', '--repo', repo], pw);
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        channels: { hook: { kind: 'webhook', url: `${rec.url}/hook` } },
        alerts: { channels: ['hook'] },
      }),
      { mode: 0o600 },
    );
    const profile = (name: string, ref: string): string[] => [
      'backup',
      'profile',
      'add',
      name,
      '--repo',
      repo,
      '--password-ref',
      ref,
      '--path',
      src,
      '--keep-last',
      '3',
    ];
    await ok(profile('unreachable-key', 'env:NS_E2E_MISSING_PW'));
    await ok(profile('corrupted', 'env:NS_E2E_PW'));
    // The profile's first snapshot, made by a backup job run once in this process.
    await ok(['cron', 'add', '--name', 'seed', '--every', '1d', '--disabled', '--backup', 'corrupted']);
    await ok(['cron', 'run', 'seed', '--wait'], { NS_E2E_PW: password });
    // Corrupt the repository: one flipped byte in the middle of its biggest pack.
    const packs = filesUnder(join(repo, 'data')).sort((a, b) => statSync(b).size - statSync(a).size);
    const bytes = readFileSync(packs[0]!);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(packs[0]!, bytes);

    const daemon = new DaemonProcess(home, [], { NS_E2E_PW: password });
    try {
      await daemon.ready(60_000);
      await ok(['cron', 'add', '--name', 'nightly', '--every', '3s', '--backup', 'unreachable-key']);
      await ok([
        'cron',
        'add',
        '--name',
        'drill',
        '--every',
        '3s',
        '--drill',
        'corrupted',
        '--drill-sample',
        '100%',
      ]);
      const alerts = await eventually(
        () => {
          const bodies = rec.requests.map((r) => JSON.parse(r.body) as AlertBody);
          const backup = bodies.find((b) => b.job?.name === 'nightly' && b.run?.status === 'error');
          const drill = bodies.find((b) => b.job?.name === 'drill' && b.run?.status === 'error');
          return backup && drill ? { backup, drill } : undefined;
        },
        'alerts for the failed backup and the failed drill',
        120_000,
      );
      assert.equal(alerts.backup.severity, 'error');
      assert.match(alerts.backup.text, /env:NS_E2E_MISSING_PW/);
      // The flipped byte lands in a file's data or in a tree: either way the drill names what failed.
      assert.match(
        alerts.drill.text,
        /sampled files failed|the drill failed: \/: cannot read the snapshot's trees/,
      );

      const runs = await cli(home, ['cron', 'runs', '--id', 'nightly', '--json']);
      const nightly = (
        JSON.parse(runs.stdout) as { entries: Array<{ status: string; error: string | null }> }
      ).entries;
      const failed = nightly.find((r) => r.status === 'error');
      assert.match(failed?.error ?? '', /env:NS_E2E_MISSING_PW/, 'the reason names the reference');
      daemon.kill('SIGTERM');
      assert.equal((await daemon.exit(60_000)).code, 0);

      const printed = JSON.stringify(daemon.events) + daemon.stderr + runs.stdout;
      assert.ok(!printed.includes(password), 'the passphrase was printed');
      for (const f of filesUnder(home))
        assert.ok(!readFileSync(f).includes(password), `the passphrase is in ${f}`);
      assert.ok(!rec.requests.some((r) => r.body.includes(password)), 'an alert carried the passphrase');
    } finally {
      await daemon.dispose();
    }
  });
});
