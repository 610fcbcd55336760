/**
 * `nightshift doctor` against real homes: each problem is made for real (no daemon, a missing
 * program, a channel removed from config.json, a secret that is not set, a repository lock left
 * by a killed process, a config.json the daemon refuses), and the line and exit code are asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess, cli, cliJson, tempHome } from './cli-harness.ts';

interface Report {
  findings: Array<{
    check: string;
    level: string;
    message: string;
    fix?: string;
    fixable: boolean;
    fixed?: string;
    job?: string;
  }>;
  counts: { ok: number; warn: number; fail: number };
  exitCode: number;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function lines(stdout: string, level: string, check: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(level.padEnd(4)) && l.slice(6).startsWith(check));
}

test('a fresh home: every check ok, exit 0', async () => {
  const h = tempHome();
  try {
    const r = await cli(h.home, ['doctor']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^ok {4}home {6}.* is writable$/m);
    assert.match(r.stdout, /\d+ ok, 0 warn, 0 fail/);
  } finally {
    h.cleanup();
  }
});

test('no daemon with an enabled job fails and says how to start one; a missing program names the job', async () => {
  const h = tempHome();
  try {
    let r = await cli(h.home, [
      'cron',
      'add',
      '--name',
      'nightly',
      '--every',
      '1h',
      '--command',
      'no-such-program-xyz --flag',
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(h.home, ['doctor']);
    assert.equal(r.code, 1);
    const daemon = lines(r.stdout, 'fail', 'daemon');
    assert.equal(daemon.length, 1, r.stdout);
    assert.match(daemon[0]!, /no daemon runs on .*: 1 enabled job will not fire/);
    assert.match(r.stdout, /fix: nightshift --home .* daemon/);
    const program = lines(r.stdout, 'fail', 'jobs');
    assert.match(program.join('\n'), /nightly: its program "no-such-program-xyz" is not on the PATH/);
    // --job narrows the report to that job; --quiet drops the ok lines.
    const q = await cli(h.home, ['doctor', '--job', 'nightly', '--quiet']);
    assert.equal(q.code, 1);
    assert.doesNotMatch(q.stdout, /^ok /m);
  } finally {
    h.cleanup();
  }
});

test('a channel removed from config.json and a secret that is not set are named, without any value', async () => {
  const h = tempHome();
  try {
    mkdirSync(h.home, { recursive: true });
    const config = (channels: Record<string, unknown>): void =>
      writeFileSync(join(h.home, 'config.json'), JSON.stringify({ channels }), { mode: 0o600 });
    // A bot whose token resolves, on a Bot API address where nothing listens.
    config({
      ops: { kind: 'slack', webhookUrl: 'env:NS_DOCTOR_SLACK_URL' },
      bot: { kind: 'telegram', botToken: 'env:NS_DOCTOR_TG', chatId: '42', apiBase: 'http://127.0.0.1:9' },
    });
    const env = { NS_DOCTOR_TG: 'tg-canary-7731' };
    let r = await cli(h.home, [
      'cron',
      'add',
      '--name',
      'report',
      '--every',
      '1h',
      '--command',
      'true',
      '--announce',
      '--channel',
      'ops',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const text = await cli(h.home, ['doctor'], { env });
    assert.equal(text.code, 1);
    assert.match(
      lines(text.stdout, 'fail', 'delivery').join('\n'),
      /channel bot \(telegram\) does not answer/,
    );
    assert.match(text.stdout, /^ok {4}secrets {3}env:NS_DOCTOR_TG resolves \(channel bot\)$/m);
    assert.doesNotMatch(text.stdout + text.stderr, /tg-canary-7731/);
    const { result, json } = await cliJson<Report>(h.home, ['doctor']);
    assert.equal(result.code, 1);
    const secret = json.findings.find((f) => f.check === 'secrets' && f.level === 'fail');
    assert.ok(secret, JSON.stringify(json.findings));
    assert.match(secret.message, /env:NS_DOCTOR_SLACK_URL does not resolve for channel ops/);
    // The channel is removed from the configuration: the job still names it.
    config({});
    r = await cli(h.home, ['doctor', '--job', 'report']);
    assert.equal(r.code, 1);
    assert.match(
      lines(r.stdout, 'fail', 'jobs').join('\n'),
      /report: its delivery names channel "ops", which config.json does not define \(no channels are configured\)/,
    );
  } finally {
    h.cleanup();
  }
});

test('a repository lock left by a killed process: warned, and --fix removes only it', async () => {
  const h = tempHome();
  try {
    const data = join(h.work, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'a.txt'), 'hello\n');
    const pw = join(h.work, 'pw');
    writeFileSync(pw, 'doctor-test-pass\n', { mode: 0o600 });
    const repo = join(h.work, 'repo');
    let r = await cli(h.home, ['backup', 'init', '--repo', repo, '--password-file', pw]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(h.home, [
      'backup',
      'profile',
      'add',
      'docs',
      '--repo',
      repo,
      '--password-ref',
      `file:${pw}`,
      '--path',
      data,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // A process takes a shared lock and is killed holding it.
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { acquireLock } = await import(${JSON.stringify(join(ROOT, 'src/backup/lock.ts'))});
         const { LocalBlobStore } = await import(${JSON.stringify(join(ROOT, 'src/backup/backends/local.ts'))});
         await acquireLock(new LocalBlobStore(${JSON.stringify(repo)}), { exclusive: false });
         process.stdout.write('locked\\n');
         setInterval(() => {}, 1000);`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('close', resolve));
    assert.equal(readdirSync(join(repo, 'locks')).length, 1);
    const repoFiles = (): string[] =>
      readdirSync(repo, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && !e.parentPath.endsWith('locks'))
        .map((e) => join(e.parentPath, e.name))
        .sort();
    const before = repoFiles();
    const jobsBefore = (await cli(h.home, ['cron', 'list', '--all', '--json'])).stdout;

    const { json } = await cliJson<Report>(h.home, ['doctor']);
    const lock = json.findings.find((f) => f.check === 'backups' && /stale lock/.test(f.message));
    assert.ok(lock, JSON.stringify(json.findings));
    assert.equal(lock.level, 'warn');
    assert.match(lock.message, new RegExp(`pid ${holder.pid} on .*: pid ${holder.pid} is not running`));
    assert.equal(lock.fixable, true);

    r = await cli(h.home, ['doctor', '--fix']);
    assert.match(r.stdout, /fixed: removed 1 stale lock/);
    assert.equal(readdirSync(join(repo, 'locks')).length, 0);
    assert.deepEqual(repoFiles(), before, 'only the lock file went');
    assert.equal((await cli(h.home, ['cron', 'list', '--all', '--json'])).stdout, jobsBefore);
    const again = await cliJson<Report>(h.home, ['doctor']);
    assert.equal(again.json.findings.filter((f) => /stale lock/.test(f.message)).length, 0);
  } finally {
    h.cleanup();
  }
});

test('the running daemon: its version and heartbeat are reported; a config.json it refuses fails until fixed and reloaded', async () => {
  const h = tempHome();
  const daemon = new DaemonProcess(h.home);
  try {
    await daemon.ready();
    let { result, json } = await cliJson<Report>(h.home, ['doctor']);
    assert.equal(result.code, 0, result.stdout);
    const msgs = json.findings.filter((f) => f.check === 'daemon').map((f) => f.message);
    assert.ok(
      msgs.some((m) => new RegExp(`daemon pid ${daemon.pid} on `).test(m)),
      msgs.join('\n'),
    );
    assert.ok(msgs.includes('the daemon runs with the current config.json'), msgs.join('\n'));
    assert.ok(
      msgs.some((m) => /^last daemon heartbeat /.test(m)),
      msgs.join('\n'),
    );

    // An invalid file: the daemon notices it by itself, refuses it, and keeps the old one.
    writeFileSync(
      join(h.home, 'config.json'),
      JSON.stringify({ channels: { x: { kind: 'carrier-pigeon' } } }),
    );
    await daemon.waitFor((e) => e.event === 'config.refused', 'the daemon to refuse config.json');
    ({ result, json } = await cliJson<Report>(h.home, ['doctor']));
    assert.equal(result.code, 1);
    const refused = json.findings.find((f) => f.check === 'daemon' && f.level === 'fail');
    assert.match(
      refused?.message ?? '',
      /the daemon refused the current config.json and runs with the previous one: .*kind/,
    );
    assert.match(refused?.fix ?? '', /daemon reload/);

    // Fixed, and reloaded on request: `daemon reload` waits for the daemon's word.
    writeFileSync(join(h.home, 'config.json'), JSON.stringify({ channels: {} }));
    const reload = await cli(h.home, ['daemon', 'reload']);
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, new RegExp(`daemon \\(pid ${daemon.pid}\\) reloaded .*config.json`));
    ({ result } = await cliJson<Report>(h.home, ['doctor']));
    assert.equal(result.code, 0, result.stdout);
  } finally {
    await daemon.dispose();
    h.cleanup();
  }
});

test('bad usage exits 2; an unknown --job exits like every command that cannot find a job', async () => {
  const h = tempHome();
  try {
    assert.equal((await cli(h.home, ['doctor', '--bogus'])).code, 2);
    const r = await cli(h.home, ['doctor', '--job', 'nope']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no job with id or name "nope"/);
  } finally {
    h.cleanup();
  }
});
