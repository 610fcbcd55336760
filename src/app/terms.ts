/**
 * How a front end words the errors of a use case. The use cases (jobs.ts, runs.ts) decide *that*
 * something is wrong, once; the hint of how to fix it names the face's own commands or tools
 * (`nightshift cron edit` on the command line, `job_edit` over MCP), so each face passes its terms.
 * A new face (the HTTP API) adds its own object here.
 */
import type { Job } from '../domain/job.ts';

/** A message and the hint that goes with it. */
export interface Wording {
  message: string;
  hint: string;
}

export interface Terms {
  /** No job has this id or exact name; `home` is the directory looked in. */
  jobNotFound(idOrName: string, home: string): Wording;
  /** Another job already has this name. */
  nameTaken(name: string): Wording;
  /** An edit that gives nothing to change. */
  nothingToChange(job: Job): Wording;
  /** No run has this id. */
  runNotFound(runId: string): Wording;
  /** A job to remove that other jobs run after (`successors`, nearest first). */
  hasSuccessors(job: Job, successors: Job[]): Wording;
}

function successorsMessage(job: Job, successors: Job[]): string {
  const names = successors.map((s) => s.name).join(', ');
  return `${job.name} cannot be removed: ${successors.length === 1 ? `${names} runs` : `${names} run`} after it (a chain), and would wait for a run that never comes`;
}

/** The command line's words (the default: what a person at a terminal types). */
export const CLI_TERMS: Terms = {
  // A terminal user may have several homes (--home), so the message says which one was searched.
  jobNotFound: (idOrName, home) => ({
    message: `no job with id or name "${idOrName}" in ${home}`,
    hint: 'list the jobs with `nightshift cron list --all` (names are exact and case-sensitive)',
  }),
  nameTaken: (name) => ({
    message: `a job named "${name}" already exists`,
    hint: 'pick another --name, or change the existing job with `nightshift cron edit`',
  }),
  nothingToChange: (job) => ({
    message: 'nothing to change: give at least one flag',
    hint: `see \`nightshift cron edit --help\`; the job stays as \`nightshift cron get ${job.id}\` shows`,
  }),
  runNotFound: (runId) => ({
    message: `no run with id "${runId}"`,
    hint: 'list runs with `nightshift cron runs --id JOB`; old runs are removed by the job history policy',
  }),
  hasSuccessors: (job, successors) => ({
    message: successorsMessage(job, successors),
    hint: `remove them first (nightshift cron rm ${successors.at(-1)!.name}) or give them a schedule of their own (nightshift cron edit ${successors[0]!.name} --cron ...); or \`nightshift cron rm ${job.name} --force\` removes ${job.name} and ${successors.map((s) => s.name).join(', ')} together`,
  }),
};

/** The MCP tools' words: tool names and argument fields; the home's path is not the agent's concern. */
export const MCP_TERMS: Terms = {
  jobNotFound: (idOrName) => ({
    message: `no job with id or name "${idOrName}"`,
    hint: 'list the jobs with the jobs_list tool (names are exact and case-sensitive)',
  }),
  nameTaken: (name) => ({
    message: `a job named "${name}" already exists`,
    hint: 'pick another name, or change the existing job with job_edit',
  }),
  nothingToChange: () => ({
    message: 'nothing to change: give at least one field besides job',
    hint: 'e.g. {"job":"nightly","enabled":false}; job_show gives the current values',
  }),
  runNotFound: (runId) => ({
    message: `no run with id "${runId}"`,
    hint: 'list runs with the runs_list tool; old runs are removed by the job history policy',
  }),
  hasSuccessors: (job, successors) => ({
    message: successorsMessage(job, successors),
    hint: `remove them first with job_remove, or give them a schedule of their own with job_edit; or job_remove with force: true removes ${job.name} and ${successors.map((s) => s.name).join(', ')} together`,
  }),
};

/** The HTTP API's words: endpoints and body fields. */
export const API_TERMS: Terms = {
  jobNotFound: (idOrName) => ({
    message: `no job with id or name "${idOrName}"`,
    hint: 'list the jobs with GET /api/v1/jobs?all=true (names are exact and case-sensitive)',
  }),
  nameTaken: (name) => ({
    message: `a job named "${name}" already exists`,
    hint: 'pick another name, or change the existing job with PATCH /api/v1/jobs/{job}',
  }),
  nothingToChange: () => ({
    message: 'body: nothing to change: give at least one field',
    hint: 'e.g. {"enabled": false}; GET /api/v1/jobs/{job} gives the current values',
  }),
  runNotFound: (runId) => ({
    message: `no run with id "${runId}"`,
    hint: 'list runs with GET /api/v1/runs; old runs are removed by the job history policy',
  }),
  hasSuccessors: (job, successors) => ({
    message: successorsMessage(job, successors),
    hint: `remove them first (DELETE /api/v1/jobs/{job}), or give them a schedule of their own (PATCH); or DELETE /api/v1/jobs/${job.name}?force=true removes ${job.name} and ${successors.map((s) => s.name).join(', ')} together`,
  }),
};
