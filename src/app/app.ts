/**
 * The composition root: opens a nightshift home and its store (executors.ts lists the payload
 * executors; daemon.ts and run-now.ts put the engine together). Interfaces (CLI, later HTTP/MCP)
 * get their parts from here and nowhere else.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { openHome } from '../config/home.ts';
import type { Home } from '../config/home.ts';
import type { Store } from '../store/store.ts';

export interface App {
  home: Home;
  store: Store;
  close(): Promise<void>;
}

/** Short, readable, unique enough ids: 12 hex characters (48 random bits). */
export function newJobId(): string {
  return randomBytes(6).toString('hex');
}

/** Opens (creating when needed) the home and its store. */
export async function openApp(homeFlag?: string, env: NodeJS.ProcessEnv = process.env): Promise<App> {
  const home = openHome(homeFlag, env);
  // Loaded on first use: the SQL layer is the costliest import, and `next`/`--help` need no store.
  const { openSqliteStore } = await import('../store/sqlite-store.ts');
  const store = await openSqliteStore(home.dbPath);
  // SQLite creates files with the umask's mode; state must not be readable by others.
  for (const suffix of ['', '-wal', '-shm']) {
    const p = home.dbPath + suffix;
    if (existsSync(p)) chmodSync(p, 0o600);
  }
  return { home, store, close: () => store.close() };
}
