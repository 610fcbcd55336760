/**
 * What the services get from an opened nightshift home: its paths, the store, the configuration
 * and the secret resolver. app/app.ts opens one (openApp) and hands it down; a service never opens
 * a home itself. Channels are built from it by delivery/create-channel.ts (configuredChannel).
 */
import type { SecretResolver } from '../secrets/resolver.ts';
import type { Store } from '../store/store.ts';
import type { NightshiftConfig } from './config.ts';
import type { Home } from './home.ts';

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
  close(): Promise<void>;
}
