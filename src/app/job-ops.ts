/**
 * The job operations the job-file applier needs, as a port: the applier creates, edits and
 * removes jobs only through it, so the one "add a job" use case serves the CLI, MCP and files.
 * `storeJobOps` is the implementation over an opened app.
 */
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { applyJobPatch, buildJob } from '../domain/job-validation.ts';
import type { JobInput } from '../domain/job-validation.ts';
import { StoreConflictError } from '../store/store.ts';
import type { App } from './app.ts';
import { newJobId } from './app.ts';

export interface JobOps {
  list(): Promise<Job[]>;
  add(input: JobInput): Promise<Job>;
  edit(id: string, patch: Partial<JobInput>): Promise<Job>;
  remove(id: string): Promise<void>;
}

function nameTaken(name: string): UserError {
  return new UserError(`a job named "${name}" already exists`, {
    hint: 'pick another name, or change the existing job',
    exitCode: EXIT.conflict,
    code: 'name_taken',
  });
}

export function storeJobOps(app: App, now: () => number = Date.now): JobOps {
  return {
    list: () => app.store.listJobs(),
    add: async (input) => {
      const job = buildJob(input, now(), newJobId);
      try {
        await app.store.insertJob(job);
      } catch (err) {
        if (err instanceof StoreConflictError) throw nameTaken(job.name);
        throw err;
      }
      return job;
    },
    edit: async (id, patch) => {
      const job = await app.store.findJob(id);
      if (!job) throw new UserError(`no job with id ${id}`, { exitCode: EXIT.notFound, code: 'not_found' });
      const updated = applyJobPatch(job, patch, now());
      try {
        await app.store.updateJob(updated);
      } catch (err) {
        if (err instanceof StoreConflictError) throw nameTaken(updated.name);
        throw err;
      }
      return updated;
    },
    remove: async (id) => {
      await app.store.deleteJob(id);
    },
  };
}
