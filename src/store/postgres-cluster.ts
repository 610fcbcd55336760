/**
 * Daemon membership on PostgreSQL (the ClusterStore port): the `daemons` table, leases renewed by
 * heartbeats, and takeover of an expired daemon's runs.
 *
 * A run's lease is its owner's: `runs.owner` names a daemon generation, and that daemon's
 * `lease_until_ms` says until when the run is held. Renewing one row per daemon keeps heartbeats
 * cheap however many runs are in flight. Takeover is one transaction: the expired daemon's row
 * is marked `expired` (its generation can never renew again, which is the fence), its running
 * runs are finished `interrupted`, and its queued runs are released to anyone. Two daemons
 * taking over at once serialize on the daemon row; one gets the runs.
 */
import type pg from 'pg';
import type { Selectable } from 'kysely';
import type { Run } from '../domain/job.ts';
import type { ClusterStore, DaemonRecord } from './store.ts';
import type { PgDaemonsTable, PgRunsTable } from './postgres-schema.ts';
import { toRun } from './postgres-rows.ts';

/** The generation a store writes runs as (shared with the store; null: not a registered daemon). */
export interface Owner {
  gen: number | null;
}

export class PostgresCluster implements ClusterStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly owner: Owner,
    private readonly notify: () => Promise<void>,
  ) {}

  async register(d: {
    host: string;
    pid: number;
    version: string;
    nowMs: number;
    leaseMs: number;
  }): Promise<DaemonRecord> {
    const res = await this.pool.query<DaemonRow>(
      `INSERT INTO daemons (host, pid, version, started_at_ms, heartbeat_at_ms, lease_until_ms, runs_in_flight, state)
       VALUES ($1, $2, $3, $4, $4, $5, 0, 'alive') RETURNING *`,
      [d.host, d.pid, d.version, d.nowMs, d.nowMs + d.leaseMs],
    );
    const row = res.rows[0]!;
    this.owner.gen = row.gen;
    return toDaemon(row);
  }

  async heartbeat(nowMs: number, leaseMs: number, runsInFlight: number): Promise<boolean> {
    if (this.owner.gen === null) return false;
    const res = await this.pool.query(
      `UPDATE daemons SET heartbeat_at_ms = $2, lease_until_ms = greatest(lease_until_ms, $3), runs_in_flight = $4
        WHERE gen = $1 AND state = 'alive'`,
      [this.owner.gen, nowMs, nowMs + leaseMs, runsInFlight],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async takeOver(nowMs: number, reason: string): Promise<Array<{ run: Run; host: string }>> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const expired = await c.query<{ gen: number; host: string }>(
        `UPDATE daemons SET state = 'expired', taken_over_by = $2, taken_over_at_ms = $1
          WHERE gen IN (SELECT gen FROM daemons WHERE state = 'alive' AND lease_until_ms < $1
                        ORDER BY gen FOR UPDATE SKIP LOCKED)
          RETURNING gen, host`,
        [nowMs, this.owner.gen],
      );
      if (expired.rows.length === 0) {
        await c.query('COMMIT');
        return [];
      }
      const gens = expired.rows.map((r) => r.gen);
      const hostOf = new Map(expired.rows.map((r) => [r.gen, r.host]));
      const runs = await c.query<PgRunsTable & { prev_owner: number }>(
        `UPDATE runs SET status = 'interrupted', finished_at_ms = $2,
            duration_ms = CASE WHEN started_at_ms IS NULL THEN NULL ELSE $2 - started_at_ms END,
            error = CASE WHEN started_at_ms IS NULL AND pid IS NULL
              THEN $3 || ' before the run''s start was recorded'
              ELSE $3 || ' while running' || coalesce(' (pid ' || pid || ')', '') END
          WHERE status = 'running' AND (owner = ANY($1::bigint[])
            OR owner IN (SELECT gen FROM daemons WHERE state = 'stopped'))
          RETURNING *, owner AS prev_owner`,
        [gens, nowMs, reason],
      );
      await c.query(`UPDATE runs SET owner = NULL WHERE owner = ANY($1::bigint[]) AND status = 'queued'`, [
        gens,
      ]);
      await c.query('COMMIT');
      await this.notify();
      return runs.rows.map((row) => ({ run: toRun(row), host: hostOf.get(row.prev_owner) ?? '' }));
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async daemons(): Promise<DaemonRecord[]> {
    const res = await this.pool.query<DaemonRow>(
      `SELECT * FROM daemons ORDER BY (state = 'alive') DESC, host, gen DESC LIMIT 200`,
    );
    return res.rows.map(toDaemon);
  }

  async deregister(nowMs: number, reason: string): Promise<number> {
    if (this.owner.gen === null) return 0;
    const gen = this.owner.gen;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `UPDATE daemons SET state = 'stopped', heartbeat_at_ms = $2, runs_in_flight = 0
          WHERE gen = $1 AND state = 'alive'`,
        [gen, nowMs],
      );
      // Runs whose end could not be recorded (a write that failed): nobody would take them over.
      const ended = await c.query(
        `UPDATE runs SET status = 'interrupted', finished_at_ms = $2,
            duration_ms = CASE WHEN started_at_ms IS NULL THEN NULL ELSE $2 - started_at_ms END,
            error = $3
          WHERE status = 'running' AND owner = $1`,
        [gen, nowMs, reason],
      );
      await c.query(`UPDATE runs SET owner = NULL WHERE owner = $1 AND status = 'queued'`, [gen]);
      await c.query('COMMIT');
      this.owner.gen = null;
      return ended.rowCount ?? 0;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
}

type DaemonRow = Selectable<PgDaemonsTable>;

function toDaemon(row: DaemonRow): DaemonRecord {
  return {
    gen: row.gen,
    host: row.host,
    pid: row.pid,
    version: row.version,
    startedAtMs: row.started_at_ms,
    heartbeatAtMs: row.heartbeat_at_ms,
    leaseUntilMs: row.lease_until_ms,
    runsInFlight: row.runs_in_flight,
    state: row.state as DaemonRecord['state'],
  };
}
