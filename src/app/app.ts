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
import { chooseStore, openStore } from './open-store.ts';

export type { App };

/**
 * Opens (creating when needed) the home and its store: the home's SQLite file, or the store named
 * by `storeFlag` (`--store`), $NIGHTSHIFT_STORE or config.json (open-store.ts).
 */
export async function openApp(
  homeFlag?: string,
  env: NodeJS.ProcessEnv = process.env,
  storeFlag?: string,
): Promise<App> {
  return openAppAt(openHome(homeFlag, env), env, storeFlag);
}

/** Opens the store of a home already opened (the daemon opens it first to take its lock). */
export async function openAppAt(
  home: Home,
  env: NodeJS.ProcessEnv = process.env,
  storeFlag?: string,
): Promise<App> {
  let config: NightshiftConfig | undefined;
  let resolver: SecretResolver | undefined;
  const loadedConfig = (): NightshiftConfig => (config ??= loadConfig(home.dir, env));
  const secrets = (): SecretResolver => (resolver ??= new SecretResolver(loadedConfig().secrets, { env }));
  const spec = chooseStore(home, storeFlag, env);
  const store = await openStore(spec, async (ref) => (await secrets().resolve(ref)).reveal());
  if (spec.kind === 'sqlite') {
    // SQLite creates files with the umask's mode; state must not be readable by others.
    for (const suffix of ['', '-wal', '-shm']) {
      const p = spec.path + suffix;
      if (existsSync(p)) chmodSync(p, 0o600);
    }
  }
  const app: App = {
    home,
    store,
    config: loadedConfig,
    reloadConfig: () => {
      const fresh = loadConfig(home.dir, env);
      config = fresh;
      resolver = undefined;
      return fresh;
    },
    secrets,
    close: () => store.close(),
  };
  return app;
}
