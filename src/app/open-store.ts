/**
 * The one place a store is chosen and opened. In order: `--store`, $NIGHTSHIFT_STORE, `store` in
 * config.json, else the home's SQLite file (the embedded default). A PostgreSQL password comes
 * from the configured secret reference (`store.password`), or from libpq's own PGPASSWORD /
 * ~/.pgpass, never from the URL.
 */
import { resolve } from 'node:path';
import type { Home } from '../config/home.ts';
import { configuredStore } from '../config/config.ts';
import type { StoreConfig } from '../config/config.ts';
import { UserError } from '../domain/errors.ts';
import type { Store } from '../store/store.ts';

export type StoreSpec =
  { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; passwordRef?: string };

/** Parses `sqlite:PATH` or `postgres://...` (a password reference only comes from config.json). */
export function parseStoreSpec(text: string, home?: Home, passwordRef?: string): StoreSpec {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    return { kind: 'postgres', url: text, ...(passwordRef !== undefined ? { passwordRef } : {}) };
  }
  if (text === 'sqlite' && home) return { kind: 'sqlite', path: home.dbPath };
  if (text.startsWith('sqlite:') && text.length > 'sqlite:'.length) {
    return { kind: 'sqlite', path: resolve(text.slice('sqlite:'.length)) };
  }
  throw new UserError(`"${text.replace(/\/\/[^@/]*@/, '//…@')}" is not a store`, {
    hint: 'use sqlite:PATH (a nightshift.db file) or postgres://USER@HOST:PORT/DATABASE',
    code: 'store_url',
  });
}

/** Which store this process uses. */
export function chooseStore(home: Home, flag: string | undefined, env: NodeJS.ProcessEnv): StoreSpec {
  const configured: StoreConfig | undefined =
    flag === undefined && env.NIGHTSHIFT_STORE === undefined ? configuredStore(home.dir, env) : undefined;
  const text = flag ?? env.NIGHTSHIFT_STORE ?? configured?.url;
  if (text === undefined || text === '') return { kind: 'sqlite', path: home.dbPath };
  // A password reference in config.json also serves a --store URL naming the same cluster.
  const ref =
    configured?.passwordRef ??
    (flag !== undefined || env.NIGHTSHIFT_STORE !== undefined
      ? configuredStore(home.dir, env)?.passwordRef
      : undefined);
  return parseStoreSpec(text, home, ref);
}

/** Opens the store; `resolveSecret` turns the password reference into its value (kept in memory only). */
export async function openStore(
  spec: StoreSpec,
  resolveSecret: (ref: string) => Promise<string>,
): Promise<Store> {
  // Loaded on first use: the SQL layers are the costliest imports, and `--help` needs no store.
  if (spec.kind === 'sqlite') {
    const { openSqliteStore } = await import('../store/sqlite-store.ts');
    return openSqliteStore(spec.path);
  }
  const { openPostgresStore } = await import('../store/postgres-store.ts');
  const password = spec.passwordRef !== undefined ? await resolveSecret(spec.passwordRef) : undefined;
  return openPostgresStore(spec.url, password !== undefined ? { password } : {});
}
