/**
 * The nightshift home: where all state lives. `--home DIR`, else $NIGHTSHIFT_HOME, else
 * ~/.nightshift. Created 0700; files inside are written 0600.
 */
import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../domain/errors.ts';

export interface Home {
  dir: string;
  /** The SQLite database holding jobs, runs and settings. */
  dbPath: string;
  /** Held by the running daemon (see daemon-lock). */
  daemonLockPath: string;
}

export function resolveHomeDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.NIGHTSHIFT_HOME ?? join(homedir(), '.nightshift');
  return resolve(chosen);
}

/** Resolves and creates the home (0700). Refuses a home that is a file. */
export function openHome(flag?: string, env: NodeJS.ProcessEnv = process.env): Home {
  const dir = resolveHomeDir(flag, env);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error('not a directory');
    // mkdir's mode is masked by umask and ignored for an existing dir; state must not be world-readable.
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch (err) {
    throw new UserError(`cannot use ${dir} as the nightshift home: ${(err as Error).message}`, {
      hint: 'pass --home DIR (or set NIGHTSHIFT_HOME) to a directory you can write',
    });
  }
  return { dir, dbPath: join(dir, 'nightshift.db'), daemonLockPath: join(dir, 'daemon.lock') };
}
