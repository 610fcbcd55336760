/**
 * What every command needs from the command line beyond its own flags: the global options and
 * an opened home, closed again however the command ends.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { openApp } from '../../app/app.ts';
import type { App } from '../../app/app.ts';

export interface GlobalOptions {
  home?: string;
  json: boolean;
}

export function globalOptions(cmd: CommandUnknownOpts): GlobalOptions {
  const all = cmd.optsWithGlobals() as { home?: string; json?: boolean };
  return { home: all.home, json: all.json === true };
}

/** Runs `fn` with the home's store open, and closes it afterwards. */
export async function withApp<T>(cmd: CommandUnknownOpts, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(globalOptions(cmd).home);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
