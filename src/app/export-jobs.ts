/**
 * `nightshift export`: jobs and backup profiles as job files, the shortest documents that declare
 * them exactly (job-file.ts, profile-file.ts), so `apply --check` on the result reports no drift.
 */
import { stringify } from 'yaml';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { jobToDocument } from '../domain/job-file.ts';
import { profileToDocument } from '../domain/profile-file.ts';
import type { App } from './app.ts';
import { requireProfile } from './backup-profiles.ts';
import { listJobs } from './jobs.ts';

export interface ExportedJob {
  /** Set for a backup profile. */
  kind?: 'backup-profile';
  name: string;
  /** One YAML document, ending in a newline. */
  yaml: string;
}

/**
 * A name as a file name: letters, digits, `.`, `_` and `-` kept, the rest `_`. A profile's file
 * ends in `.profile.yaml`, since a job and a profile may share a name (`backup quickstart`).
 */
export function fileNameFor(name: string, kind?: 'backup-profile'): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `${base}${kind === 'backup-profile' ? '.profile' : ''}.yaml`;
}

function toYaml(doc: Record<string, unknown>): string {
  return stringify(doc, { lineWidth: 0 });
}

export interface ExportSelection {
  /** Jobs by id or name. */
  jobs?: string[];
  /** Backup profiles by name. */
  profiles?: string[];
}

/**
 * The chosen jobs and profiles as YAML documents, profiles first (the jobs run them). With
 * nothing chosen: every profile and every job but heartbeat jobs; naming only jobs exports only
 * jobs, and only profiles only profiles.
 */
export async function exportJobs(app: App, select: string[] | ExportSelection = {}): Promise<ExportedJob[]> {
  const sel: ExportSelection = Array.isArray(select) ? { jobs: select } : select;
  const names = sel.jobs ?? [];
  const profileNames = sel.profiles ?? [];
  const everything = names.length === 0 && profileNames.length === 0;
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
  } else chosen = everything ? all.filter((j) => j.payload.kind !== 'heartbeat') : [];
  const profiles = everything
    ? await app.store.profiles.list()
    : await Promise.all(profileNames.map((n) => requireProfile(app, n)));
  return [
    ...profiles.map((p) => ({
      kind: 'backup-profile' as const,
      name: p.name,
      yaml: toYaml(profileToDocument(p)),
    })),
    ...chosen.map((job) => ({ name: job.name, yaml: toYaml(jobToDocument(job)) })),
  ];
}
