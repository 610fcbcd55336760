/**
 * What every command needs from the command line beyond its own flags: the global options and
 * an opened home, closed again however the command ends.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { openApp } from '../../app/app.ts';
import type { App } from '../../app/app.ts';
import { findHistoryOwner } from '../../app/run-history.ts';
import type { HistoryOwner } from '../../app/run-history.ts';
import { EXIT, UserError } from '../../domain/errors.ts';
import type { Job } from '../../domain/job.ts';

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

/** An existing job, or a deleted one whose runs are kept (see run-history.ts). */
export async function requireHistoryOwner(app: App, idOrName: string): Promise<HistoryOwner> {
  return (await findHistoryOwner(app.store, idOrName)) ?? (await requireJob(app, idOrName));
}

/** A job by id or exact name, or the not-found error every command gives. */
export async function requireJob(app: App, idOrName: string): Promise<Job> {
  const job = await app.store.findJob(idOrName);
  if (job) return job;
  throw new UserError(`no job with id or name "${idOrName}" in ${app.home.dir}`, {
    hint: 'list the jobs with `nightshift cron list --all` (names are exact and case-sensitive)',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}
