/**
 * The PostgreSQL schema: table types for kysely and the numbered migrations that build them, in
 * one PostgreSQL schema (namespace; `public` unless the URL says `?schema=NAME`). The version
 * lives in `nightshift_meta`; migrations run under an advisory lock so several daemons starting
 * at once migrate once. A database from a newer nightshift is refused rather than guessed at.
 *
 * Beyond the SQLite tables: `daemons` (one row per daemon process: host, pid, version, heartbeat,
 * lease) and, on runs, `owner` (the generation of the daemon that holds the run; see
 * postgres-cluster.ts).
 */
import type { Generated } from 'kysely';
import type pg from 'pg';
import { UserError } from '../domain/errors.ts';
import type { RunRow } from './run-rows.ts';

export interface PgJobsTable {
  id: string;
  name: string;
  enabled: boolean;
  /** The job as JSON, without `state`. */
  data: string;
  /** JobState; the daemon merges into it. */
  state: unknown;
  on_host: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PgRunsTable extends RunRow {
  /** Generation of the daemon holding the run; null for runs no daemon holds (queued, CLI). */
  owner: number | null;
}

/** The runs table's columns with their PostgreSQL types (for unnest() arrays of whole rows). */
export const PG_RUN_COLUMNS = [
  ['run_id', 'text'],
  ['job_id', 'text'],
  ['slot_ms', 'bigint'],
  ['attempt', 'integer'],
  ['trigger', 'text'],
  ['status', 'text'],
  ['error', 'text'],
  ['started_at_ms', 'bigint'],
  ['finished_at_ms', 'bigint'],
  ['duration_ms', 'bigint'],
  ['exit_code', 'integer'],
  ['signal', 'text'],
  ['output_tail', 'text'],
  ['evidence', 'text'],
  ['details', 'text'],
  ['pid', 'integer'],
  ['not_before_ms', 'bigint'],
  ['owner', 'bigint'],
] as const satisfies ReadonlyArray<readonly [keyof PgRunsTable, string]>;

export interface PgBackupProfilesTable {
  name: string;
  data: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PgSessionsTable {
  id: string;
  agent: string;
  kind: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface PgSessionMessagesTable {
  seq: Generated<number>;
  session_id: string;
  message: string;
  run_id: string | null;
  at_ms: number;
}

export interface PgInboxTable {
  seq: Generated<number>;
  session_id: string;
  text: string;
  job_id: string | null;
  run_id: string | null;
  created_at_ms: number;
  consumed_at_ms: number | null;
  consumed_by_run: string | null;
}

export interface PgAlertStateTable {
  job_id: string;
  data: string;
}

export interface PgDaemonsTable {
  /** The generation: a new one for every registration, never reused. */
  gen: Generated<number>;
  host: string;
  pid: number;
  version: string;
  started_at_ms: number;
  heartbeat_at_ms: number;
  lease_until_ms: number;
  runs_in_flight: number;
  /** alive, stopped (said goodbye) or expired (its lease ran out and its runs were taken over). */
  state: string;
  taken_over_by: number | null;
  /** When another daemon took it over (its failover ended). */
  taken_over_at_ms: number | null;
}

export interface PgSchema {
  jobs: PgJobsTable;
  runs: PgRunsTable;
  backup_profiles: PgBackupProfilesTable;
  sessions: PgSessionsTable;
  session_messages: PgSessionMessagesTable;
  inbox: PgInboxTable;
  alert_state: PgAlertStateTable;
  daemons: PgDaemonsTable;
}

/** Migration n (1-based) takes the schema from version n-1 to n. Append only; never edit a shipped one. */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id text PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    enabled boolean NOT NULL,
    data text NOT NULL,
    state jsonb NOT NULL,
    on_host text,
    created_at_ms bigint NOT NULL,
    updated_at_ms bigint NOT NULL
  );

  CREATE TABLE runs (
    run_id text PRIMARY KEY,
    job_id text NOT NULL,
    slot_ms bigint NOT NULL,
    attempt integer NOT NULL,
    trigger text NOT NULL,
    status text NOT NULL,
    error text,
    started_at_ms bigint,
    finished_at_ms bigint,
    duration_ms bigint,
    exit_code integer,
    signal text,
    output_tail text,
    evidence text,
    details text,
    pid integer,
    not_before_ms bigint,
    owner bigint,
    UNIQUE (job_id, slot_ms, attempt)
  );
  CREATE INDEX runs_unfinished ON runs (status, owner) WHERE status IN ('queued', 'running');
  CREATE INDEX runs_by_slot ON runs (slot_ms DESC, attempt DESC);

  CREATE TABLE backup_profiles (
    name text PRIMARY KEY,
    data text NOT NULL,
    created_at_ms bigint NOT NULL,
    updated_at_ms bigint NOT NULL
  );

  CREATE TABLE sessions (
    id text PRIMARY KEY,
    agent text NOT NULL,
    kind text NOT NULL,
    created_at_ms bigint NOT NULL,
    updated_at_ms bigint NOT NULL
  );

  CREATE TABLE session_messages (
    seq bigserial PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    message text NOT NULL,
    run_id text,
    at_ms bigint NOT NULL
  );
  CREATE INDEX session_messages_by_session ON session_messages (session_id, seq);

  CREATE TABLE inbox (
    seq bigserial PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    text text NOT NULL,
    job_id text,
    run_id text,
    created_at_ms bigint NOT NULL,
    consumed_at_ms bigint,
    consumed_by_run text
  );
  CREATE INDEX inbox_pending ON inbox (session_id, seq) WHERE consumed_at_ms IS NULL;

  CREATE TABLE alert_state (
    job_id text PRIMARY KEY,
    data text NOT NULL
  );

  CREATE TABLE daemons (
    gen bigserial PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    started_at_ms bigint NOT NULL,
    heartbeat_at_ms bigint NOT NULL,
    lease_until_ms bigint NOT NULL,
    runs_in_flight integer NOT NULL DEFAULT 0,
    state text NOT NULL,
    taken_over_by bigint
  );
  CREATE INDEX daemons_alive ON daemons (lease_until_ms) WHERE state = 'alive';
  `,
  // When a takeover happened, so the failover time (last renewal to takeover) can be read back.
  `
  ALTER TABLE daemons ADD COLUMN taken_over_at_ms bigint;
  `,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Quotes an identifier (a schema name from the URL). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Brings the schema to PG_SCHEMA_VERSION, in one transaction under an advisory lock keyed by the
 * schema name, so daemons starting together migrate once and a failed step leaves nothing half-done.
 */
export async function migratePg(client: pg.PoolClient, schema: string, where: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`nightshift-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.nightshift_meta (version integer NOT NULL)`,
    );
    const res = await client.query<{ version: number }>(
      `SELECT version FROM ${quoteIdent(schema)}.nightshift_meta`,
    );
    const current = res.rows[0]?.version ?? 0;
    if (current > PG_SCHEMA_VERSION) {
      throw new UserError(
        `the database ${where} was written by a newer nightshift (schema version ${current}; this one knows up to ${PG_SCHEMA_VERSION})`,
        { hint: 'upgrade nightshift on every host of the cluster first', code: 'schema_too_new' },
      );
    }
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    for (let v = current; v < PG_SCHEMA_VERSION; v++) await client.query(PG_MIGRATIONS[v] as string);
    if (res.rows.length === 0) {
      await client.query(`INSERT INTO nightshift_meta (version) VALUES ($1)`, [PG_SCHEMA_VERSION]);
    } else if (current !== PG_SCHEMA_VERSION) {
      await client.query(`UPDATE nightshift_meta SET version = $1`, [PG_SCHEMA_VERSION]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
