/**
 * Database, git and command sources of a backup profile: each is streamed into the snapshot as
 * one file under a stable virtual path (`/databases/postgres/erp.dump`), so successive snapshots
 * of the same source deduplicate against each other and restores find it by name.
 */
import { UserError } from './errors.ts';

export type SourceKind = 'postgres' | 'mysql' | 'redis' | 'sqlite' | 'git' | 'command';

export interface SourceSpec {
  kind: SourceKind;
  /** Unique within the profile; names the virtual file and `restore-source NAME`. */
  name: string;
  /** Database name or URL, Redis URL, SQLite file, git directory, or the command (argv as one shell line). */
  target: string;
  /** When it cannot run (database down), the run records the skip and stays `ok` with a warning. */
  optional?: boolean;
  /** PostgreSQL/MariaDB: a secret reference to the password (given to the client tool by environment). */
  passwordRef?: string;
}

/** Top-level directories of the snapshot that sources use; backed-up paths may not start with them. */
export const SOURCE_ROOTS = ['databases', 'git', 'commands'] as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** The snapshot path of a source's file, as names from the root. */
export function sourcePath(s: Pick<SourceSpec, 'kind' | 'name'>): string[] {
  switch (s.kind) {
    case 'postgres':
      return ['databases', 'postgres', `${s.name}.dump`];
    case 'mysql':
      return ['databases', 'mysql', `${s.name}.sql`];
    case 'redis':
      return ['databases', 'redis', `${s.name}.rdb`];
    case 'sqlite':
      return ['databases', 'sqlite', `${s.name}.sqlite`];
    case 'git':
      return ['git', `${s.name}.bundle`];
    case 'command':
      return ['commands', s.name];
  }
}

/** The default name of a source from its target: the database, the file or directory name, host-port for Redis. */
export function defaultSourceName(kind: SourceKind, target: string): string {
  let base = target;
  if (kind === 'postgres' || kind === 'mysql' || kind === 'redis') {
    const m = /^[a-z]+:\/\/(?:[^@/]*@)?([^/:?]+)(?::(\d+))?(?:\/([^?]*))?/i.exec(target);
    if (m) base = kind === 'redis' ? `${m[1]}-${m[2] ?? '6379'}${m[3] ? `-${m[3]}` : ''}` : (m[3] ?? m[1]!);
  } else base = target.replace(/\/+$/, '').split('/').pop() ?? target;
  if (kind === 'sqlite') base = base.replace(/\.(sqlite3?|db)$/i, '');
  const clean = base.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[._-]+/, '');
  return clean === '' ? kind : clean.slice(0, 100);
}

/** Parses `NAME=command` (the --command-source flag). */
export function parseCommandSource(text: string): { name: string; command: string } {
  const i = text.indexOf('=');
  if (i <= 0 || text.slice(i + 1).trim() === '')
    throw new UserError(`--command-source: expected NAME='command', got ${JSON.stringify(text)}`, {
      hint: "e.g. --command-source app-db='docker exec db pg_dump -Fc app'",
    });
  return { name: text.slice(0, i), command: text.slice(i + 1) };
}

const FLAG: Record<SourceKind, string> = {
  postgres: '--postgres',
  mysql: '--mysql',
  redis: '--redis',
  sqlite: '--sqlite',
  git: '--git',
  command: '--command-source',
};

export function sourceFlag(kind: SourceKind): string {
  return FLAG[kind];
}

/** Checks a profile's sources; `looksLikeRef` is the profile's secret-reference test. */
export function validateSources(sources: SourceSpec[], looksLikeRef: (s: string) => boolean): void {
  const seen = new Set<string>();
  for (const s of sources) {
    const flag = FLAG[s.kind];
    if (flag === undefined) throw new UserError(`sources: unknown kind ${JSON.stringify(s.kind)}`);
    if (!NAME.test(s.name))
      throw new UserError(`${flag}: ${JSON.stringify(s.name)} is not a valid source name`, {
        hint: 'names use letters, digits, _ . - (up to 100 characters)',
      });
    const key = sourcePath(s).join('/');
    if (seen.has(key))
      throw new UserError(`${flag}: two sources are both named ${s.name}`, {
        hint: 'give one of them another name with NAME=... (e.g. --postgres erp2=erp)',
      });
    seen.add(key);
    if (s.target.trim() === '') throw new UserError(`${flag}: missing target`);
    if (
      (s.kind === 'postgres' || s.kind === 'mysql' || s.kind === 'redis') &&
      /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(s.target)
    )
      throw new UserError(
        `${flag}: the URL has a password in it (it would be stored and shown; not repeated here)`,
        {
          hint: `give it by reference: ${flag === '--redis' ? 'a URL without password and REDISCLI_AUTH in the environment' : '--db-password-ref env:NAME'}`,
        },
      );
    if ((s.kind === 'sqlite' || s.kind === 'git') && !s.target.startsWith('/'))
      throw new UserError(`${flag}: must be an absolute path, got ${JSON.stringify(s.target)}`);
    if (s.passwordRef !== undefined) {
      if (s.kind !== 'postgres' && s.kind !== 'mysql')
        throw new UserError(`${flag}: a password reference is only for --postgres and --mysql`);
      if (!looksLikeRef(s.passwordRef))
        throw new UserError(`${flag}: the password is not a secret reference (not shown)`, {
          hint: 'give where it lives: env:NAME, file:/path, cmd:..., vault:...',
        });
    }
  }
}
