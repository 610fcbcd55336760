/**
 * The job a verb acts on: the positional id or name, or `--name NAME` as OpenClaw's docs write it.
 */
import { EXIT, UserError } from '../../domain/errors.ts';

export const JOB_ARGUMENT = 'job id or exact name (or --name NAME)';
export const NAME_SELECTOR = 'the job, by exact name (OpenClaw’s spelling)';

export function selectedJob(verb: string, ...given: Array<string | undefined>): string {
  const refs = [...new Set(given.filter((g): g is string => g !== undefined))];
  if (refs.length === 1) return refs[0]!;
  throw new UserError(
    refs.length === 0 ? `cron ${verb} needs a job` : `cron ${verb}: the job is given twice, differently`,
    { hint: `nightshift cron ${verb} NAME (or --name NAME)`, exitCode: EXIT.usage },
  );
}
