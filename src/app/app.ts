/**
 * The composition root: opens a nightshift home and its store (executors.ts lists the payload
 * executors; daemon.ts and run-now.ts put the engine together). Interfaces (CLI, later HTTP/MCP)
 * get their parts from here and nowhere else.
 */
import { chmodSync, existsSync } from 'node:fs';
import { openHome } from '../config/home.ts';
import type { Home } from '../config/home.ts';
import type { Store } from '../store/store.ts';
import { loadConfig } from '../config/config.ts';
import type { NightshiftConfig } from '../config/config.ts';
import { SecretResolver } from '../secrets/resolver.ts';
import { UserError } from '../domain/errors.ts';
import type { Channel } from '../delivery/channel.ts';
import type { ChannelDeps } from '../delivery/deps.ts';
import { createChannel } from '../delivery/create-channel.ts';

export interface App {
  home: Home;
  store: Store;
  /** The configuration (`<home>/config.json`), read and validated on first use. */
  config(): NightshiftConfig;
  /**
   * Reads config.json again and uses it from now on (channels, agents, secrets). An invalid file
   * throws and the configuration in use stays as it was.
   */
  reloadConfig(): NightshiftConfig;
  /** Resolves secret references per the configuration; values are registered for redaction. */
  secrets(): SecretResolver;
  /** The configured channel of that name; a UserError listing the configured ones otherwise. */
  channel(name: string, deps?: Partial<ChannelDeps>): Channel;
  close(): Promise<void>;
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
    channel: (name, deps = {}) => {
      const channels = app.config().channels;
      const found = channels.find((c) => c.name === name);
      if (!found)
        throw new UserError(`no channel named "${name}"`, {
          code: 'channel_unknown',
          hint:
            channels.length > 0
              ? `configured channels: ${channels.map((c) => c.name).join(', ')}`
              : 'add it under "channels" in the configuration (see docs/alerts.md)',
        });
      return createChannel(found, {
        resolveSecret: async (ref) => (await app.secrets().resolve(ref)).reveal(),
        ...deps,
      });
    },
    close: () => store.close(),
  };
  return app;
}
