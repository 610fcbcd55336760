/**
 * Calls back when config.json changes on disk. The directory is watched, not the file: editors
 * and `mv` replace the file, which a watch on the old inode would not see. Bursts of events (an
 * editor's write, chmod and rename) are folded into one call.
 */
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { configDigest } from './config-digest.ts';
import { configPath } from './config.ts';

const SETTLE_MS = 250;

/** Starts watching; returns the function that stops it. Never throws (no watch, no reload on change). */
export function watchConfig(
  homeDir: string,
  onChange: () => void,
  env: NodeJS.ProcessEnv = process.env,
): () => void {
  const file = configPath(homeDir, env);
  let last = safeDigest(homeDir, env);
  let timer: NodeJS.Timeout | undefined;
  let watcher: ReturnType<typeof watch>;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name !== basename(file)) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        // Only a change of content counts (a touch or a chmod does not reload).
        const now = safeDigest(homeDir, env);
        if (now === last) return;
        last = now;
        onChange();
      }, SETTLE_MS);
      timer.unref();
    });
  } catch {
    return () => undefined;
  }
  watcher.on('error', () => watcher.close());
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}

function safeDigest(homeDir: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return configDigest(homeDir, env);
  } catch {
    return undefined;
  }
}
