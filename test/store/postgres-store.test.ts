import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import { PG_SCHEMA_VERSION } from '../../src/store/postgres-schema.ts';
import type { Store } from '../../src/store/store.ts';
import { UserError } from '../../src/domain/errors.ts';
import { describeStoreContract, job, run, T0 } from './store-contract.ts';
import { createTestDatabase } from './pg-database.ts';
import type { TestDatabase } from './pg-database.ts';

describeStoreContract('PostgreSQL', async () => {
  const db = await createTestDatabase();
  const a = await openPostgresStore(db.url);
  const b = await openPostgresStore(db.url);
  return {
    a,
    b,
    async dispose() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
});

describe('PostgreSQL store', () => {
  let db: TestDatabase;
  let a: Store;
  let b: Store;

  before(async () => {
    db = await createTestDatabase();
    a = await openPostgresStore(db.url);
    b = await openPostgresStore(db.url);
  });

  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  test('a job saved through one store reaches the other within a second (LISTEN/NOTIFY)', async () => {
    const before = await a.changeToken();
    await b.insertJob(job('n-1', 'notified'));
    const deadline = Date.now() + 1_000;
    while ((await a.changeToken()) === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(await a.changeToken(), before, 'the insert was announced');
    const mid = await a.changeToken();
    // The engine's own bookkeeping (state patches) announces nothing: no daemon re-reads for it.
    await b.patchJobState('n-1', { consecutiveSkipped: 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await a.changeToken(), mid);
    await b.updateJob(job('n-1', 'notified', { description: 'edited' }));
    const deadline2 = Date.now() + 1_000;
    while ((await a.changeToken()) === mid && Date.now() < deadline2)
      await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(await a.changeToken(), mid, 'the edit was announced');
  });

  test('two clusters in two schemas of one database do not see each other', async () => {
    const x = await openPostgresStore(`${db.url}?schema=cluster_x`);
    const y = await openPostgresStore(`${db.url}?schema=cluster_y`);
    try {
      await x.insertJob(job('sx', 'same-name'));
      await y.insertJob(job('sy', 'same-name'));
      assert.equal((await x.findJob('same-name'))?.id, 'sx');
      assert.equal((await y.findJob('same-name'))?.id, 'sy');
      const before = await y.changeToken();
      await x.insertJob(job('sx2', 'only-x'));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await y.changeToken(), before, "x's notices are not y's");
    } finally {
      await x.close();
      await y.close();
    }
  });

  test('the schema is versioned; a database from a newer nightshift is refused', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const v = await c.query('SELECT version FROM nightshift_meta');
      assert.equal(v.rows[0].version, PG_SCHEMA_VERSION);
      await c.query('UPDATE nightshift_meta SET version = version + 1');
      await assert.rejects(openPostgresStore(db.url), (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /newer nightshift/);
        return true;
      });
      await c.query('UPDATE nightshift_meta SET version = version - 1');
    } finally {
      await c.end();
    }
  });

  test('a password in the URL is refused (it belongs in a secret reference); a dead server is a clear error', async () => {
    await assert.rejects(openPostgresStore('postgres://me:hunter2@127.0.0.1/x'), (err: Error) => {
      assert.match(err.message, /carries a password/);
      assert.doesNotMatch(err.message + String((err as UserError).hint), /hunter2/);
      return true;
    });
    await assert.rejects(
      openPostgresStore('postgres://postgres@127.0.0.1:1/x'),
      /cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/x/,
    );
  });

  test('10k slot claims in batches of 1000 and 1000 refused duplicates: prints the rate', async () => {
    await a.insertJob(job('perf-pg', 'perf'));
    const n = 10_000;
    const t0 = performance.now();
    let claimed = 0;
    for (let s = 0; s < n; s += 1000) {
      const writes = Array.from({ length: 1000 }, (_, i) => ({
        kind: 'claim' as const,
        run: run('perf-pg', T0 + (s + i) * 1000),
      }));
      claimed += (await a.writeBatch(writes)).filter(Boolean).length;
    }
    const ms = performance.now() - t0;
    console.log(`postgres store: ${n} claims in batches of 1000 in ${ms.toFixed(0)} ms`);
    assert.equal(claimed, n);
    const dup = Array.from({ length: 1000 }, (_, i) => ({
      kind: 'claim' as const,
      run: run('perf-pg', T0 + i * 1000, { runId: `dup-${i}` }),
    }));
    assert.equal((await b.writeBatch(dup)).filter(Boolean).length, 0);
  });

  test('two stores claiming the same 1000 slots at once: each slot is won exactly once', async () => {
    await a.insertJob(job('race', 'race'));
    const batch = (who: string) =>
      Array.from({ length: 1000 }, (_, i) => ({
        kind: 'claim' as const,
        run: run('race', T0 + i * 1000, { runId: `${who}-${i}` }),
      }));
    const [ra, rb] = await Promise.all([a.writeBatch(batch('a')), b.writeBatch(batch('b'))]);
    for (let i = 0; i < 1000; i++) assert.equal(Number(ra[i]) + Number(rb[i]), 1, `slot ${i}`);
    assert.equal((await a.listRuns({ jobId: 'race', limit: 0 })).total, 1000);
  });
});

test('daemons whose batches touch the same jobs in different orders never deadlock', async () => {
  const own = await createTestDatabase();
  const stores = await Promise.all([0, 1, 2].map(() => openPostgresStore(own.url)));
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `j-${String(i).padStart(2, '0')}`);
    for (const id of ids) await stores[0]!.insertJob(job(id, id));
    for (let round = 0; round < 15; round++) {
      // As the engine issues them: a claim, a state patch, a finish, another patch, per job,
      // each daemon going through the jobs in its own order.
      const batches = stores.map((_, d) => {
        const order = d === 1 ? [...ids].reverse() : d === 2 ? [...ids.slice(10), ...ids.slice(0, 10)] : ids;
        return order.flatMap((id) => {
          const r = run(id, T0 + round * 1000, { runId: `${id}-${round}-${d}`, attempt: d + 1 });
          return [
            { kind: 'claim' as const, run: r },
            { kind: 'patchState' as const, jobId: id, patch: { runningAtMs: T0 + round } },
            {
              kind: 'finish' as const,
              runId: r.runId,
              finish: { status: 'ok' as const, finishedAtMs: T0 + round },
            },
          ];
        });
      });
      const results = await Promise.all(stores.map((s, d) => s.writeBatch(batches[d]!)));
      for (const r of results) assert.ok(r.every(Boolean), 'every write of every batch applied');
    }
  } finally {
    // Closing the connections flushes their statistics.
    await Promise.all(stores.map((s) => s.close()));
  }
  const admin = new pg.Client({ connectionString: own.url });
  await admin.connect();
  try {
    await new Promise((r) => setTimeout(r, 500));
    const res = await admin.query<{ deadlocks: string }>(
      'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()',
    );
    assert.equal(Number(res.rows[0]!.deadlocks), 0, 'PostgreSQL detected no deadlock');
  } finally {
    await admin.end();
    await own.drop();
  }
});

test('a daemon saying goodbye records its runs whose end it could not write as interrupted', async () => {
  const own = await createTestDatabase();
  const store = await openPostgresStore(own.url);
  try {
    const cluster = store.cluster!;
    await cluster.register({ host: 'h', pid: 1, version: 'v', nowMs: T0, leaseMs: 10_000 });
    await store.insertJob(job('g-1', 'g-1'));
    assert.equal(await store.claimRun(run('g-1', T0)), true);
    assert.equal(
      await store.claimRun(run('g-1', T0 + 1000, { status: 'ok', finishedAtMs: T0 + 1005 })),
      true,
    );
    assert.equal(await cluster.deregister(T0 + 2000, 'interrupted: its daemon stopped first'), 1);
    const runs = (await store.listRuns({ jobId: 'g-1' })).entries;
    assert.deepEqual(
      runs.map((r) => [r.status, r.error]),
      [
        ['ok', undefined],
        ['interrupted', 'interrupted: its daemon stopped first'],
      ],
    );
    assert.deepEqual(await store.unfinishedRuns(), []);
    assert.equal((await cluster.daemons())[0]?.state, 'stopped');
  } finally {
    await store.close();
    await own.drop();
  }
});
