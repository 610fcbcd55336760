/**
 * The SQLite schema: table types for kysely and the numbered migrations that build them. The
 * version lives in `PRAGMA user_version`; a database from a newer nightshift is refused rather
 * than guessed at.
 */
import type Database from 'better-sqlite3';
import type { Generated } from 'kysely';
import { UserError } from '../domain/errors.ts';
import type { RunRow } from './run-rows.ts';

export interface JobsTable {
  id: string;
  /** Unique, compared byte for byte (BINARY collation): `Backup` and `backup` are two jobs. */
  name: string;
  enabled: number;
  /** The job as JSON, without `state` (the columns above and the timestamps win over copies in it). */
  data: string;
  /** JobState as JSON; the daemon merges into it with json_patch. */
  state: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export type RunsTable = RunRow;

export interface BackupProfilesTable {
  name: string;
  /** BackupProfile as JSON (references only, never a secret value). */
  data: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface SessionsTable {
  id: string;
  agent: string;
  /** main, isolated or named. */
  kind: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface SessionMessagesTable {
  seq: Generated<number>;
  session_id: string;
  /** ChatMessage as JSON. */
  message: string;
  run_id: string | null;
  at_ms: number;
}

export interface InboxTable {
  seq: Generated<number>;
  session_id: string;
  text: string;
  job_id: string | null;
  run_id: string | null;
  created_at_ms: number;
  /** Set when a heartbeat turn took the item. */
  consumed_at_ms: number | null;
  consumed_by_run: string | null;
}

export interface AlertStateTable {
  job_id: string;
  /** AlertState as JSON. */
  data: string;
}

export interface Schema {
  jobs: JobsTable;
  runs: RunsTable;
  backup_profiles: BackupProfilesTable;
  sessions: SessionsTable;
  session_messages: SessionMessagesTable;
  inbox: InboxTable;
  alert_state: AlertStateTable;
}

/** Migration n (1-based) takes the schema from version n-1 to n. Append only; never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE runs (
    run_id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    slot_ms INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at_ms INTEGER,
    finished_at_ms INTEGER,
    duration_ms INTEGER,
    exit_code INTEGER,
    signal TEXT,
    output_tail TEXT,
    evidence TEXT,
    pid INTEGER,
    not_before_ms INTEGER,
    UNIQUE (job_id, slot_ms, attempt)
  ) STRICT;

  CREATE INDEX runs_by_status ON runs (status) WHERE status IN ('queued', 'running');
  CREATE INDEX runs_by_slot ON runs (slot_ms DESC, attempt DESC);
  `,
  `
  ALTER TABLE runs ADD COLUMN details TEXT;

  CREATE TABLE backup_profiles (
    name TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE session_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    run_id TEXT,
    at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX session_messages_by_session ON session_messages (session_id, seq);

  CREATE TABLE inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    job_id TEXT,
    run_id TEXT,
    created_at_ms INTEGER NOT NULL,
    consumed_at_ms INTEGER,
    consumed_by_run TEXT
  ) STRICT;
  CREATE INDEX inbox_pending ON inbox (session_id, seq) WHERE consumed_at_ms IS NULL;

  CREATE TABLE alert_state (
    job_id TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
  ) STRICT;
  `,
  // Run history outlives its job: a one-shot deleted after success keeps its runs (the store
  // deletes a job's runs itself when asked to), so runs no longer cascade with their job.
  `
  CREATE TABLE runs_v3 (
    run_id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL,
    slot_ms INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at_ms INTEGER,
    finished_at_ms INTEGER,
    duration_ms INTEGER,
    exit_code INTEGER,
    signal TEXT,
    output_tail TEXT,
    evidence TEXT,
    pid INTEGER,
    not_before_ms INTEGER,
    details TEXT,
    UNIQUE (job_id, slot_ms, attempt)
  ) STRICT;
  INSERT INTO runs_v3 (run_id, job_id, slot_ms, attempt, trigger, status, error, started_at_ms,
      finished_at_ms, duration_ms, exit_code, signal, output_tail, evidence, pid, not_before_ms, details)
    SELECT run_id, job_id, slot_ms, attempt, trigger, status, error, started_at_ms,
      finished_at_ms, duration_ms, exit_code, signal, output_tail, evidence, pid, not_before_ms, details
    FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_v3 RENAME TO runs;
  CREATE INDEX runs_by_status ON runs (status) WHERE status IN ('queued', 'running');
  CREATE INDEX runs_by_slot ON runs (slot_ms DESC, attempt DESC);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so two processes opening a
 * fresh file at once (daemon and CLI) do not both migrate.
 */
export function migrate(db: Database.Database, file: string): void {
  const apply = db.transaction(() => {
    const current = readVersion(db);
    refuseNewer(current, file);
    for (let v = current; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v] as string);
    }
    if (current !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  apply.immediate();
}

/** For read-only opens: the schema must already be current, since nothing may be written. */
export function checkVersionReadonly(db: Database.Database, file: string): void {
  const current = readVersion(db);
  refuseNewer(current, file);
  if (current < SCHEMA_VERSION) {
    throw new UserError(
      `the database ${file} has schema version ${current}, this nightshift needs ${SCHEMA_VERSION}`,
      { hint: 'run any nightshift command that writes (or start the daemon) once to upgrade it' },
    );
  }
}

function readVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function refuseNewer(current: number, file: string): void {
  if (current > SCHEMA_VERSION) {
    throw new UserError(
      `the database ${file} was written by a newer nightshift (schema version ${current}; this one knows up to ${SCHEMA_VERSION})`,
      { hint: 'upgrade nightshift, or point --home at another directory', code: 'schema_too_new' },
    );
  }
}
