/**
 * A PostgreSQL store URL: `postgres://USER@HOST[:PORT]/DB[?schema=NAME&sslmode=require&host=/socket/dir]`.
 * The password never sits in the URL (it would land in config files, shell history and the process
 * list): it comes from a secret reference. `schema` names the PostgreSQL schema the cluster's
 * tables live in (default `public`); two clusters on one database need two schemas.
 */
import type pg from 'pg';
import { UserError } from '../domain/errors.ts';

export interface PostgresTarget {
  config: pg.ClientConfig;
  schema: string;
  /** For messages: no password, ever. */
  display: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function isPostgresUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

export function parsePostgresUrl(spec: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw badUrl(spec, 'it is not a URL');
  }
  if (!/^postgres(ql)?:$/.test(url.protocol)) throw badUrl(spec, `the scheme is ${url.protocol}`);
  if (url.password !== '') {
    throw new UserError('the PostgreSQL store URL carries a password', {
      hint: 'remove it from the URL and give it by reference: "store": { "url": "...", "password": "env:PGPASSWORD" } in config.json (see docs/cluster.md)',
      code: 'store_password_in_url',
    });
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw badUrl(spec, `the schema "${schema}" is not a plain lower-case name (letters, digits, _)`);
  }
  const socketDir = url.searchParams.get('host');
  const host = socketDir ?? (url.hostname === '' ? '127.0.0.1' : decodeURIComponent(url.hostname));
  const config: pg.ClientConfig = {
    host,
    port: url.port === '' ? 5432 : Number(url.port),
    ...(url.username !== '' ? { user: decodeURIComponent(url.username) } : {}),
    ...(database !== '' ? { database } : {}),
    ...(url.searchParams.get('sslmode') === 'require' ? { ssl: { rejectUnauthorized: false } } : {}),
    ...(url.searchParams.get('sslmode') === 'verify-full' ? { ssl: true } : {}),
    application_name: 'nightshift',
  };
  const who = url.username !== '' ? `${decodeURIComponent(url.username)}@` : '';
  const display = `postgres://${who}${host}:${config.port}/${database}${schema !== 'public' ? `?schema=${schema}` : ''}`;
  return { config, schema, display };
}

function badUrl(spec: string, why: string): UserError {
  // The spec is echoed only up to its credentials part, never beyond an '@'.
  const shown = spec.includes('@')
    ? `${spec.slice(0, spec.indexOf('//') + 2)}…@${spec.split('@').pop()}`
    : spec;
  return new UserError(`the PostgreSQL store URL ${shown} is not usable: ${why}`, {
    hint: 'write it as postgres://USER@HOST:PORT/DATABASE (optionally ?schema=NAME)',
    code: 'store_url',
  });
}
