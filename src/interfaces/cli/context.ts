/**
 * What every command needs from the command line beyond its own flags: the global options and
 * an opened home, closed again however the command ends.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { openApp } from '../../app/app.ts';
import type { App } from '../../app/app.ts';

export interface GlobalOptions {
  home?: string;
  /** `--store`: a store other than the home's SQLite file. */
  store?: string;
  json: boolean;
}

export function globalOptions(cmd: CommandUnknownOpts): GlobalOptions {
  const all = cmd.optsWithGlobals() as { home?: string; store?: string; json?: boolean };
  return { home: all.home, store: all.store, json: all.json === true };
}

/** Runs `fn` with the home's store open, and closes it afterwards. */
export async function withApp<T>(cmd: CommandUnknownOpts, fn: (app: App) => Promise<T>): Promise<T> {
  const g = globalOptions(cmd);
  const app = await openApp(g.home, process.env, g.store);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
