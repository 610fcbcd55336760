/**
 * Opens a nightshift home: its store, configuration and secrets (config/app-context.ts says what
 * that gives). Every face (CLI, MCP, HTTP) opens its home here and then calls the use cases of
 * this folder; engine.ts wires the scheduler for the daemon and for in-process runs.
 */
import { chmodSync, existsSync } from 'node:fs';
import { openHome } from '../config/home.ts';
import type { Home } from '../config/home.ts';
import { loadConfig } from '../config/config.ts';
import type { NightshiftConfig } from '../config/config.ts';
import { SecretResolver } from '../secrets/resolver.ts';
import type { App } from '../config/app-context.ts';

export type { App };

/** Opens (creating when needed) the home and its store. */
export async function openApp(homeFlag?: string, env: NodeJS.ProcessEnv = process.env): Promise<App> {
  return openAppAt(openHome(homeFlag, env), env);
}

/** Opens the store of a home already opened (the daemon opens it first to take its lock). */
export async function openAppAt(home: Home, env: NodeJS.ProcessEnv = process.env): Promise<App> {
  // Loaded on first use: the SQL layer is the costliest import, and `next`/`--help` need no store.
  const { openSqliteStore } = await import('../store/sqlite-store.ts');
  const store = await openSqliteStore(home.dbPath);
  // SQLite creates files with the umask's mode; state must not be readable by others.
  for (const suffix of ['', '-wal', '-shm']) {
    const p = home.dbPath + suffix;
    if (existsSync(p)) chmodSync(p, 0o600);
  }
  let config: NightshiftConfig | undefined;
  let resolver: SecretResolver | undefined;
  const app: App = {
    home,
    store,
    config: () => (config ??= loadConfig(home.dir, env)),
    reloadConfig: () => {
      const fresh = loadConfig(home.dir, env);
      config = fresh;
      resolver = undefined;
      return fresh;
    },
    secrets: () => (resolver ??= new SecretResolver(app.config().secrets, { env })),
    close: () => store.close(),
  };
  return app;
}
