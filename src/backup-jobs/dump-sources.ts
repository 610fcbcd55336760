/**
 * A profile's database, git and command sources turned into streams for the archiver: the client
 * tool and its arguments per kind, passwords resolved from their references into the tool's
 * environment (never argv), and a record per source of what happened (exit status, bytes,
 * duration, or why it was skipped) for the run's evidence.
 */
import { commandStream, redisEofMark, type StreamOutcome } from '../backup/sources/command-stream.ts';
import type { VirtualStream } from '../backup/sources/streams.ts';
import { sourcePath, type SourceSpec } from '../domain/backup-source.ts';
import type { SourceRunRecord } from '../domain/job.ts';
import { mysqlTarget } from './mysql-target.ts';

export interface PlannedSource {
  spec: SourceSpec;
  stream: VirtualStream;
  outcome: StreamOutcome;
}

export interface SourceOptions {
  /** Run client tools under `nice -n 19` and `ionice -c 3` (idle), so people working do not notice. */
  lowPriority?: boolean;
  now?: () => number;
}

interface Tool {
  argv: string[];
  env?: Record<string, string>;
  debianPackage: string;
  trimTail?: (tail: Buffer) => number;
}

function redisArgs(target: string): string[] {
  if (/^rediss?:\/\//.test(target)) return ['-u', target];
  const m = /^([^:]+)(?::(\d+))?$/.exec(target);
  return m ? ['-h', m[1]!, '-p', m[2] ?? '6379'] : ['-u', target];
}

function toolFor(spec: SourceSpec, password: string | undefined): Tool {
  switch (spec.kind) {
    case 'postgres':
      return {
        argv: ['pg_dump', '--format=custom', '--no-password', `--dbname=${spec.target}`],
        ...(password !== undefined ? { env: { PGPASSWORD: password } } : {}),
        debianPackage: 'postgresql-client',
      };
    case 'mysql':
      return {
        argv: [
          'mariadb-dump',
          '--single-transaction',
          '--routines',
          '--events',
          '--triggers',
          ...mysqlTarget(spec.target).connection,
          mysqlTarget(spec.target).db,
        ],
        ...(password !== undefined ? { env: { MYSQL_PWD: password } } : {}),
        debianPackage: 'mariadb-client',
      };
    case 'redis':
      return {
        argv: ['redis-cli', ...redisArgs(spec.target), '--rdb', '-'],
        debianPackage: 'redis-tools',
        trimTail: redisEofMark,
      };
    case 'git':
      return { argv: ['git', '-C', spec.target, 'bundle', 'create', '-', '--all'], debianPackage: 'git' };
    case 'command':
      return { argv: ['sh', '-c', spec.target], debianPackage: 'dash' };
    case 'sqlite':
      throw new Error('sqlite sources are read through the library, not a tool');
  }
}

/** A consistent copy of a SQLite database read in one read transaction (sqlite3_serialize), in memory only. */
function sqliteStream(file: string, outcome: StreamOutcome, now: () => number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      const started = now();
      try {
        const { default: Database } = await import('better-sqlite3');
        let bytes: Buffer;
        try {
          const db = new Database(file, { readonly: true, fileMustExist: true });
          try {
            bytes = db.serialize();
          } finally {
            db.close();
          }
        } catch (err) {
          outcome.exitCode = 1;
          outcome.error = `cannot read the SQLite database ${file}: ${(err as Error).message}`;
          throw new Error(outcome.error);
        }
        outcome.exitCode = 0;
        outcome.bytes = bytes.length;
        yield bytes;
      } finally {
        outcome.durationMs = now() - started;
      }
    },
  };
}

/** Streams for each source; passwords are resolved now and live only in the tools' environment. */
export async function planSources(
  /** Resolves a secret reference to its value (the app's secret providers). */
  resolveSecret: (ref: string) => Promise<string>,
  sources: SourceSpec[],
  opts: SourceOptions = {},
): Promise<PlannedSource[]> {
  const now = opts.now ?? Date.now;
  const out: PlannedSource[] = [];
  for (const spec of sources) {
    const outcome: StreamOutcome = { bytes: 0, durationMs: 0 };
    let open: VirtualStream['open'];
    if (spec.kind === 'sqlite') open = () => sqliteStream(spec.target, outcome, now);
    else {
      const password = spec.passwordRef !== undefined ? await resolveSecret(spec.passwordRef) : undefined;
      const tool = toolFor(spec, password);
      const argv = opts.lowPriority ? ['nice', '-n', '19', 'ionice', '-c', '3', ...tool.argv] : tool.argv;
      open = (signal) =>
        commandStream(
          {
            argv,
            debianPackage: tool.debianPackage,
            now,
            ...(tool.env ? { env: tool.env } : {}),
            ...(tool.trimTail ? { trimTail: tool.trimTail } : {}),
          },
          outcome,
          signal,
        );
    }
    out.push({
      spec,
      outcome,
      stream: { path: sourcePath(spec), open, optional: spec.optional === true, mtimeMs: now() },
    });
  }
  return out;
}

/** What happened to each source, for the run record. */
export function sourceRecords(planned: PlannedSource[]): SourceRunRecord[] {
  return planned.map(({ spec, outcome }) => {
    const r: SourceRunRecord = {
      name: spec.name,
      kind: spec.kind,
      path: '/' + sourcePath(spec).join('/'),
      status:
        outcome.error === undefined && outcome.exitCode === 0 ? 'ok' : spec.optional ? 'skipped' : 'failed',
      bytes: outcome.bytes,
      durationMs: outcome.durationMs,
    };
    if (outcome.exitCode !== undefined) r.exitCode = outcome.exitCode;
    if (outcome.error !== undefined) r.reason = outcome.error;
    return r;
  });
}
