/**
 * /api/v1/jobs: list, show (with the execution contract and next fire times), create, edit,
 * delete, enable, disable and run now: the use cases of app/jobs.ts and app/runs.ts, with the
 * API's wording of errors. Jobs look as `cron list --json` / `cron show --json` show them, minus
 * environment values and stdin contents (their keys and size only, as over MCP).
 */
import { z } from 'zod/v4';
import { addJob, editJob, listJobs, newJob, removeJob, setJobEnabled, showJob } from '../../../app/jobs.ts';
import { listRuns, runNow } from '../../../app/runs.ts';
import { API_TERMS } from '../../../app/terms.ts';
import { publicJob, runPageView } from '../../../app/views.ts';
import { RUN_STATUSES } from '../../../domain/job.ts';
import type { JobInput } from '../../../domain/job-validation.ts';
import {
  jobFields,
  jobOut,
  normalizeSchedule,
  payloadIn,
  runPageShape,
  scheduleIn,
} from '../../mcp/shapes.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { Reply, route } from '../route.ts';

export const jobParam = z.object({ job: z.string().min(1).describe('job id or exact name') });

const terms = { terms: API_TERMS };

export const pageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(20)
    .describe('at most this many (default 20, at most 500)'),
  offset: z.coerce.number().int().min(0).default(0).describe('skip this many (default 0)'),
};

/** Run lists also page by key: fast at any depth, where a deep offset reads every run it skips. */
export const runPageQuery = {
  ...pageQuery,
  cursor: z
    .string()
    .min(1)
    .optional()
    .describe("the previous page's nextCursor: the page after it (offset is then not used)"),
};

export const runPage = z.object(runPageShape());

export function jobRoutes(deps: ApiDeps): ApiRoute[] {
  const { app, clock } = deps;
  const setEnabled = (enabled: boolean): ApiRoute =>
    route({
      method: 'POST',
      url: `/api/v1/jobs/:job/${enabled ? 'enable' : 'disable'}`,
      scope: 'admin',
      tag: 'jobs',
      summary: enabled ? 'Let a job fire again' : 'Stop a job from firing (it keeps its history)',
      params: jobParam,
      response: z.object({ job: jobOut }),
      handler: async ({ params }) => {
        const now = clock.now();
        const job = await setJobEnabled(app, params.job, enabled, { ...terms, nowMs: now });
        await deps.jobsChanged();
        return { job: publicJob(job, now) };
      },
    });

  return [
    route({
      method: 'GET',
      url: '/api/v1/jobs',
      scope: 'read',
      tag: 'jobs',
      summary: 'List jobs, ordered by name (as `cron list --json`)',
      description: 'Disabled jobs only with all=true. Paged: total says how many there are.',
      query: z.object({
        all: z.enum(['true', 'false']).optional().describe('include disabled jobs'),
        q: z.string().optional().describe('only jobs whose name contains this'),
        limit: z.coerce.number().int().min(1).max(1000).default(1000).describe('default and maximum 1000'),
        offset: pageQuery.offset,
      }),
      response: z.object({ jobs: z.array(jobOut), total: z.number(), hasMore: z.boolean() }),
      handler: async ({ query }) => {
        const now = clock.now();
        const jobs = (await listJobs(app, { all: query.all === 'true' })).filter(
          (j) => query.q === undefined || j.name.includes(query.q),
        );
        const page = jobs.slice(query.offset, query.offset + query.limit);
        return {
          jobs: page.map((j) => publicJob(j, now)),
          total: jobs.length,
          hasMore: query.offset + page.length < jobs.length,
        };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/jobs/:job',
      scope: 'read',
      tag: 'jobs',
      summary: 'One job with its execution contract and next 5 fire times (as `cron show --json`)',
      params: jobParam,
      response: jobOut.extend({ contract: z.array(z.string()), nextRuns: z.array(z.string()) }),
      handler: async ({ params }) => {
        const now = clock.now();
        const shown = await showJob(app, params.job, { ...terms, nowMs: now });
        return {
          ...publicJob(shown.job, now),
          contract: shown.contract,
          nextRuns: shown.nextFires.map((f) => new Date(f).toISOString()),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/jobs',
      scope: 'admin',
      tag: 'jobs',
      summary: 'Create a job',
      description: 'Secrets never go into a job: put references (env:NAME, file:/path) where one is needed.',
      body: z.object({ name: z.string().min(1), schedule: scheduleIn, payload: payloadIn, ...jobFields }),
      response: z.object({ job: jobOut, warnings: z.array(z.string()) }),
      handler: async ({ body }) => {
        const now = clock.now();
        const input = { ...body, schedule: normalizeSchedule(body.schedule) } as unknown as JobInput;
        const { job, warnings } = await addJob(app, newJob(input, now), { ...terms, nowMs: now });
        await deps.jobsChanged();
        return new Reply(201, { job: publicJob(job, now), warnings });
      },
    }),
    route({
      method: 'PATCH',
      url: '/api/v1/jobs/:job',
      scope: 'admin',
      tag: 'jobs',
      summary: 'Change a job: only the fields given change',
      description:
        'payload, policy, evidence and history merge into the current values; schedule is replaced whole.',
      params: jobParam,
      body: z.object({
        name: z.string().min(1).optional(),
        schedule: scheduleIn.optional(),
        payload: payloadIn.partial().optional(),
        ...jobFields,
      }),
      response: z.object({ job: jobOut, warnings: z.array(z.string()) }),
      handler: async ({ params, body }) => {
        const now = clock.now();
        const patch = { ...body } as Record<string, unknown>;
        if (patch.schedule !== undefined) patch.schedule = normalizeSchedule(patch.schedule);
        const { job, warnings } = await editJob(app, params.job, patch as Partial<JobInput>, {
          ...terms,
          nowMs: now,
        });
        await deps.jobsChanged();
        return { job: publicJob(job, now), warnings };
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/jobs/:job',
      scope: 'admin',
      tag: 'jobs',
      summary: 'Delete a job and its run history',
      description:
        'Refused (409, has_successors) while other jobs run after it, naming them; force=true removes them too.',
      params: jobParam,
      query: z.object({
        force: z
          .enum(['true', 'false'])
          .optional()
          .describe('also remove the jobs that run after it (directly or through others)'),
      }),
      response: z.object({
        ok: z.boolean(),
        removed: z.boolean(),
        id: z.string(),
        name: z.string(),
        alsoRemoved: z.array(z.string()).describe('with force: the jobs that ran after it, removed too'),
      }),
      handler: async ({ params, query }) => {
        const { job, removed, alsoRemoved } = await removeJob(app, params.job, {
          ...terms,
          force: query.force === 'true',
        });
        await deps.jobsChanged();
        return { ok: true, removed, id: job.id, name: job.name, alsoRemoved: alsoRemoved.map((j) => j.name) };
      },
    }),
    setEnabled(true),
    setEnabled(false),
    route({
      method: 'POST',
      url: '/api/v1/jobs/:job/run',
      scope: 'operate',
      tag: 'jobs',
      summary: 'Run a job now (queued with the daemon, which starts it at once)',
      description:
        'With due=true only a slot that is due now is run. 202 when queued; 200 with ok=false and a reason ' +
        'when not (e.g. the job is running and its overlap policy is skip). Follow the run with ' +
        'GET /api/v1/runs/{runId} or /api/v1/events.',
      params: jobParam,
      body: z.object({ due: z.boolean().optional() }).strict().optional(),
      response: z.object({
        ok: z.boolean(),
        enqueued: z.boolean(),
        runId: z.string().nullable(),
        reason: z.string().optional(),
        executedBy: z.literal('daemon'),
      }),
      handler: async ({ params, body }) => {
        const { result } = await runNow(
          app,
          params.job,
          { due: body?.due === true, requestRun: deps.requestRun },
          terms,
        );
        return new Reply(result.enqueued ? 202 : 200, {
          ok: result.ok,
          enqueued: result.enqueued,
          runId: result.runId ?? null,
          ...(result.reason !== undefined ? { reason: result.reason } : {}),
          executedBy: 'daemon',
        });
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/jobs/:job/runs',
      scope: 'read',
      tag: 'runs',
      summary: "A job's run history, newest first (as `cron runs --json`)",
      params: jobParam,
      query: z.object({ status: z.enum(RUN_STATUSES).optional(), ...runPageQuery }),
      response: runPage,
      handler: async ({ params, query }) => {
        const page = await listRuns(
          app,
          {
            job: params.job,
            ...(query.status ? { status: query.status } : {}),
            limit: query.limit,
            offset: query.offset,
            ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
          },
          terms,
        );
        return runPageView(page);
      },
    }),
  ];
}
