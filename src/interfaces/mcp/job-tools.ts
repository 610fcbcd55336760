/**
 * The MCP job tools: jobs_list, job_show, job_add, job_edit, job_remove, the same use cases as
 * `nightshift cron list|show|add|edit|rm` (app/jobs.ts), with MCP's wording of errors.
 */
import * as z from 'zod/v4';
import { addJob, editJob, listJobs, newJob, removeJob, requireJob, showJob } from '../../app/jobs.ts';
import { MCP_TERMS } from '../../app/terms.ts';
import { publicJob } from '../../app/views.ts';
import type { JobInput } from '../../domain/job-validation.ts';
import { scopeNote } from './guard.ts';
import {
  jobFields,
  jobOut,
  jobRef,
  normalizeSchedule,
  outputShape,
  payloadIn,
  scheduleIn,
} from './shapes.ts';
import type { ToolContext } from './tool-context.ts';

/** What the job was saved with that the user should hear (alerts no channel will deliver). */
const warningsOut = z
  .array(z.string())
  .describe(
    'problems that did not stop the job being saved, e.g. alerts: none will be delivered (no channel configured)',
  );

export function registerJobTools(ctx: ToolContext): void {
  const { server, app, guarded, jobsChanged } = ctx;

  server.registerTool(
    'jobs_list',
    {
      title: 'List jobs',
      description:
        'All jobs (disabled ones only with all=true), ordered by name, with schedule, status and next run.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ all: z.boolean().optional().describe('include disabled jobs') }),
      outputSchema: outputShape({ jobs: z.array(jobOut) }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('jobs_list', 'read', args, async () => {
        const now = Date.now();
        const jobs = await listJobs(app, { all: args.all === true });
        return { jobs: jobs.map((j) => publicJob(j, now)) };
      }),
  );

  server.registerTool(
    'job_show',
    {
      title: 'Show a job',
      description:
        'One job with its execution contract in plain words (what runs, where, timeout, what counts as ' +
        'success, retries, overlap, misses) and its next 5 fire times. Environment values are never shown.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ job: jobRef }),
      outputSchema: outputShape({
        job: jobOut,
        contract: z.array(z.string()),
        nextRuns: z.array(z.string()).describe('ISO 8601, UTC'),
        timeZone: z.string(),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('job_show', 'read', args, async () => {
        const now = Date.now();
        const shown = await showJob(app, args.job, { nowMs: now, terms: MCP_TERMS });
        return {
          job: publicJob(shown.job, now),
          contract: shown.contract,
          nextRuns: shown.nextFires.map((f) => new Date(f).toISOString()),
          timeZone: shown.timeZone,
        };
      }),
  );

  server.registerTool(
    'job_add',
    {
      title: 'Add a job',
      description:
        'Create a job: a unique name, one schedule and a command. Secrets never go into a job: put ' +
        'references (env:NAME, file:/path) where a secret is needed.' +
        scopeNote('admin'),
      inputSchema: z.looseObject({
        name: z.string().describe('unique job name'),
        schedule: scheduleIn,
        payload: payloadIn,
        ...jobFields,
      }),
      outputSchema: outputShape({ job: jobOut, warnings: warningsOut }),
    },
    (args) =>
      guarded('job_add', 'admin', args, async () => {
        const now = Date.now();
        const input = { ...args, schedule: normalizeSchedule(args.schedule) } as unknown as JobInput;
        const { job, warnings } = await addJob(app, newJob(input, now), { terms: MCP_TERMS });
        await jobsChanged();
        return { job: publicJob(job, now), warnings };
      }),
  );

  server.registerTool(
    'job_edit',
    {
      title: 'Edit a job',
      description:
        'Change a job: only the fields given change. payload, policy, evidence and history merge into ' +
        'the current values (evidence keys set to null are removed); schedule is replaced whole.' +
        scopeNote('admin'),
      inputSchema: z.looseObject({
        job: jobRef,
        name: z.string().optional().describe('new name'),
        schedule: scheduleIn.optional(),
        payload: payloadIn.partial().optional(),
        ...jobFields,
      }),
      outputSchema: outputShape({ job: jobOut, warnings: warningsOut }),
    },
    (args) =>
      guarded('job_edit', 'admin', args, async () => {
        const { job: ref, ...rest } = args;
        const job = await requireJob(app, ref, { terms: MCP_TERMS });
        const patch = { ...rest } as Record<string, unknown>;
        if (patch.schedule !== undefined) patch.schedule = normalizeSchedule(patch.schedule);
        const now = Date.now();
        const { job: updated, warnings } = await editJob(app, job, patch as Partial<JobInput>, {
          nowMs: now,
          terms: MCP_TERMS,
        });
        await jobsChanged();
        return { job: publicJob(updated, now), warnings };
      }),
  );

  server.registerTool(
    'job_remove',
    {
      title: 'Remove a job',
      description:
        'Delete a job and its run history. Refused while other jobs run after it (a chain), naming them; ' +
        'force: true removes those jobs too.' +
        scopeNote('admin'),
      inputSchema: z.looseObject({
        job: jobRef,
        force: z
          .boolean()
          .optional()
          .describe('also remove the jobs that run after it (directly or through others)'),
      }),
      outputSchema: outputShape({
        ok: z.boolean(),
        removed: z.boolean(),
        id: z.string(),
        name: z.string(),
        alsoRemoved: z.array(z.string()).describe('with force: the jobs that ran after it, removed too'),
      }),
      annotations: { destructiveHint: true },
    },
    (args) =>
      guarded('job_remove', 'admin', args, async () => {
        const { job, removed, alsoRemoved } = await removeJob(app, args.job, {
          terms: MCP_TERMS,
          force: args.force === true,
        });
        await jobsChanged();
        return { ok: true, removed, id: job.id, name: job.name, alsoRemoved: alsoRemoved.map((j) => j.name) };
      }),
  );
}
