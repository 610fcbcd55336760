/**
 * The PostgreSQL store: the same port as SQLite, for several daemons (on several hosts) sharing
 * one database. PostgreSQL itself coordinates them: the unique (job, slot, attempt) key decides
 * which daemon fires a slot, an UPDATE ... WHERE status = 'queued' which one takes a queued run,
 * row ownership plus leases (postgres-cluster.ts) fence a daemon that was paused or cut off, and
 * LISTEN/NOTIFY carries edits to every daemon without polling the tables.
 *
 *   openPostgresStore('postgres://user@host/db?schema=nightshift', { password? })
 *
 * writeBatch turns a batch into few statements: consecutive writes of one kind go as one
 * multi-row statement over unnest() arrays (1,000 claims are one INSERT, not 1,000 round trips),
 * all in one transaction. Rows are locked in key order; a deadlock with another daemon's batch
 * (possible when both touch the same jobs) is retried.
 */
import { createRequire } from 'node:module';
import pg from 'pg';
import type * as KyselyModule from 'kysely';
import type { Kysely as KyselyDb } from 'kysely';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job, JobState, Run, RunDetails, RunStatus } from '../domain/job.ts';
import { StoreConflictError } from './store.ts';
import type { RunCount, RunCountQuery, RunFinish, RunPage, RunQuery, Store, StoreWrite } from './store.ts';
import { migratePg, PG_RUN_COLUMNS } from './postgres-schema.ts';
import type { PgSchema } from './postgres-schema.ts';
import { fromJob, fromRun, toJob, toRun } from './postgres-rows.ts';
import { KyselyAlertStateStore, KyselyProfileStore, KyselySessionStore } from './kysely-substores.ts';
import type { SubstoreSchema } from './kysely-substores.ts';
import { PostgresCluster } from './postgres-cluster.ts';
import type { Owner } from './postgres-cluster.ts';
import { parsePostgresUrl } from './postgres-url.ts';

const { Kysely, PostgresDialect, sql } = createRequire(import.meta.url)('kysely') as typeof KyselyModule;

export interface PostgresStoreOptions {
  /** The password, resolved from its secret reference by the caller (never part of the URL on disk). */
  password?: string;
  /** Connections in the pool (default 4). */
  poolSize?: number;
}

/** The channel change notices go out on; the payload is the schema, so clusters in other schemas ignore them. */
export const CHANGE_CHANNEL = 'nightshift_changes';

const UNFINISHED: RunStatus[] = ['queued', 'running'];
const DEADLOCK_RETRIES = 8;

// int8 (counts, milliseconds) as JS numbers: every value stored fits in 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const target = parsePostgresUrl(url);
  const poolConfig: pg.PoolConfig = {
    ...target.config,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    types,
    options: `-c search_path=${target.schema}`,
  };
  const pool = new pg.Pool({ ...poolConfig, max: opts.poolSize ?? 4 });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new UserError(`cannot connect to PostgreSQL at ${target.display}: ${(err as Error).message}`, {
      hint: 'check the --store URL (or "store" in config.json), that the server runs, and the password reference',
      code: 'store_unreachable',
    });
  }
  try {
    await migratePg(client, target.schema, target.display);
  } catch (err) {
    client.release();
    await pool.end().catch(() => undefined);
    throw err;
  }
  client.release();
  // Heartbeats and takeovers get connections of their own: queued behind a busy second's writes,
  // a heartbeat could come too late and cost the daemon its lease.
  const clusterPool = new pg.Pool({ ...poolConfig, max: 2 });
  clusterPool.on('error', () => undefined);
  return new PostgresStore(pool, clusterPool, target.schema, target.config, opts.password);
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '40P01' || code === '40001';
}

class PostgresStore implements Store {
  private readonly k: KyselyDb<PgSchema>;
  readonly profiles: KyselyProfileStore;
  readonly sessions: KyselySessionStore;
  readonly alertState: KyselyAlertStateStore;
  readonly cluster: PostgresCluster;
  /** This store's daemon registration: its runs' owner (null until registered, e.g. in the CLI). */
  private readonly owner: Owner = { gen: null };
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private changes = 0;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clusterPool: pg.Pool,
    private readonly schema: string,
    private readonly connection: pg.ClientConfig,
    private readonly password: string | undefined,
  ) {
    this.k = new Kysely<PgSchema>({ dialect: new PostgresDialect({ pool }) });
    const sub = this.k as unknown as KyselyDb<SubstoreSchema>;
    this.profiles = new KyselyProfileStore(sub, isUniqueViolation);
    this.sessions = new KyselySessionStore(sub);
    this.alertState = new KyselyAlertStateStore(sub);
    this.cluster = new PostgresCluster(clusterPool, this.owner, () => this.notify(clusterPool));
  }

  /** Tells every daemon (and this one) that jobs or queued runs changed. */
  private async notify(db: pg.Pool | pg.PoolClient = this.pool): Promise<void> {
    await db.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, this.schema]);
  }

  async listJobs(): Promise<Job[]> {
    const rows = await this.k.selectFrom('jobs').selectAll().orderBy('name').execute();
    return rows.map(toJob);
  }

  async findJob(idOrName: string): Promise<Job | undefined> {
    const rows = await this.k
      .selectFrom('jobs')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .execute();
    const row = rows.find((r) => r.id === idOrName) ?? rows[0];
    return row ? toJob(row) : undefined;
  }

  async insertJob(job: Job): Promise<void> {
    try {
      await this.k.insertInto('jobs').values(fromJob(job)).execute();
    } catch (err) {
      throw jobConflict(err, job);
    }
    await this.notify();
  }

  async updateJob(job: Job): Promise<void> {
    const row = fromJob(job);
    let res;
    try {
      res = await this.k
        .updateTable('jobs')
        .set({
          name: row.name,
          enabled: row.enabled,
          data: row.data,
          state: row.state,
          on_host: row.on_host,
          created_at_ms: row.created_at_ms,
          updated_at_ms: row.updated_at_ms,
        })
        .where('id', '=', job.id)
        .executeTakeFirst();
    } catch (err) {
      throw jobConflict(err, job);
    }
    if (res.numUpdatedRows === 0n) throw noSuchJob(job.id);
    await this.notify();
  }

  async patchJobState(jobId: string, patch: Partial<JobState>): Promise<void> {
    const res = await this.pool.query(PATCH_STATE_SQL, [[jobId], [JSON.stringify(mergePatch(patch))]]);
    if (res.rowCount === 0) throw noSuchJob(jobId);
  }

  async deleteJob(jobId: string, opts: { keepRuns?: boolean } = {}): Promise<boolean> {
    const removed = await this.transaction(async (c) => {
      if (!opts.keepRuns) await c.query('DELETE FROM runs WHERE job_id = $1', [jobId]);
      const res = await c.query('DELETE FROM jobs WHERE id = $1', [jobId]);
      if ((res.rowCount ?? 0) > 0) await this.notify(c);
      return (res.rowCount ?? 0) > 0;
    });
    return removed;
  }

  async pruneOrphanRuns(olderThanMs: number): Promise<number> {
    const res = await this.pool.query(
      `DELETE FROM runs r WHERE status NOT IN ('queued', 'running')
         AND coalesce(finished_at_ms, slot_ms) < $1
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id)`,
      [olderThanMs],
    );
    return res.rowCount ?? 0;
  }

  async claimRun(run: Run): Promise<boolean> {
    const [ok] = await this.writeBatch([{ kind: 'claim', run }]);
    // A run queued outside an engine's batch (a manual run from the CLI): every daemon hears of it.
    if (ok && run.status === 'queued') await this.notify();
    return ok === true;
  }

  async startRun(runId: string, startedAtMs: number, pid?: number): Promise<void> {
    await this.pool.query(
      `UPDATE runs SET status = 'running', started_at_ms = $1, pid = coalesce($2, pid)
        WHERE run_id = $3 AND status IN ('queued', 'running') AND ${FENCE}`,
      [startedAtMs, pid ?? null, runId, this.owner.gen],
    );
  }

  async takeRun(runId: string, startedAtMs: number): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE runs SET status = 'running', started_at_ms = $1, owner = $3
        WHERE run_id = $2 AND status = 'queued' AND ${ALIVE(3)}`,
      [startedAtMs, runId, this.owner.gen],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async finishRun(runId: string, finish: RunFinish): Promise<void> {
    await this.writeBatch([{ kind: 'finish', runId, finish }]);
  }

  async addRunDetails(runId: string, details: Partial<RunDetails>): Promise<void> {
    await this.pool.query(
      `UPDATE runs SET details = (coalesce(details, '{}')::jsonb || $1::jsonb)::text WHERE run_id = $2`,
      [JSON.stringify(details), runId],
    );
  }

  async getRun(runId: string): Promise<Run | undefined> {
    const row = await this.k.selectFrom('runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    let base = this.k.selectFrom('runs');
    if (query.jobId !== undefined) base = base.where('job_id', '=', query.jobId);
    if (query.status !== undefined) base = base.where('status', '=', query.status);
    const after = query.after;
    const offset = after ? 0 : Math.max(0, query.offset ?? 0);
    let page = base
      .selectAll()
      .orderBy('slot_ms', 'desc')
      .orderBy('attempt', 'desc')
      .orderBy('run_id', 'desc')
      .offset(offset);
    if (after)
      page = page.where((eb) =>
        eb(
          eb.refTuple('slot_ms', 'attempt', 'run_id'),
          '<',
          eb.tuple(after.slotMs, after.attempt, after.runId),
        ),
      );
    // One more than asked for tells whether there is a next page.
    const limit = query.limit !== undefined ? Math.max(0, query.limit) : undefined;
    if (limit !== undefined) page = page.limit(limit + 1);
    const [rows, count] = await Promise.all([
      page.execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const hasMore = limit !== undefined && rows.length > limit;
    return { entries: (hasMore ? rows.slice(0, limit) : rows).map(toRun), total: Number(count.n), hasMore };
  }

  async countRuns(query: RunCountQuery): Promise<RunCount[]> {
    if (query.jobIds.length === 0) return [];
    const bucket = sql<number>`((slot_ms - ${query.fromMs}) / ${query.bucketMs})::int8`;
    const rows = await this.k
      .selectFrom('runs')
      .select(['job_id', 'status'])
      .select(bucket.as('bucket'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('job_id', 'in', query.jobIds)
      .where('slot_ms', '>=', query.fromMs)
      .where('slot_ms', '<', query.toMs)
      .groupBy(['job_id', sql`3`, 'status'])
      .execute();
    return rows.map((r) => ({
      jobId: r.job_id,
      bucket: Number(r.bucket),
      status: r.status as RunStatus,
      count: Number(r.n),
    }));
  }

  async unfinishedRuns(): Promise<Run[]> {
    const rows = await this.k
      .selectFrom('runs')
      .selectAll()
      .where('status', 'in', UNFINISHED)
      .orderBy('slot_ms', 'asc')
      .orderBy('attempt', 'asc')
      .execute();
    return rows.map(toRun);
  }

  async lastSlotMs(jobId: string): Promise<number | undefined> {
    const res = await this.pool.query<{ m: number | null }>(
      `SELECT max(slot_ms) AS m FROM runs WHERE job_id = $1 AND trigger <> 'manual'`,
      [jobId],
    );
    return res.rows[0]?.m ?? undefined;
  }

  async lastSlotsMs(jobIds: string[]): Promise<Map<string, number>> {
    if (jobIds.length === 0) return new Map();
    const res = await this.pool.query<{ job_id: string; m: number }>(
      `SELECT job_id, max(slot_ms) AS m FROM runs WHERE job_id = ANY($1::text[]) AND trigger <> 'manual'
        GROUP BY job_id`,
      [jobIds],
    );
    return new Map(res.rows.map((r) => [r.job_id, r.m]));
  }

  async pruneRuns(jobId: string, keep: { maxRuns: number; olderThanMs: number }): Promise<number> {
    const res = await this.pool.query(PRUNE_SQL, [jobId, keep.olderThanMs, Math.max(0, keep.maxRuns)]);
    return res.rowCount ?? 0;
  }

  async writeBatch(writes: StoreWrite[]): Promise<boolean[]> {
    if (writes.length === 0) return [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((c) => this.applyBatch(c, writes));
      } catch (err) {
        if (!isRetryable(err) || attempt >= DEADLOCK_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }

  /**
   * Consecutive writes of one kind (touching distinct rows) become one statement. The batch is
   * first put in one lock order every daemon shares (LOCK_ORDER; prunes by job): the engine
   * interleaves claims, finishes and job-state patches, and two daemons locking the same jobs'
   * rows in different orders deadlocked on every busy second (each deadlock costs PostgreSQL's
   * deadlock_timeout and a retry, and a batch out of retries left its runs `running`).
   */
  private async applyBatch(c: pg.PoolClient, original: StoreWrite[]): Promise<boolean[]> {
    const order = original.map((_, n) => n).sort((a, b) => lockOrder(original[a]!, original[b]!) || a - b);
    const writes = order.map((n) => original[n]!);
    const sorted = await this.applySorted(c, writes);
    const results: boolean[] = new Array<boolean>(original.length).fill(false);
    order.forEach((n, at) => (results[n] = sorted[at]!));
    return results;
  }

  private async applySorted(c: pg.PoolClient, writes: StoreWrite[]): Promise<boolean[]> {
    const results: boolean[] = new Array<boolean>(writes.length).fill(false);
    let i = 0;
    while (i < writes.length) {
      const kind = writes[i]!.kind;
      const keys = new Set<string>();
      let j = i;
      while (j < writes.length && writes[j]!.kind === kind && !keys.has(keyOf(writes[j]!))) {
        keys.add(keyOf(writes[j]!));
        j++;
      }
      const group = writes.slice(i, j);
      const done = await this.applyGroup(c, kind, group);
      group.forEach((w, n) => (results[i + n] = done.has(w.kind === 'claim' ? w.run.runId : keyOf(w))));
      i = j;
    }
    return results;
  }

  private async applyGroup(
    c: pg.PoolClient,
    kind: StoreWrite['kind'],
    group: StoreWrite[],
  ): Promise<Set<string>> {
    const gen = this.owner.gen;
    const rows = async (text: string, params: unknown[], column: string): Promise<Set<string>> => {
      const res = await c.query<Record<string, string>>(text, params);
      return new Set(res.rows.map((r) => String(r[column])));
    };
    switch (kind) {
      case 'claim': {
        const runs = group.map((w) => (w as Extract<StoreWrite, { kind: 'claim' }>).run);
        return rows(CLAIM_SQL, claimArrays(runs, gen), 'run_id');
      }
      case 'finish': {
        const fs = group as Extract<StoreWrite, { kind: 'finish' }>[];
        return rows(
          FINISH_SQL,
          [
            fs.map((w) => w.runId),
            fs.map((w) => w.finish.status),
            fs.map((w) => w.finish.error ?? null),
            fs.map((w) => w.finish.finishedAtMs),
            fs.map((w) => w.finish.exitCode ?? null),
            fs.map((w) => w.finish.signal ?? null),
            fs.map((w) => w.finish.outputTail ?? null),
            fs.map((w) => (w.finish.evidence ? JSON.stringify(w.finish.evidence) : null)),
            fs.map((w) => (w.finish.details ? JSON.stringify(w.finish.details) : null)),
            gen,
          ],
          'run_id',
        );
      }
      case 'patchState': {
        const ps = group as Extract<StoreWrite, { kind: 'patchState' }>[];
        return rows(
          PATCH_STATE_SQL,
          [ps.map((w) => w.jobId), ps.map((w) => JSON.stringify(mergePatch(w.patch)))],
          'id',
        );
      }
      case 'start': {
        const ss = group as Extract<StoreWrite, { kind: 'start' }>[];
        return rows(
          START_BATCH_SQL,
          [ss.map((w) => w.runId), ss.map((w) => w.startedAtMs), ss.map((w) => w.pid ?? null), gen],
          'run_id',
        );
      }
      case 'requeue': {
        const done = new Set<string>();
        for (const w of group as Extract<StoreWrite, { kind: 'requeue' }>[]) {
          const res = await c.query(
            `UPDATE runs SET status = 'queued', not_before_ms = $1, started_at_ms = NULL, pid = NULL, owner = NULL
              WHERE run_id = $2 AND status = 'running' AND owner IS NOT DISTINCT FROM $3::bigint`,
            [w.notBeforeMs, w.runId, gen],
          );
          if ((res.rowCount ?? 0) > 0) done.add(w.runId);
        }
        return done;
      }
      case 'prune': {
        const done = new Set<string>();
        for (const w of group as Extract<StoreWrite, { kind: 'prune' }>[]) {
          const res = await c.query(PRUNE_SQL, [w.jobId, w.keep.olderThanMs, Math.max(0, w.keep.maxRuns)]);
          if ((res.rowCount ?? 0) > 0) done.add(w.jobId);
        }
        return done;
      }
    }
  }

  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async changeToken(): Promise<number> {
    this.listening ??= this.listen();
    await this.listening;
    return this.changes;
  }

  /**
   * One connection LISTENs for change notices. If it drops, the token moves (notices may have been
   * missed, so the daemon re-reads everything) and it reconnects.
   */
  private async listen(): Promise<void> {
    const client = new pg.Client({
      ...this.connection,
      ...(this.password !== undefined ? { password: this.password } : {}),
      types,
    });
    client.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload === this.schema) this.changes++;
    });
    client.on('error', () => {
      this.changes++;
      this.listener = undefined;
      this.listening = undefined;
      void client.end().catch(() => undefined);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listening?.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.k.destroy();
    await this.clusterPool.end().catch(() => undefined);
  }
}

/**
 * A registered daemon claims and takes runs only while its registration is alive: one that was
 * taken over (paused or cut off past its lease) gets nothing until it registers anew.
 */
function ALIVE(param: number): string {
  return `($${param}::bigint IS NULL OR EXISTS (SELECT 1 FROM daemons d WHERE d.gen = $${param}::bigint AND d.state = 'alive'))`;
}

/** Writes to a running run need its ownership; a queued run is anyone's. `$4` is the writer's generation. */
const FENCE = `(status = 'queued' OR owner IS NOT DISTINCT FROM $4::bigint)`;

const RUN_COLUMNS = PG_RUN_COLUMNS;

// A claim for a job deleted meanwhile inserts nothing; claims go in key order, so two daemons
// claiming the same slots wait for each other instead of deadlocking.
const CLAIM_SQL = `INSERT INTO runs (${RUN_COLUMNS.map(([c]) => c).join(', ')})
  SELECT ${RUN_COLUMNS.map(([c]) => `t.${c}`).join(', ')}
  FROM unnest(${RUN_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
    AS t(${RUN_COLUMNS.map(([c]) => c).join(', ')})
  WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.job_id) AND ${ALIVE(RUN_COLUMNS.length + 1)}
  ORDER BY t.job_id, t.slot_ms, t.attempt
  ON CONFLICT DO NOTHING
  RETURNING run_id`;

function claimArrays(runs: Run[], gen: number | null): unknown[] {
  const rows = runs.map((r) => fromRun(r, r.status === 'running' ? gen : null));
  return [...RUN_COLUMNS.map(([c]) => rows.map((row) => row[c])), gen];
}

// Locks first, in key order (see CLAIM_SQL), then updates.
const FINISH_SQL = `WITH t AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::text[],
      $7::text[], $8::text[], $9::text[])
      AS t(run_id, status, error, finished_at_ms, exit_code, signal, output_tail, evidence, details)
  ), locked AS (
    SELECT r.run_id FROM runs r JOIN t USING (run_id)
    WHERE r.status IN ('queued', 'running') AND (r.status = 'queued' OR r.owner IS NOT DISTINCT FROM $10::bigint)
    ORDER BY r.run_id FOR UPDATE OF r
  )
  UPDATE runs r SET status = t.status, error = t.error, finished_at_ms = t.finished_at_ms,
    duration_ms = CASE WHEN r.started_at_ms IS NULL THEN NULL ELSE t.finished_at_ms - r.started_at_ms END,
    exit_code = t.exit_code, signal = t.signal, output_tail = t.output_tail, evidence = t.evidence,
    details = t.details
  FROM t, locked
  WHERE r.run_id = t.run_id AND locked.run_id = t.run_id AND r.status IN ('queued', 'running')
  RETURNING r.run_id`;

// JobState is flat: a top-level merge, where a null removes the key (as SQLite's json_patch).
const PATCH_STATE_SQL = `WITH t AS (
    SELECT * FROM unnest($1::text[], $2::jsonb[]) AS t(id, patch)
  ), locked AS (
    SELECT j.id FROM jobs j JOIN t USING (id) ORDER BY j.id FOR UPDATE OF j
  )
  UPDATE jobs j SET state = jsonb_strip_nulls(j.state || t.patch)
  FROM t, locked WHERE j.id = t.id AND locked.id = t.id
  RETURNING j.id`;

const START_BATCH_SQL = `WITH t AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS t(run_id, started_at_ms, pid)
  ), locked AS (
    SELECT r.run_id FROM runs r JOIN t USING (run_id)
    WHERE r.status = 'running' AND r.owner IS NOT DISTINCT FROM $4::bigint
    ORDER BY r.run_id FOR UPDATE OF r
  )
  UPDATE runs r SET started_at_ms = t.started_at_ms, pid = coalesce(t.pid, r.pid)
  FROM t, locked WHERE r.run_id = t.run_id AND locked.run_id = t.run_id AND r.status = 'running'
  RETURNING r.run_id`;

const PRUNE_SQL = `DELETE FROM runs WHERE job_id = $1 AND status NOT IN ('queued', 'running') AND (
  coalesce(finished_at_ms, slot_ms) < $2 OR run_id NOT IN (
    SELECT run_id FROM runs WHERE job_id = $1 AND status NOT IN ('queued', 'running')
    ORDER BY slot_ms DESC, attempt DESC, run_id DESC LIMIT $3))`;

/**
 * The order a batch takes its row locks in: new runs first (unique slot keys), then this daemon's
 * own runs (a start and a requeue never meet in one batch; each keeps its place), then jobs' rows
 * (one statement, in id order), then prunes job by job. Writes of one row keep their relative
 * order (the sort is stable), so a run's claim still precedes its start and its finish.
 */
const LOCK_ORDER: Record<StoreWrite['kind'], number> = {
  claim: 0,
  start: 1,
  requeue: 1,
  finish: 2,
  patchState: 3,
  prune: 4,
};

function lockOrder(a: StoreWrite, b: StoreWrite): number {
  const byKind = LOCK_ORDER[a.kind] - LOCK_ORDER[b.kind];
  if (byKind !== 0 || a.kind !== 'prune' || b.kind !== 'prune') return byKind;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/** The row a write touches: a group never touches one twice (a slot claimed twice in one batch goes in order). */
function keyOf(w: StoreWrite): string {
  switch (w.kind) {
    case 'claim':
      return `${w.run.jobId}\u0000${w.run.slotMs}\u0000${w.run.attempt}`;
    case 'patchState':
    case 'prune':
      return w.jobId;
    default:
      return w.runId;
  }
}

function mergePatch(patch: Partial<JobState>): Record<string, unknown> {
  const merge: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) merge[key] = value === undefined ? null : value;
  return merge;
}

function jobConflict(err: unknown, job: Job): Error {
  if (isUniqueViolation(err)) {
    const constraint = (err as { constraint?: string }).constraint ?? '';
    if (constraint.includes('name'))
      return new StoreConflictError(`a job named "${job.name}" already exists`);
    return new StoreConflictError(`a job with id ${job.id} already exists`);
  }
  return err as Error;
}

function noSuchJob(jobId: string): UserError {
  return new UserError(`no job with id ${jobId}`, {
    hint: 'it may have been removed; list jobs with `nightshift cron list --all`',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}
