/**
 * Several engines on one PostgreSQL store, each with its own clock (a frozen clock is a paused
 * daemon): every slot runs once, a dead daemon's run is taken over after its lease and retried
 * per policy, the paused daemon cannot record over it, and pinned jobs run on their host only.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/domain/clock.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import type { EngineEvent } from '../../src/scheduler/engine.ts';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import type { Store } from '../../src/store/store.ts';
import { joinCluster } from '../../src/app/cluster.ts';
import type { ClusterMember } from '../../src/app/cluster.ts';
import type { MembershipEvent } from '../../src/scheduler/membership.ts';
import { DEFAULT_LEASE } from '../../src/scheduler/membership.ts';
import { createTestDatabase } from '../store/pg-database.ts';
import type { TestDatabase } from '../store/pg-database.ts';
import { makeJob, MIN, SEC, ScriptedExecutor, T0 } from './harness.ts';

interface Daemon {
  host: string;
  clock: ManualClock;
  store: Store;
  exec: ScriptedExecutor;
  engine: Engine;
  member: ClusterMember;
  events: Array<EngineEvent | MembershipEvent>;
}

/**
 * Lets the queries of what the clock just fired finish (database I/O, not schedule time; idle()
 * cannot be awaited while a held payload runs).
 */
async function settle(_daemons: Daemon[]): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 40));
}

describe('several daemons on one PostgreSQL store', () => {
  let db: TestDatabase;
  const dbs: TestDatabase[] = [];
  const started: Daemon[] = [];

  /** Each test gets its own database. */
  async function fresh(): Promise<void> {
    db = await createTestDatabase('ns_cluster');
    dbs.push(db);
  }

  async function daemon(host: string, atMs: number): Promise<Daemon> {
    const clock = new ManualClock(atMs);
    const store = await openPostgresStore(db.url);
    const exec = new ScriptedExecutor();
    const events: Daemon['events'] = [];
    const gate: { refusal?: () => string | undefined } = {};
    const engine = new Engine({
      store,
      clock,
      executors: [exec],
      log: (e) => events.push(e),
      random: () => 0.5,
      changePollMs: 0,
      claimLead: { minMs: 10, maxMs: 10 },
      host,
      startRefusal: () => gate.refusal?.(),
    });
    const member = await joinCluster({
      cluster: store.cluster!,
      store,
      engine,
      clock,
      host,
      version: 'test',
      log: (e) => events.push(e),
    });
    gate.refusal = () => member.startRefusal();
    await engine.start();
    const d = { host, clock, store, exec, engine, member, events };
    started.push(d);
    return d;
  }

  after(async () => {
    for (const d of started) {
      for (const c of d.exec.calls) c.release({ status: 'interrupted' });
      await d.engine.stop();
      await d.member.stop();
      await d.store.close();
    }
    for (const x of dbs) await x.drop();
  });

  test('two daemons firing a job every second: each slot runs exactly once', async () => {
    await fresh();
    const setup = await openPostgresStore(db.url);
    await setup.insertJob(
      makeJob('every-sec', { schedule: { kind: 'every', everyMs: SEC }, createdAtMs: T0, updatedAtMs: T0 }),
    );
    await setup.close();
    const a = await daemon('host-a', T0);
    const b = await daemon('host-b', T0);
    for (let t = T0 + SEC; t <= T0 + 20 * SEC; t += SEC) {
      await Promise.all([a.clock.advanceTo(t), b.clock.advanceTo(t)]);
      await settle([a, b]);
    }
    const slots = [...a.exec.slots(), ...b.exec.slots()].sort();
    assert.equal(new Set(slots).size, slots.length, 'no slot ran twice');
    assert.deepEqual(
      slots,
      Array.from({ length: 20 }, (_, i) => T0 + (i + 1) * SEC),
    );
    const daemons = await a.store.cluster!.daemons();
    assert.deepEqual(
      daemons
        .filter((x) => x.state === 'alive')
        .map((x) => x.host)
        .sort(),
      ['host-a', 'host-b'],
    );
    await setup.close().catch(() => undefined);
    for (const d of [a, b]) {
      await d.engine.stop();
      await d.member.stop();
    }
    assert.deepEqual(
      (await a.store.cluster!.daemons()).map((x) => x.state),
      ['stopped', 'stopped'],
      'a daemon that stops says goodbye',
    );
  });

  test("a paused daemon's run is taken over after its lease, retried elsewhere, and the paused daemon cannot record over it", async () => {
    await fresh();
    const start = T0 + HOUR_OFFSET;
    const setup = await openPostgresStore(db.url);
    await setup.insertJob(
      makeJob('backup', {
        schedule: { kind: 'every', everyMs: MIN },
        policy: { retries: 1, retryBackoffMs: [2 * SEC] },
        createdAtMs: start,
        updatedAtMs: start,
      }),
    );
    await setup.close();
    const a = await daemon('host-a', start);
    a.exec.auto = undefined; // a's run hangs until released
    // A live daemon's clock moves in steps, heartbeats renewing its lease as they come.
    for (let t = start + SEC; t <= start + MIN; t += SEC) {
      await a.clock.advanceTo(t);
      await settle([a]);
    }
    assert.equal(a.exec.held().length, 1, 'a runs the slot');
    const slot = start + MIN;

    // b joins; a is frozen (SIGSTOP): its lease runs out and b takes the run over.
    const b = await daemon('host-b', start + MIN);
    const takeover = start + MIN + DEFAULT_LEASE.leaseMs + 2 * DEFAULT_LEASE.heartbeatMs;
    for (let t = start + MIN + SEC; t <= takeover; t += SEC) {
      await b.clock.advanceTo(t);
      await settle([b]);
    }
    const runs = (await b.store.listRuns({ jobId: 'backup' })).entries.reverse();
    assert.equal(runs[0]?.status, 'interrupted');
    assert.match(runs[0]?.error ?? '', /stopped renewing its lease/);
    assert.ok(b.events.some((e) => e.event === 'cluster.takeover'));
    // The retry (attempt 2 of the same slot) runs on b after its backoff.
    for (let t = takeover + SEC; t <= takeover + 4 * SEC; t += SEC) {
      await b.clock.advanceTo(t);
      await settle([b]);
    }
    assert.deepEqual(
      b.exec.calls.map((c) => [c.ctx.slotMs, c.ctx.attempt]),
      [[slot, 2]],
      'the slot is retried once, on b',
    );

    // a wakes up (SIGCONT): its payload reports ok, but the record stays b's.
    a.exec.held()[0]!.release({ status: 'ok' });
    await settle([a]);
    assert.equal(
      (await b.store.getRun(runs[0]!.runId))?.status,
      'interrupted',
      'fenced: no write over the takeover',
    );
    await a.clock.advanceTo(start + MIN + DEFAULT_LEASE.heartbeatMs);
    await settle([a, b]);
    await settle([a, b]);
    assert.ok(
      a.events.some((e) => e.event === 'cluster.lease-lost'),
      'a learns it was taken over',
    );
    const joined = a.events.filter((e) => e.event === 'cluster.joined');
    assert.equal(joined.length, 2, 'and joins again under a new generation');
    const states = await a.store.cluster!.daemons();
    assert.ok(states.some((d) => d.host === 'host-a' && d.state === 'expired'));
    assert.equal(states.filter((d) => d.host === 'host-a' && d.state === 'alive').length, 1);
    const attempts = (await b.store.listRuns({ jobId: 'backup' })).entries.filter((r) => r.slotMs === slot);
    assert.deepEqual(attempts.map((r) => r.attempt).sort(), [1, 2], 'one record per attempt');
    for (const d of [a, b]) {
      await d.engine.stop();
      await d.member.stop();
    }
  });

  test('a job pinned to a host runs only on that host', async () => {
    await fresh();
    const start = T0 + 2 * HOUR_OFFSET;
    const setup = await openPostgresStore(db.url);
    await setup.insertJob(
      makeJob('pinned', {
        schedule: { kind: 'every', everyMs: SEC },
        onHost: 'host-b',
        createdAtMs: start,
        updatedAtMs: start,
      }),
    );
    await setup.close();
    const a = await daemon('host-a', start);
    const b = await daemon('host-b', start);
    for (let t = start + SEC; t <= start + 5 * SEC; t += SEC) {
      await Promise.all([a.clock.advanceTo(t), b.clock.advanceTo(t)]);
      await settle([a, b]);
    }
    assert.equal(a.exec.calls.filter((c) => c.ctx.job.id === 'pinned').length, 0);
    assert.equal(b.exec.calls.filter((c) => c.ctx.job.id === 'pinned').length, 5);
  });
});

const HOUR_OFFSET = 3_600_000;
