/**
 * A fingerprint of config.json as it is on disk: the daemon records the one it runs with, so
 * `doctor` and `status` can tell a daemon that has not loaded the current file.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { configPath } from './config.ts';

/** SHA-256 (hex) of the configuration file's bytes; '' when there is no file. */
export function configDigest(homeDir: string, env: NodeJS.ProcessEnv = process.env): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(configPath(homeDir, env));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  return createHash('sha256').update(bytes).digest('hex');
}
