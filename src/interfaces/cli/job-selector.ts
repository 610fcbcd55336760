/**
 * The job a verb acts on: the positional id or name, or `--name NAME` as OpenClaw's docs write it.
 * Every `cron` verb that takes a job registers and reads it here, so they all agree.
 */
import type { Command, OptionValues } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../../domain/errors.ts';

export const JOB_ARGUMENT = 'job id or exact name (or --name NAME)';
export const NAME_SELECTOR = 'the job, by exact name (OpenClaw’s spelling)';

/** Adds the optional `[job]` argument and `--name NAME` to a verb that acts on one job. */
export function withJobSelector<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return cmd.argument('[job]', JOB_ARGUMENT).option('--name <name>', NAME_SELECTOR);
}

/** The one job the positional and `--name` (and `--id`, for `runs`) name; refused when none or two differ. */
export function selectedJob(verb: string, ...given: Array<string | undefined>): string {
  const refs = [...new Set(given.filter((g): g is string => g !== undefined))];
  if (refs.length === 1) return refs[0]!;
  throw new UserError(
    refs.length === 0 ? `cron ${verb} needs a job` : `cron ${verb}: the job is given twice, differently`,
    { hint: `nightshift cron ${verb} NAME (or --name NAME)`, exitCode: EXIT.usage },
  );
}

/**
 * `cron edit`, where `--name` is also the new name (as in OpenClaw's `cron edit ID --name NEW`):
 * with a positional job `--name` renames it; without one, `--name` selects the job.
 */
export function editSelection(
  positional: string | undefined,
  name: string | undefined,
): { ref: string; rename?: string } {
  if (positional !== undefined)
    return name !== undefined ? { ref: positional, rename: name } : { ref: positional };
  return { ref: selectedJob('edit', name) };
}
