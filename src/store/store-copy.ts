/**
 * Copies everything a SQLite store holds (jobs, runs, backup profiles, sessions with their
 * transcripts and inboxes, alerting memory) into a PostgreSQL store, in one transaction on the
 * target: a failure leaves the target as it was. The two schemas have the same tables; the copy
 * goes row for row (ids, slots, sequence numbers kept), so history, dedupe keys and sessions carry
 * over unchanged.
 *
 * Runs still `running` in the source have no daemon left to finish them once the home moves:
 * they arrive `interrupted`, as the daemon's own crash recovery would record them.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { EXIT, UserError } from '../domain/errors.ts';
import { PG_RUN_COLUMNS } from './postgres-schema.ts';
import { checkVersionReadonly } from './sqlite-schema.ts';
import { openPostgresStore } from './postgres-store.ts';
import { parsePostgresUrl } from './postgres-url.ts';

/** Rows per table, in the order they are copied. */
export interface StoreCounts {
  jobs: number;
  runs: number;
  backupProfiles: number;
  sessions: number;
  sessionMessages: number;
  inbox: number;
  alertState: number;
}

export interface StoreCopyResult {
  source: StoreCounts;
  target: StoreCounts;
  /** Runs that were `running` in the source and were copied `interrupted`. */
  interrupted: number;
  /** Whether rows already in the target were replaced. */
  replaced: boolean;
}

type Row = Record<string, unknown>;

interface Table {
  key: keyof StoreCounts;
  name: string;
  /** Columns written to PostgreSQL, with their type for the unnest() arrays. */
  columns: ReadonlyArray<readonly [string, string]>;
  /** A SQLite row as the PostgreSQL row. */
  convert?: (row: Row) => Row;
  /** A bigserial key whose sequence must continue after the copied rows. */
  serial?: string;
}

const INTERRUPTED_ERROR = 'interrupted: still running when the home moved to PostgreSQL';

// Parents before children (session_messages and inbox reference sessions).
const TABLES: readonly Table[] = [
  {
    key: 'jobs',
    name: 'jobs',
    columns: [
      ['id', 'text'],
      ['name', 'text'],
      ['enabled', 'boolean'],
      ['data', 'text'],
      ['state', 'jsonb'],
      ['on_host', 'text'],
      ['created_at_ms', 'bigint'],
      ['updated_at_ms', 'bigint'],
    ],
    convert: (row) => {
      const data = JSON.parse(String(row.data)) as { onHost?: unknown };
      return {
        ...row,
        enabled: row.enabled !== 0,
        on_host: typeof data.onHost === 'string' ? data.onHost : null,
      };
    },
  },
  {
    key: 'runs',
    name: 'runs',
    // A SQLite run has no owner: no daemon holds it once the home moves.
    columns: PG_RUN_COLUMNS.filter(([c]) => c !== 'owner'),
  },
  {
    key: 'backupProfiles',
    name: 'backup_profiles',
    columns: [
      ['name', 'text'],
      ['data', 'text'],
      ['created_at_ms', 'bigint'],
      ['updated_at_ms', 'bigint'],
    ],
  },
  {
    key: 'sessions',
    name: 'sessions',
    columns: [
      ['id', 'text'],
      ['agent', 'text'],
      ['kind', 'text'],
      ['created_at_ms', 'bigint'],
      ['updated_at_ms', 'bigint'],
    ],
  },
  {
    key: 'sessionMessages',
    name: 'session_messages',
    columns: [
      ['seq', 'bigint'],
      ['session_id', 'text'],
      ['message', 'text'],
      ['run_id', 'text'],
      ['at_ms', 'bigint'],
    ],
    serial: 'seq',
  },
  {
    key: 'inbox',
    name: 'inbox',
    columns: [
      ['seq', 'bigint'],
      ['session_id', 'text'],
      ['text', 'text'],
      ['job_id', 'text'],
      ['run_id', 'text'],
      ['created_at_ms', 'bigint'],
      ['consumed_at_ms', 'bigint'],
      ['consumed_by_run', 'text'],
    ],
    serial: 'seq',
  },
  {
    key: 'alertState',
    name: 'alert_state',
    columns: [
      ['job_id', 'text'],
      ['data', 'text'],
    ],
  },
];

/** Rows per INSERT: unnest() arrays keep it one statement however wide the table. */
const CHUNK = 2_000;

/**
 * Copies the SQLite store at `sqlitePath` into the PostgreSQL store at `pgUrl` (its schema is
 * created or upgraded first). Refuses a target that already holds rows unless `replace`, and a
 * target with a live daemon always. Counts both sides after the copy, inside the transaction,
 * and commits only when they match.
 */
export async function copySqliteToPostgres(opts: {
  sqlitePath: string;
  pgUrl: string;
  password?: string;
  replace: boolean;
  nowMs: number;
}): Promise<StoreCopyResult> {
  const { rows, source } = readSqlite(opts.sqlitePath);
  // Creates (or upgrades) the target's schema, exactly as a daemon would.
  const store = await openPostgresStore(
    opts.pgUrl,
    opts.password !== undefined ? { password: opts.password } : {},
  );
  await store.close();

  const target = parsePostgresUrl(opts.pgUrl);
  const client = new pg.Client({
    ...target.config,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    options: `-c search_path=${target.schema}`,
  });
  await client.connect();
  try {
    await client.query('BEGIN');
    // No daemon may write while the tables are checked, emptied and filled.
    await client.query(`LOCK TABLE ${TABLES.map((t) => t.name).join(', ')}, daemons IN EXCLUSIVE MODE`);
    const alive = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM daemons WHERE state = 'alive' AND lease_until_ms > $1`,
      [opts.nowMs],
    );
    if (Number(alive.rows[0]!.n) > 0) {
      throw new UserError(`${alive.rows[0]!.n} daemon(s) are running on ${target.display}`, {
        hint: 'stop the daemons using that database first (`nightshift status --store URL` lists them)',
        exitCode: EXIT.conflict,
        code: 'daemon_running',
      });
    }
    const before = await countPostgres(client);
    const held = TABLES.filter((t) => before[t.key] > 0);
    if (held.length > 0 && !opts.replace) {
      throw new UserError(
        `${target.display} already holds ${held.map((t) => `${before[t.key]} ${t.name.replace('_', ' ')}`).join(', ')}`,
        {
          hint: 'copy into an empty database or schema (postgres://…/DB?schema=NAME), or pass --replace to delete what it holds first',
          exitCode: EXIT.conflict,
          code: 'store_not_empty',
        },
      );
    }
    if (held.length > 0) {
      await client.query(`TRUNCATE ${TABLES.map((t) => t.name).join(', ')} RESTART IDENTITY`);
    }
    let interrupted = 0;
    for (const table of TABLES) {
      let list = rows.get(table.name) ?? [];
      if (table.convert) list = list.map(table.convert);
      if (table.name === 'runs') {
        list = list.map((r) => {
          if (r.status !== 'running') return r;
          interrupted++;
          const started = typeof r.started_at_ms === 'number' ? r.started_at_ms : undefined;
          return {
            ...r,
            status: 'interrupted',
            error: INTERRUPTED_ERROR,
            finished_at_ms: opts.nowMs,
            duration_ms: started === undefined ? null : opts.nowMs - started,
          };
        });
      }
      await insertAll(client, table, list);
      if (table.serial) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence('${table.name}', '${table.serial}'),
                  coalesce((SELECT max(${table.serial}) FROM ${table.name}), 0) + 1, false)`,
        );
      }
    }
    const after = await countPostgres(client);
    const wrong = TABLES.filter((t) => after[t.key] !== source[t.key]);
    if (wrong.length > 0) {
      throw new Error(
        `the copy does not add up (${wrong.map((t) => `${t.name}: ${source[t.key]} read, ${after[t.key]} written`).join('; ')}); nothing was written`,
      );
    }
    await client.query('COMMIT');
    return { source, target: after, interrupted, replaced: held.length > 0 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function readSqlite(path: string): { rows: Map<string, Row[]>; source: StoreCounts } {
  if (!existsSync(path)) {
    throw new UserError(`the database ${path} does not exist`, {
      hint: "name a home's nightshift.db: --from sqlite:$HOME/.nightshift/nightshift.db",
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new UserError(`cannot open ${path}: ${(err as Error).message}`, {
      hint: "name a home's nightshift.db file",
      code: 'store_unreadable',
    });
  }
  try {
    checkVersionReadonly(db, path);
    // One read transaction: a consistent picture even if a CLI writes meanwhile.
    return db.transaction(() => {
      const rows = new Map<string, Row[]>();
      const source = {} as StoreCounts;
      for (const t of TABLES) {
        const list = db.prepare(`SELECT * FROM ${t.name}`).all() as Row[];
        rows.set(t.name, list);
        source[t.key] = list.length;
      }
      return { rows, source };
    })();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`, {
      hint: "name a home's nightshift.db file",
      code: 'store_unreadable',
    });
  } finally {
    db.close();
  }
}

async function countPostgres(client: pg.Client): Promise<StoreCounts> {
  const res = await client.query<Record<string, string>>(
    `SELECT ${TABLES.map((t) => `(SELECT count(*) FROM ${t.name}) AS "${t.key}"`).join(', ')}`,
  );
  const row = res.rows[0]!;
  const counts = {} as StoreCounts;
  for (const t of TABLES) counts[t.key] = Number(row[t.key]);
  return counts;
}

async function insertAll(client: pg.Client, table: Table, rows: Row[]): Promise<void> {
  const names = table.columns.map(([c]) => c).join(', ');
  const arrays = table.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const text = `INSERT INTO ${table.name} (${names}) SELECT * FROM unnest(${arrays})`;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    await client.query(
      text,
      table.columns.map(([c]) => chunk.map((r) => r[c] ?? null)),
    );
  }
}
