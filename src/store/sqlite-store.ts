/**
 * The embedded store: one SQLite file (WAL) shared by the daemon and CLI processes.
 *
 * Durability: `synchronous=NORMAL`. In WAL mode that loses no committed transaction when a process
 * crashes (what the engine's `interrupted`-on-restart recovery is built for), and a power cut never
 * corrupts the file; it can only roll back the last commits. A slot claim lost that way is a slot
 * that looks never fired: the catch-up policy decides (default `skip`: recorded `missed`; with `one`
 * or `all` it may run again). `claimSync: 'FULL'` fsyncs every claim (a FULL commit also makes every
 * earlier WAL commit durable), so a slot never fires twice even across power cuts. It is not the
 * default because an fsync per claim caps the fire rate at the disk's sync rate: measured here,
 * ~6.5k claims/s with NORMAL against ~3.3k/s with FULL on an idle disk and 200-300/s on a busy one.
 *
 * Every write is a single statement (no read-modify-write transaction), so two processes never
 * deadlock and `busy_timeout` covers all contention.
 */
import { closeSync, chmodSync, existsSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import type * as KyselyModule from 'kysely';
import type { Kysely as KyselyDb, Selectable } from 'kysely';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job, JobState, Run, RunDetails, RunStatus } from '../domain/job.ts';
import { StoreConflictError } from './store.ts';
import type { RunCount, RunCountQuery, RunFinish, RunPage, RunQuery, Store, StoreWrite } from './store.ts';
import { checkVersionReadonly, migrate } from './sqlite-schema.ts';
import { rowToRun, runToRow } from './run-rows.ts';
import { KyselyAlertStateStore, KyselyProfileStore, KyselySessionStore } from './kysely-substores.ts';
import type { SubstoreSchema } from './kysely-substores.ts';
import type { JobsTable, RunsTable, Schema } from './sqlite-schema.ts';

// kysely's ESM build is ~200 files; through the CLI's TypeScript loader that import alone cost
// ~0.5 s of every command's start-up. Its CommonJS build loads in a fraction of that.
const { Kysely, SqliteDialect, sql } = createRequire(import.meta.url)('kysely') as typeof KyselyModule;

export interface SqliteStoreOptions {
  /** Open without writing anything (no migration, no file creation); writes fail. */
  readonly?: boolean;
  /** How long a statement waits for another process's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** How slot claims are synced (see the module comment). Default NORMAL. */
  claimSync?: 'NORMAL' | 'FULL';
}

const UNFINISHED: RunStatus[] = ['queued', 'running'];

/** A statement of writeBatch with its parameters. */
interface CompiledQuery {
  sql: string;
  parameters: readonly unknown[];
}

const RUN_COLUMNS = [
  'run_id',
  'job_id',
  'slot_ms',
  'attempt',
  'trigger',
  'status',
  'error',
  'started_at_ms',
  'finished_at_ms',
  'duration_ms',
  'exit_code',
  'signal',
  'output_tail',
  'evidence',
  'details',
  'pid',
  'not_before_ms',
] as const satisfies ReadonlyArray<keyof RunsTable>;

// A claim for a job deleted meanwhile inserts nothing (instead of failing the whole batch).
const CLAIM_SQL = `INSERT INTO runs (${RUN_COLUMNS.join(', ')})
  SELECT ${RUN_COLUMNS.map(() => '?').join(', ')} WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)
  ON CONFLICT DO NOTHING`;
function claimParameters(run: Run): unknown[] {
  const row = runToRow(run);
  return [...RUN_COLUMNS.map((c) => row[c]), row.job_id];
}
const PRUNE_ORPHANS_SQL = `DELETE FROM runs WHERE status NOT IN ('queued', 'running')
  AND coalesce(finished_at_ms, slot_ms) < ? AND job_id NOT IN (SELECT id FROM jobs)`;
const FINISH_SQL = `UPDATE runs SET status = ?, error = ?, finished_at_ms = ?,
  duration_ms = CASE WHEN started_at_ms IS NULL THEN NULL ELSE ? - started_at_ms END,
  exit_code = ?, signal = ?, output_tail = ?, evidence = ?, details = ?
  WHERE run_id = ? AND status IN ('queued', 'running')`;
const PATCH_STATE_SQL = `UPDATE jobs SET state = json_patch(state, ?) WHERE id = ?`;
const START_SQL = `UPDATE runs SET started_at_ms = ?, pid = coalesce(?, pid)
  WHERE run_id = ? AND status = 'running'`;
const REQUEUE_SQL = `UPDATE runs SET status = 'queued', not_before_ms = ?, started_at_ms = NULL, pid = NULL
  WHERE run_id = ? AND status = 'running'`;
const PRUNE_SQL = `DELETE FROM runs WHERE job_id = ? AND status NOT IN ('queued', 'running') AND (
  coalesce(finished_at_ms, slot_ms) < ? OR run_id NOT IN (
    SELECT run_id FROM runs WHERE job_id = ? AND status NOT IN ('queued', 'running')
    ORDER BY slot_ms DESC, attempt DESC, run_id DESC LIMIT ?))`;

export async function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  const readonly = opts.readonly ?? false;
  if (readonly && !existsSync(path)) {
    throw new UserError(`the database ${path} does not exist`, {
      hint: 'add a job first (or start the daemon), or check --home',
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  }
  if (!readonly) createPrivate(path);

  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw openError(path, err);
  }
  try {
    // The first statements read the header: a non-SQLite or damaged file fails here.
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    if (readonly) checkVersionReadonly(db, path);
    else migrate(db, path);
    if (!readonly) tightenSidecars(path);
  } catch (err) {
    db.close();
    if (err instanceof UserError) throw err;
    throw openError(path, err);
  }
  return new SqliteStore(db, !readonly && opts.claimSync === 'FULL');
}

/** Creates the file 0600 before SQLite does, so it is never briefly world-readable. */
function createPrivate(path: string): void {
  try {
    const fd = openSync(path, 'a', 0o600);
    closeSync(fd);
  } catch (err) {
    throw new UserError(`cannot create the database ${path}: ${(err as Error).message}`, {
      hint: 'check that the directory exists and is writable, or pass --home DIR',
    });
  }
}

/**
 * SQLite gives -wal and -shm the main file's permission bits, but the umask or an older file can
 * leave them looser; state (job env, output tails) must not be readable by others.
 */
function tightenSidecars(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    } catch {
      // Absent sidecar (not yet created): SQLite will copy the main file's 0600 when it is.
    }
  }
}

function openError(path: string, err: unknown): UserError {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message ?? String(err);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || /not a database|malformed/i.test(message)) {
    return new UserError(`${path} is not a nightshift database (or is damaged): ${message}`, {
      hint: 'move the file aside (or restore it from a backup) and run nightshift again, or pass --home DIR',
      code: 'corrupt_store',
    });
  }
  if (code === 'SQLITE_BUSY') {
    return new UserError(`the database ${path} is locked by another process`, {
      hint: 'try again; if it persists, look for a stuck nightshift process',
      exitCode: EXIT.conflict,
      code: 'busy',
    });
  }
  return new UserError(`cannot open the database ${path}: ${message}`, {
    hint: 'check the file and directory permissions, or pass --home DIR',
  });
}

function isConstraint(err: unknown, kind: string): boolean {
  return (err as { code?: string }).code === `SQLITE_CONSTRAINT_${kind}`;
}

class SqliteStore implements Store {
  private readonly k: KyselyDb<Schema>;
  readonly profiles: KyselyProfileStore;
  readonly sessions: KyselySessionStore;
  readonly alertState: KyselyAlertStateStore;
  /** Claims in flight; the connection is back to NORMAL only when none is (queries interleave at awaits). */
  private syncedClaims = 0;

  constructor(
    /** Kept beside kysely for PRAGMAs (data_version must be read on kysely's own connection). */
    private readonly db: Database.Database,
    private readonly syncClaims: boolean,
  ) {
    this.k = new Kysely<Schema>({ dialect: new SqliteDialect({ database: db }) });
    const sub = this.k as unknown as KyselyDb<SubstoreSchema>;
    this.profiles = new KyselyProfileStore(
      sub,
      (err) => isConstraint(err, 'PRIMARYKEY') || isConstraint(err, 'UNIQUE'),
    );
    this.sessions = new KyselySessionStore(sub);
    this.alertState = new KyselyAlertStateStore(sub);
  }

  async listJobs(): Promise<Job[]> {
    const rows = await this.k.selectFrom('jobs').selectAll().orderBy('name').execute();
    return rows.map(toJob);
  }

  async findJob(idOrName: string): Promise<Job | undefined> {
    const byId = await this.k.selectFrom('jobs').selectAll().where('id', '=', idOrName).executeTakeFirst();
    if (byId) return toJob(byId);
    const byName = await this.k
      .selectFrom('jobs')
      .selectAll()
      .where('name', '=', idOrName)
      .executeTakeFirst();
    return byName ? toJob(byName) : undefined;
  }

  async insertJob(job: Job): Promise<void> {
    try {
      await this.k.insertInto('jobs').values(fromJob(job)).execute();
    } catch (err) {
      throw this.jobConflict(err, job);
    }
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
          created_at_ms: row.created_at_ms,
          updated_at_ms: row.updated_at_ms,
        })
        .where('id', '=', job.id)
        .executeTakeFirst();
    } catch (err) {
      throw this.jobConflict(err, job);
    }
    if (res.numUpdatedRows === 0n) throw noSuchJob(job.id);
  }

  async patchJobState(jobId: string, patch: Partial<JobState>): Promise<void> {
    // JSON merge patch: a key present with `undefined` clears it (null removes the key).
    const res = await this.patchStateQuery(jobId, patch).executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw noSuchJob(jobId);
  }

  private patchStateQuery(jobId: string, patch: Partial<JobState>) {
    const merge: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(patch)) merge[key] = value === undefined ? null : value;
    return this.k
      .updateTable('jobs')
      .set({ state: sql<string>`json_patch(state, ${JSON.stringify(merge)})` })
      .where('id', '=', jobId);
  }

  async deleteJob(jobId: string, opts: { keepRuns?: boolean } = {}): Promise<boolean> {
    const remove = this.db.transaction(() => {
      if (!opts.keepRuns) this.statement('DELETE FROM runs WHERE job_id = ?').run(jobId);
      return this.statement('DELETE FROM jobs WHERE id = ?').run(jobId).changes > 0;
    });
    return remove.immediate();
  }

  async pruneOrphanRuns(olderThanMs: number): Promise<number> {
    return this.statement(PRUNE_ORPHANS_SQL).run(olderThanMs).changes;
  }

  async claimRun(run: Run): Promise<boolean> {
    if (this.syncClaims && this.syncedClaims++ === 0) this.db.pragma('synchronous = FULL');
    try {
      // The job may have been deleted (e.g. from the CLI) since it was read: nothing is claimed then.
      return this.statement(CLAIM_SQL).run(...claimParameters(run)).changes > 0;
    } finally {
      if (this.syncClaims && --this.syncedClaims === 0) this.db.pragma('synchronous = NORMAL');
    }
  }

  async startRun(runId: string, startedAtMs: number, pid?: number): Promise<void> {
    await this.k
      .updateTable('runs')
      .set({ status: 'running', started_at_ms: startedAtMs, pid: pid ?? null })
      .where('run_id', '=', runId)
      .where('status', 'in', UNFINISHED)
      .execute();
  }

  async takeRun(runId: string, startedAtMs: number): Promise<boolean> {
    const res = await this.k
      .updateTable('runs')
      .set({ status: 'running', started_at_ms: startedAtMs })
      .where('run_id', '=', runId)
      .where('status', '=', 'queued')
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async finishRun(runId: string, finish: RunFinish): Promise<void> {
    // Only an unfinished run moves to a terminal status: a record already final (e.g. marked
    // `interrupted` by a restarted daemon) is never overwritten. A run whose job was deleted is gone.
    await this.finishQuery(runId, finish).execute();
  }

  private finishQuery(runId: string, finish: RunFinish) {
    return this.k
      .updateTable('runs')
      .set({
        status: finish.status,
        error: finish.error ?? null,
        finished_at_ms: finish.finishedAtMs,
        duration_ms: sql<
          number | null
        >`CASE WHEN started_at_ms IS NULL THEN NULL ELSE ${finish.finishedAtMs} - started_at_ms END`,
        exit_code: finish.exitCode ?? null,
        signal: finish.signal ?? null,
        output_tail: finish.outputTail ?? null,
        evidence: finish.evidence ? JSON.stringify(finish.evidence) : null,
        details: finish.details ? JSON.stringify(finish.details) : null,
      })
      .where('run_id', '=', runId)
      .where('status', 'in', UNFINISHED);
  }

  async addRunDetails(runId: string, details: Partial<RunDetails>): Promise<void> {
    await this.k
      .updateTable('runs')
      .set({ details: sql<string>`json_patch(coalesce(details, '{}'), ${JSON.stringify(details)})` })
      .where('run_id', '=', runId)
      .execute();
  }

  async getRun(runId: string): Promise<Run | undefined> {
    const row = await this.k.selectFrom('runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
    return row ? rowToRun(row) : undefined;
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
    // One more than asked for tells whether there is a next page. SQLite wants a LIMIT before OFFSET; -1 means none.
    const limit = query.limit !== undefined ? Math.max(0, query.limit) : undefined;
    page = page.limit(limit !== undefined ? limit + 1 : -1);
    const [rows, count] = await Promise.all([
      page.execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const hasMore = limit !== undefined && rows.length > limit;
    return {
      entries: (hasMore ? rows.slice(0, limit) : rows).map(rowToRun),
      total: Number(count.n),
      hasMore,
    };
  }

  async countRuns(query: RunCountQuery): Promise<RunCount[]> {
    if (query.jobIds.length === 0) return [];
    // Bound numbers may arrive as REAL: the cast keeps the bucket an integer (slots >= fromMs, so it floors).
    const bucket = sql<number>`CAST((slot_ms - ${query.fromMs}) / ${query.bucketMs} AS INTEGER)`;
    const rows = await this.k
      .selectFrom('runs')
      .select(['job_id', 'status'])
      .select(bucket.as('bucket'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('job_id', 'in', query.jobIds)
      .where('slot_ms', '>=', query.fromMs)
      .where('slot_ms', '<', query.toMs)
      .groupBy(['job_id', sql`bucket`, 'status'])
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
    return rows.map(rowToRun);
  }

  async lastSlotsMs(jobIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // In-process: a prepared statement per job costs microseconds, no round trip.
    const st = this.statement(`SELECT max(slot_ms) AS m FROM runs WHERE job_id = ? AND trigger != 'manual'`);
    for (const id of jobIds) {
      const row = st.get(id) as { m: number | null } | undefined;
      if (row?.m !== null && row?.m !== undefined) out.set(id, row.m);
    }
    return out;
  }

  async lastSlotMs(jobId: string): Promise<number | undefined> {
    const row = await this.k
      .selectFrom('runs')
      .select((eb) => eb.fn.max('slot_ms').as('m'))
      .where('job_id', '=', jobId)
      .where('trigger', '!=', 'manual')
      .executeTakeFirst();
    return row?.m ?? undefined;
  }

  async pruneRuns(jobId: string, keep: { maxRuns: number; olderThanMs: number }): Promise<number> {
    const res = await this.pruneQuery(jobId, keep).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  private pruneQuery(jobId: string, keep: { maxRuns: number; olderThanMs: number }) {
    const finished = (eb: typeof this.k) =>
      eb.selectFrom('runs').where('job_id', '=', jobId).where('status', 'not in', UNFINISHED);
    return this.k
      .deleteFrom('runs')
      .where('job_id', '=', jobId)
      .where('status', 'not in', UNFINISHED)
      .where((eb) =>
        eb.or([
          eb(eb.fn.coalesce('finished_at_ms', 'slot_ms'), '<', keep.olderThanMs),
          eb(
            'run_id',
            'not in',
            finished(this.k)
              .select('run_id')
              .orderBy('slot_ms', 'desc')
              .orderBy('attempt', 'desc')
              .orderBy('run_id', 'desc')
              .limit(Math.max(0, keep.maxRuns)),
          ),
        ]),
      );
  }

  /** Prepared statements of writeBatch, by SQL text (a batch repeats a few shapes many times). */
  private readonly statements = new Map<string, Database.Statement>();

  private statement(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      if (this.statements.size >= 200) this.statements.clear();
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  async writeBatch(writes: StoreWrite[]): Promise<boolean[]> {
    // Plain SQL with cached statements: building each query through kysely costs more than
    // running it, and a busy second has thousands. Same statements as the single methods.
    const queries = writes.map((w): CompiledQuery => {
      switch (w.kind) {
        case 'claim':
          return { sql: CLAIM_SQL, parameters: claimParameters(w.run) };
        case 'finish': {
          const f = w.finish;
          return {
            sql: FINISH_SQL,
            parameters: [
              f.status,
              f.error ?? null,
              f.finishedAtMs,
              f.finishedAtMs,
              f.exitCode ?? null,
              f.signal ?? null,
              f.outputTail ?? null,
              f.evidence ? JSON.stringify(f.evidence) : null,
              f.details ? JSON.stringify(f.details) : null,
              w.runId,
            ],
          };
        }
        case 'patchState': {
          const merge: Record<string, unknown> = {};
          for (const [key, value] of Object.entries(w.patch)) merge[key] = value === undefined ? null : value;
          return { sql: PATCH_STATE_SQL, parameters: [JSON.stringify(merge), w.jobId] };
        }
        case 'prune':
          return {
            sql: PRUNE_SQL,
            parameters: [w.jobId, w.keep.olderThanMs, w.jobId, Math.max(0, w.keep.maxRuns)],
          };
        case 'start':
          return { sql: START_SQL, parameters: [w.startedAtMs, w.pid ?? null, w.runId] };
        case 'requeue':
          return { sql: REQUEUE_SQL, parameters: [w.notBeforeMs, w.runId] };
      }
    });
    // Synchronous throughout, so no kysely query interleaves with the transaction.
    const all = this.db.transaction(() =>
      queries.map((q) => this.statement(q.sql).run(...(q.parameters as unknown[])).changes > 0),
    );
    const claims = this.syncClaims && writes.some((w) => w.kind === 'claim');
    if (claims && this.syncedClaims++ === 0) this.db.pragma('synchronous = FULL');
    try {
      return all.immediate();
    } finally {
      if (claims && --this.syncedClaims === 0) this.db.pragma('synchronous = NORMAL');
    }
  }

  async changeToken(): Promise<number> {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  async close(): Promise<void> {
    await this.k.destroy();
  }

  private jobConflict(err: unknown, job: Job): Error {
    if (isConstraint(err, 'UNIQUE') || isConstraint(err, 'PRIMARYKEY')) {
      const message = (err as Error).message;
      if (message.includes('jobs.name'))
        return new StoreConflictError(`a job named "${job.name}" already exists`);
      return new StoreConflictError(`a job with id ${job.id} already exists`);
    }
    return err as Error;
  }
}

function noSuchJob(jobId: string): UserError {
  return new UserError(`no job with id ${jobId}`, {
    hint: 'it may have been removed; list jobs with `nightshift cron list --all`',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}

function fromJob(job: Job): JobsTable {
  const { state, ...rest } = job;
  return {
    id: job.id,
    name: job.name,
    enabled: job.enabled ? 1 : 0,
    data: JSON.stringify(rest),
    state: JSON.stringify(state),
    created_at_ms: job.createdAtMs,
    updated_at_ms: job.updatedAtMs,
  };
}

function toJob(row: Selectable<JobsTable>): Job {
  const data = JSON.parse(row.data) as Omit<Job, 'state'>;
  return {
    ...data,
    id: row.id,
    name: row.name,
    enabled: row.enabled !== 0,
    createdAtMs: row.created_at_ms,
    updatedAtMs: row.updated_at_ms,
    state: JSON.parse(row.state) as JobState,
  };
}
