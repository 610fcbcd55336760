/**
 * `nightshift store migrate`: a real SQLite home (a job added and run through the CLI, history,
 * a run cut off mid-way, a backup profile, a session with transcript and inbox, alert state)
 * moved into a PostgreSQL database of its own, then read back through the PostgreSQL store.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, tempHome } from './cli-harness.ts';
import type { TempHome } from './cli-harness.ts';
import { createTestDatabase } from '../../store/pg-database.ts';
import type { TestDatabase } from '../../store/pg-database.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import type { Store } from '../../../src/store/store.ts';
import { run, T0 } from '../../store/store-contract.ts';

let h: TempHome;
let db: TestDatabase;
let dbPath: string;
const HISTORY = 1_200;

before(async () => {
  h = tempHome();
  db = await createTestDatabase('ns_migrate');
  const added = await cli(h.home, ['cron', 'add', '--name', 'pass', '--every', '1h', '--command', 'echo hi']);
  assert.equal(added.code, 0, added.stderr);
  const ran = await cli(h.home, ['cron', 'run', 'pass', '--wait']);
  assert.equal(ran.code, 0, ran.stderr);
  dbPath = join(h.home, 'nightshift.db');
  const store = await openSqliteStore(dbPath);
  try {
    const job = (await store.findJob('pass'))!;
    // More history than one INSERT chunk, and one run left `running` (its daemon died).
    const history = Array.from({ length: HISTORY }, (_, i) => ({
      kind: 'claim' as const,
      run: run(job.id, T0 + i * 60_000, { status: 'ok', finishedAtMs: T0 + i * 60_000 + 5 }),
    }));
    await store.writeBatch(history);
    await store.claimRun(run(job.id, T0 + HISTORY * 60_000, { status: 'running', startedAtMs: T0 }));
    await store.profiles.insert({
      name: 'home',
      createdAtMs: T0,
      updatedAtMs: T0,
    } as unknown as Parameters<Store['profiles']['insert']>[0]);
    await store.sessions.ensure({ id: 'main:default', agent: 'main', kind: 'main' }, T0);
    await store.sessions.append(
      'main:default',
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      undefined,
      T0,
    );
    await store.sessions.pushInbox({ sessionId: 'main:default', text: 'disk almost full', createdAtMs: T0 });
    await store.alertState.put(job.id, { alerting: true, failures: 2 });
  } finally {
    await store.close();
  }
});

after(async () => {
  await db.drop();
  h.cleanup();
});

test('store migrate copies every job, run, profile and session into PostgreSQL and prints the verified counts', async () => {
  const res = await cli(h.home, ['store', 'migrate', '--from', `sqlite:${dbPath}`, '--to', db.url]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /jobs\s+1\s+1/);
  assert.match(res.stdout, new RegExp(`runs\\s+${HISTORY + 2}\\s+${HISTORY + 2}`));
  assert.match(res.stdout, /session messages\s+2\s+2/);
  assert.match(res.stdout, /1 run\(s\) still running in the source were recorded interrupted/);
  assert.match(res.stdout, /counts verified/);

  const pgStore = await openPostgresStore(db.url);
  const sqlite = await openSqliteStore(dbPath, { readonly: true });
  try {
    assert.deepEqual(await pgStore.listJobs(), await sqlite.listJobs());
    const runs = await pgStore.listRuns({ limit: 0 });
    assert.equal(runs.total, HISTORY + 2);
    const fromCli = (await pgStore.listRuns({})).entries.filter((r) => r.trigger === 'manual');
    assert.equal(fromCli[0]?.status, 'ok', 'the run made through the CLI arrived as it was');
    assert.deepEqual(
      (await pgStore.unfinishedRuns()).map((r) => r.status),
      [],
      'the run cut off in the source is no longer running',
    );
    const cut = (await pgStore.listRuns({ status: 'interrupted', limit: 10 })).entries;
    assert.equal(cut.length, 1);
    assert.match(cut[0]!.error ?? '', /moved to PostgreSQL/);
    assert.equal((await pgStore.profiles.get('home'))?.name, 'home');
    assert.deepEqual(
      (await pgStore.sessions.transcript('main:default')).map((m) => m.role),
      ['user', 'assistant'],
    );
    assert.deepEqual(
      (await pgStore.sessions.pendingInbox('main:default')).map((i) => i.text),
      ['disk almost full'],
    );
    // Sequences continue after the copied rows: a new inbox item comes after the old one.
    const next = await pgStore.sessions.pushInbox({
      sessionId: 'main:default',
      text: 'later',
      createdAtMs: T0,
    });
    const pending = await pgStore.sessions.pendingInbox('main:default');
    assert.equal(pending.at(-1)?.seq, next);
    assert.ok(next > pending[0]!.seq);
    const job = (await pgStore.findJob('pass'))!;
    assert.deepEqual(await pgStore.alertState.get(job.id), { alerting: true, failures: 2 });
  } finally {
    await pgStore.close();
    await sqlite.close();
  }
});

test('a target that already holds rows is refused unless --replace, and is left untouched', async () => {
  const refused = await cli(h.home, [
    '--json',
    'store',
    'migrate',
    '--from',
    `sqlite:${dbPath}`,
    '--to',
    db.url,
  ]);
  assert.equal(refused.code, 4, refused.stderr);
  const err = JSON.parse(refused.stderr) as { error: { code: string; message: string; hint: string } };
  assert.equal(err.error.code, 'store_not_empty');
  assert.match(err.error.message, /already holds 1 jobs, \d+ runs/);
  assert.match(err.error.hint, /--replace/);

  const replaced = await cli(h.home, [
    '--json',
    'store',
    'migrate',
    '--from',
    `sqlite:${dbPath}`,
    '--to',
    db.url,
    '--replace',
  ]);
  assert.equal(replaced.code, 0, replaced.stderr);
  const out = JSON.parse(replaced.stdout) as { replaced: boolean; target: { runs: number; inbox: number } };
  assert.equal(out.replaced, true);
  assert.equal(out.target.runs, HISTORY + 2);
  assert.equal(out.target.inbox, 1, 'the item added after the first copy is gone with the rest');
});

test('wrong stores are named with the fix, and nothing is written', async () => {
  const missing = await cli(h.home, [
    'store',
    'migrate',
    '--from',
    'sqlite:/nonexistent/nightshift.db',
    '--to',
    db.url,
  ]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /the database \/nonexistent\/nightshift\.db does not exist/);
  const backwards = await cli(h.home, ['store', 'migrate', '--from', db.url, '--to', `sqlite:${dbPath}`]);
  assert.equal(backwards.code, 2);
  assert.match(backwards.stderr, /--from must name a SQLite store/);
});
