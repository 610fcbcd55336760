/**
 * `nightshift export`: jobs as job files, the shortest documents that declare them exactly
 * (job-file.ts), so `apply --check` on the result reports no drift.
 */
import { stringify } from 'yaml';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { jobToDocument } from '../domain/job-file.ts';
import type { App } from './app.ts';
import { listJobs } from './jobs.ts';

export interface ExportedJob {
  name: string;
  /** One YAML document, ending in a newline. */
  yaml: string;
}

/** A job name as a file name: letters, digits, `.`, `_` and `-` kept, the rest `_`. */
export function fileNameFor(name: string): string {
  return `${name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_')}.yaml`;
}

function toYaml(job: Job): string {
  return stringify(jobToDocument(job), { lineWidth: 0 });
}

/** The named jobs (all but heartbeat jobs when none are named), as YAML documents by name. */
export async function exportJobs(app: App, names: string[] = []): Promise<ExportedJob[]> {
  const all = await listJobs(app, { all: true });
  let chosen: Job[];
  if (names.length > 0) {
    chosen = names.map((n) => {
      const job = all.find((j) => j.name === n || j.id === n);
      if (!job)
        throw new UserError(`no job with id or name "${n}"`, {
          hint: 'list the jobs with `nightshift cron list --all`',
          exitCode: EXIT.notFound,
          code: 'not_found',
        });
      return job;
    });
  } else chosen = all.filter((j) => j.payload.kind !== 'heartbeat');
  return chosen.map((job) => ({ name: job.name, yaml: toYaml(job) }));
}
