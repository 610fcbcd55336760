/**
 * What the backup service needs from nightshift: the home (writer keys, files caches), the
 * profiles and run history in the store, and the secret resolver. The application hands in its
 * `App`, which has these parts; the service asks for no more.
 */
import type { SecretResolver } from '../secrets/resolver.ts';
import type { ProfileStore, Store } from '../store/store.ts';

export interface BackupContext {
  home: { dir: string };
  store: { profiles: ProfileStore; listRuns: Store['listRuns'] };
  secrets(): SecretResolver;
}
