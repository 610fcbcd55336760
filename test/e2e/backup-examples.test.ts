/**
 * The runnable examples in docs/examples/ (the two seed stories), run as written with the real
 * binary on a temp home, against real stand-ins (s3rver for S3, a directory for the USB disk, the
 * machine's PostgreSQL and Redis). Scheduling is checked with `cron show` and runs with `cron run --wait`,
 * never by waiting for the clock.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BIN, tempHome } from '../interfaces/cli/cli-harness.ts';
import { startS3Server } from '../helpers/s3-server.ts';

async function pgSql(text: string, database = 'postgres'): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const EXAMPLES = fileURLToPath(new URL('../../docs/examples/', import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with `nightshift` on PATH, in UTC (so 03:00 is 03:00Z), with the given env. */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['NODE_OPTIONS', 'NODE_TEST_CONTEXT', 'NIGHTSHIFT_PASSWORD', 'NIGHTSHIFT_REPOSITORY'])
      delete e[k];
    Object.assign(e, env, { TZ: 'UTC', PATH: `${dirname(BIN)}:${process.env.PATH}` });
    const child = spawn(cmd, args, { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ns<T>(env: Record<string, string>, args: string[]): Promise<T> {
  const r = await run(process.execPath, [BIN, ...args, '--json'], env);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Show {
  schedule: { kind: string; expr?: string; everyMs?: number };
  payload: { kind: string; profile: string };
  nextRuns: string[];
}

interface RunEntry {
  status: string;
  error: string | null;
}

describe('docs/examples', { timeout: 600_000 }, () => {
  test('daily-0300-keep-last-3.sh: a daily 03:00 passphrase backup keeping the last 3', async () => {
    const h = tempHome();
    try {
      const state = join(h.work, 'agent-state');
      mkdirSync(state);
      writeFileSync(join(state, 'memory.md'), 'remember the milk\n');
      const env = {
        NIGHTSHIFT_HOME: h.home,
        AGENT_STATE: state,
        REPO: join(h.work, 'repo'),
        BACKUP_PASSWORD: 'example-passphrase-' + process.pid,
      };
      const r = await run('sh', [join(EXAMPLES, 'daily-0300-keep-last-3.sh')], env);
      assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(env.BACKUP_PASSWORD));

      const show = await ns<Show>(env, ['cron', 'show', 'agent-state-backup']);
      assert.deepEqual(show.payload, { kind: 'backup', profile: 'agent-state' });
      assert.equal(show.nextRuns.length, 5);
      for (const t of show.nextRuns) assert.match(t, /T03:00:00(\.000)?Z$/);

      // Three more runs: retention keeps the last 3 of the 4.
      for (let i = 0; i < 3; i++) {
        writeFileSync(join(state, `day-${i}.md`), `day ${i}\n`);
        const again = await run(process.execPath, [BIN, 'cron', 'run', 'agent-state-backup', '--wait'], env);
        assert.equal(again.code, 0, again.stderr);
      }
      const runs = await ns<{ entries: RunEntry[] }>(env, ['cron', 'runs', '--id', 'agent-state-backup']);
      assert.deepEqual(
        runs.entries.map((e) => e.status),
        ['ok', 'ok', 'ok', 'ok'],
      );
      const snaps = await ns<unknown[]>({ ...env, NIGHTSHIFT_PASSWORD: env.BACKUP_PASSWORD }, [
        'backup',
        'snapshots',
        '--repo',
        env.REPO,
      ]);
      assert.equal(snaps.length, 3);
    } finally {
      h.cleanup();
    }
  });

  test('every-2h-tiered.sh: the whole seed plan, to S3 with a USB copy, databases and a weekly drill', async () => {
    const h = tempHome();
    const s3 = await startS3Server(['backups']);
    const db = `ns_ex_${randomBytes(4).toString('hex')}`;
    await pgSql(`CREATE DATABASE ${db}`);
    try {
      await pgSql(
        'CREATE TABLE invoices (id serial primary key, amount int); INSERT INTO invoices (amount) SELECT g FROM generate_series(1, 50) g',
        db,
      );
      const ws = join(h.work, 'workspace');
      const cfg = join(h.work, 'config');
      mkdirSync(join(ws, 'node_modules'), { recursive: true });
      mkdirSync(cfg);
      writeFileSync(join(ws, 'main.py'), 'print("hi")\n'.repeat(200));
      writeFileSync(join(ws, 'node_modules', 'big.js'), 'x'.repeat(100_000));
      writeFileSync(join(cfg, 'openclaw.json'), '{"agents":{}}\n');
      const git = (...a: string[]): void => void execFileSync('git', ['-C', ws, ...a], { stdio: 'ignore' });
      git('init', '-q', '-b', 'main');
      git('add', 'main.py');
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'first');
      const env = {
        ...s3.env,
        NIGHTSHIFT_HOME: h.home,
        WORKSPACE: ws,
        AGENT_CONFIG: cfg,
        ERP_DB: `postgresql://postgres@127.0.0.1:5432/${db}`,
        REDIS_URL: 'redis://127.0.0.1:6379',
        REPO: `s3:${s3.endpoint}/backups/host1`,
        COPY_TO: join(h.work, 'usb', 'backups'),
        IDENTITY: join(h.work, 'identity.txt'),
      };
      const r = await run('sh', [join(EXAMPLES, 'every-2h-tiered.sh')], env);
      assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /AGE-SECRET-KEY/);

      const backup = await ns<Show & { alerts?: Record<string, number> }>(env, [
        'cron',
        'show',
        'everything-backup',
      ]);
      assert.deepEqual(backup.schedule.everyMs, 2 * 3_600_000);
      const gaps = backup.nextRuns.slice(1).map((t, i) => Date.parse(t) - Date.parse(backup.nextRuns[i]!));
      assert.deepEqual(gaps, [7_200_000, 7_200_000, 7_200_000, 7_200_000]);
      assert.equal(backup.alerts?.maxRepoBytes, 20 * 1024 ** 3);
      assert.equal(backup.alerts?.maxRepoUsagePercent, 80);
      const drill = await ns<Show>(env, ['cron', 'show', 'everything-drill']);
      assert.equal(drill.payload.kind, 'drill');
      for (const t of drill.nextRuns) {
        assert.match(t, /T04:30:00(\.000)?Z$/);
        assert.equal(new Date(t).getUTCDay(), 0, `${t} is a Sunday`);
      }

      const profile = await ns<{ retention: Record<string, unknown>; excludes: string[] }>(env, [
        'backup',
        'profile',
        'show',
        'everything',
      ]);
      assert.deepEqual(profile.retention, {
        weekly: 4,
        monthly: 12,
        within: { years: 0, months: 0, days: 7, hours: 0 },
      });
      // The backup: ok, with evidence for every source and for the copy on the "USB disk".
      const runs = await ns<{ entries: (RunEntry & { evidence?: { check: string; ok: boolean }[] })[] }>(
        env,
        ['cron', 'runs', '--id', 'everything-backup'],
      );
      assert.equal(runs.entries[0]?.status, 'ok', runs.entries[0]?.error ?? '');
      const ev = Object.fromEntries((runs.entries[0]?.evidence ?? []).map((e) => [e.check, e.ok]));
      for (const check of [
        'source workspace',
        'source erp',
        'source cache',
        `copy to ${env.COPY_TO}`,
        'verify',
      ])
        assert.equal(ev[check], true, `${check}: ${JSON.stringify(runs.entries[0]?.evidence)}`);
      // The drill restored the dump into a scratch database and found invoices.
      const drills = await ns<{
        entries: (RunEntry & { evidence?: { check: string; ok: boolean; detail: string }[] })[];
      }>(env, ['cron', 'runs', '--id', 'everything-drill']);
      assert.equal(drills.entries[0]?.status, 'ok', drills.entries[0]?.error ?? '');
      const dbCheck = drills.entries[0]?.evidence?.find((e) => e.check === 'database erp');
      assert.match(dbCheck?.detail ?? '', /select count\(\*\) from invoices" returned 1 row/);
      // Both repositories hold the snapshot; node_modules was left out.
      for (const repo of [env.REPO, env.COPY_TO]) {
        const snaps = await ns<{ paths: string[]; summary?: { bytesRead: number } }[]>(env, [
          'backup',
          'snapshots',
          '--repo',
          repo,
          '--identity',
          env.IDENTITY,
        ]);
        assert.equal(snaps.length, 1, repo);
        assert.ok(snaps[0]!.paths.includes('/databases/postgres/erp.dump'), snaps[0]!.paths.join(' '));
      }
    } finally {
      await s3.stop();
      await pgSql(`DROP DATABASE IF EXISTS ${db}`);
      h.cleanup();
    }
  });
});
