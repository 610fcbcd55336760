/**
 * nightshift on PostgreSQL: `daemons` engines (each with its own store connection, lease and
 * heartbeat, as separate daemons would have) in this process, on a fresh database. Every slot is
 * claimed by exactly one of them; the in-process executor only records when it was called.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { SystemClock } from '../../../src/domain/clock.ts';
import { buildJob } from '../../../src/domain/job-validation.ts';
import type { CommandPayload, Schedule } from '../../../src/domain/job.ts';
import type { Executor } from '../../../src/payloads/executor.ts';
import { Engine } from '../../../src/scheduler/engine.ts';
import pg from 'pg';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import { fromJob } from '../../../src/store/postgres-rows.ts';
import type { Store } from '../../../src/store/store.ts';
import { joinCluster } from '../../../src/app/cluster.ts';
import type { ClusterMember } from '../../../src/app/cluster.ts';
import type { BenchSystem } from './system.ts';
import { idleCron } from './system.ts';
import { benchDatabase } from './pg-database.ts';

function trace(what: string): void {
  if (process.env.NIGHTSHIFT_BENCH_LOG) process.stderr.write(`${new Date().toISOString()} ${what}\n`);
}

export function nightshiftPgSystem(daemons: number): BenchSystem {
  let db: { url: string; drop(): Promise<void> } | undefined;
  const parts: Array<{ store: Store; engine: Engine; member: ClusterMember }> = [];

  async function start(
    n: number,
    schedule: (i: number) => Schedule,
    executor: Executor<CommandPayload>,
  ): Promise<void> {
    db = await benchDatabase();
    // Creates the schema.
    const setup = await openPostgresStore(db.url);
    await setup.close();
    const clock = new SystemClock();
    for (let d = 0; d < daemons; d++) {
      const store = await openPostgresStore(db.url);
      const gate: { refusal?: () => string | undefined } = {};
      const engine = new Engine({
        store,
        clock,
        executors: [executor],
        host: hostname(),
        startRefusal: () => gate.refusal?.(),
        log: (e) => {
          if (process.env.NIGHTSHIFT_BENCH_LOG && (e.event === 'engine.error' || e.event === 'run.missed'))
            process.stderr.write(`daemon ${d}: ${JSON.stringify(e)}\n`);
        },
      });
      const member = await joinCluster({
        cluster: store.cluster!,
        store,
        engine,
        clock,
        host: hostname(),
        version: 'bench',
        // NIGHTSHIFT_BENCH_LOG=1: membership events and engine errors on stderr (why slots went unrun).
        log: (e) => {
          if (
            process.env.NIGHTSHIFT_BENCH_LOG &&
            (e.event.startsWith('cluster.') || e.event === 'engine.error')
          )
            process.stderr.write(`daemon ${d}: ${JSON.stringify(e)}\n`);
        },
      });
      gate.refusal = () => member.startRefusal();
      parts.push({ store, engine, member });
    }
    await Promise.all(parts.map((p) => p.engine.start()));
    trace('engines started');
    // The jobs are added to the running daemons, as one multi-row INSERT (1,000 inserts one by
    // one, each announced to every listener, took longer than the harness allows on a loaded
    // machine). Added before the daemons start, the slots that passed while they started came
    // due at once as catch-up, which three daemons then raced to record for a minute or more.
    const now = Date.now();
    const rows = Array.from({ length: n }, (_, i) =>
      fromJob(
        buildJob(
          { name: `bench-${i}`, schedule: schedule(i), payload: { kind: 'command', argv: ['true'] } },
          now,
          randomUUID,
        ),
      ),
    );
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO jobs (id, name, enabled, data, state, on_host, created_at_ms, updated_at_ms)
         SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::jsonb[], $6::text[],
                              $7::bigint[], $8::bigint[])`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.name),
          rows.map((r) => r.enabled),
          rows.map((r) => r.data),
          rows.map((r) => r.state),
          rows.map((r) => r.on_host),
          rows.map((r) => r.created_at_ms),
          rows.map((r) => r.updated_at_ms),
        ],
      );
    } finally {
      await client.end();
    }
    await Promise.all(parts.map((p) => p.engine.refresh()));
    trace('jobs added');
  }

  return {
    name: daemons === 1 ? 'nightshift-pg' : `nightshift-pg${daemons}`,
    async startFiring(n, hooks) {
      const anchorMs = Math.ceil(Date.now() / 1000) * 1000;
      await start(n, () => ({ kind: 'every', everyMs: 1000, anchorMs }), {
        kind: 'command',
        async execute(_payload, ctx) {
          hooks.onFire(ctx.slotMs, Date.now());
          return { status: 'ok' };
        },
      });
    },
    async startIdle(n) {
      const now = Date.now();
      await start(n, (i) => ({ kind: 'cron', expr: idleCron(i, now), tz: 'UTC' }), {
        kind: 'command',
        async execute() {
          return { status: 'ok' };
        },
      });
    },
    async stop() {
      for (const p of parts) {
        await p.engine.stop();
        await p.member.stop();
        await p.store.close();
      }
      await db?.drop();
    },
  };
}
