/**
 * Moving a home from its SQLite file to PostgreSQL (`nightshift store migrate --from sqlite:PATH
 * --to postgres://...`): every job, run, backup profile and session is copied in one transaction
 * on the target, and the counts of both sides are compared before it commits
 * (store/store-copy.ts). The home's daemon must be stopped, so nothing is written to the source
 * meanwhile and no run is left half-recorded.
 */
import { dirname, join } from 'node:path';
import { configuredStore, loadConfig } from '../config/config.ts';
import type { Home } from '../config/home.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import { SecretResolver } from '../secrets/resolver.ts';
import type { StoreCopyResult } from '../store/store-copy.ts';
import { daemonRunningError, probeDaemonLock } from './daemon-lock.ts';
import { parseStoreSpec } from './open-store.ts';

export type { StoreCopyResult, StoreCounts } from '../store/store-copy.ts';

export async function migrateStore(opts: {
  from: string;
  to: string;
  /** Delete what the target already holds instead of refusing. */
  replace: boolean;
  /** The home whose config.json may name the target's password reference (`store.password`). */
  home: Home;
  env: NodeJS.ProcessEnv;
  nowMs: number;
}): Promise<StoreCopyResult & { from: string; to: string }> {
  const from = parseStoreSpec(opts.from, opts.home);
  if (from.kind !== 'sqlite') {
    throw new UserError(`--from must name a SQLite store, not ${opts.from.replace(/\/\/[^@/]*@/, '//…@')}`, {
      hint: "write --from sqlite:PATH (a home's nightshift.db, e.g. sqlite:~/.nightshift/nightshift.db)",
      exitCode: EXIT.usage,
      code: 'store_url',
    });
  }
  const passwordRef = configuredStore(opts.home.dir, opts.env)?.passwordRef;
  const to = parseStoreSpec(opts.to, opts.home, passwordRef);
  if (to.kind !== 'postgres') {
    throw new UserError(`--to must name a PostgreSQL store, not ${opts.to}`, {
      hint: 'write --to postgres://USER@HOST:PORT/DATABASE[?schema=NAME]',
      exitCode: EXIT.usage,
      code: 'store_url',
    });
  }
  // The source home's daemon writes runs as they happen: a copy taken meanwhile would miss some.
  const lockPath = join(dirname(from.path), 'daemon.lock');
  if (probeDaemonLock(lockPath).held) throw daemonRunningError(lockPath);

  let password: string | undefined;
  if (to.passwordRef !== undefined) {
    const secrets = new SecretResolver(loadConfig(opts.home.dir, opts.env).secrets, { env: opts.env });
    password = (await secrets.resolve(to.passwordRef)).reveal();
  }
  // Loaded on first use, as open-store.ts does: the SQL layers are the costliest imports.
  const { copySqliteToPostgres } = await import('../store/store-copy.ts');
  const result = await copySqliteToPostgres({
    sqlitePath: from.path,
    pgUrl: to.url,
    ...(password !== undefined ? { password } : {}),
    replace: opts.replace,
    nowMs: opts.nowMs,
  });
  return { ...result, from: `sqlite:${from.path}`, to: to.url };
}
