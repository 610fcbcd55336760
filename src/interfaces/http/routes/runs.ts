/**
 * /api/v1/runs: all runs (filter by job and status, paged), one run with its evidence and details,
 * and the dashboard's per-job timeline. Runs look as `cron runs --json` shows them.
 */
import { z } from 'zod/v4';
import { runTimeline } from '../../../app/run-timeline.ts';
import { getRun, listRuns } from '../../../app/runs.ts';
import { API_TERMS } from '../../../app/terms.ts';
import { publicJob, runDetail, runPageView } from '../../../app/views.ts';
import { RUN_STATUSES } from '../../../domain/job.ts';
import { jobOut, runOut } from '../../mcp/shapes.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { EventStream, route } from '../route.ts';
import type { SseChannel } from '../sse.ts';
import { followRunOutput, runOutput } from '../../../app/run-output.ts';
import type { RunOutputEvent } from '../../../app/run-output.ts';
import { pageQuery, runPage, runPageQuery } from './jobs.ts';

const runOutputOut = z.object({
  runId: z.string(),
  jobId: z.string(),
  jobName: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  source: z
    .enum(['live', 'stored', 'none'])
    .describe('live: the daemon memory while it runs; stored: the run record'),
  output: z.string(),
  truncated: z.boolean().describe('earlier output scrolled out of the kept tail'),
});

const RANGES = { '24h': 24 * 3_600_000, '7d': 7 * 24 * 3_600_000 } as const;

export function runRoutes(deps: ApiDeps): ApiRoute[] {
  const { app, clock } = deps;
  return [
    route({
      method: 'GET',
      url: '/api/v1/runs',
      scope: 'read',
      tag: 'runs',
      summary: 'Runs, newest first, of one job or of all jobs; filter by status; paged',
      query: z.object({
        job: z
          .string()
          .min(1)
          .optional()
          .describe('job id or exact name (or the id of a deleted one-shot job)'),
        status: z.enum(RUN_STATUSES).optional(),
        ...runPageQuery,
      }),
      response: runPage,
      handler: async ({ query }) => {
        const page = await listRuns(
          app,
          {
            ...(query.job !== undefined ? { job: query.job } : {}),
            ...(query.status ? { status: query.status } : {}),
            limit: query.limit,
            offset: query.offset,
            ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
          },
          { terms: API_TERMS },
        );
        return runPageView(page);
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/runs/:runId',
      scope: 'read',
      tag: 'runs',
      summary: 'One run: status, reason, exit code, evidence checks, details and output tail',
      description: 'A running run has status "running"; poll this (or follow /api/v1/events) until it ends.',
      params: z.object({ runId: z.string().min(1) }),
      response: runOut.extend({ signal: z.string().nullable(), jobName: z.string().nullable() }),
      handler: async ({ params }) => {
        const { run, jobName } = await getRun(app, params.runId, { terms: API_TERMS });
        return { ...runDetail(run), jobName };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/runs/:runId/output',
      scope: 'read',
      tag: 'runs',
      summary: "A run's output: the live tail while it runs, the stored tail once it ended",
      description:
        'With follow=1 the answer is a server-sent event stream: `output` (the tail so far, shaped as ' +
        'the JSON answer), then one `line` event per line as the run prints it ({stream, text}), then ' +
        '`end` ({status, output}) when the run has ended, and the stream closes. The live tail is kept ' +
        "by the daemon that executes the run, up to the job's history.outputTailBytes.",
      params: z.object({ runId: z.string().min(1) }),
      query: z.object({
        follow: z.enum(['1', 'true', '0', 'false']).optional().describe('stream the output as it comes'),
      }),
      response: runOutputOut,
      handler: async ({ params, query }) => {
        if (query.follow !== '1' && query.follow !== 'true')
          return runOutput(app, deps.liveOutput, params.runId, { terms: API_TERMS });
        // Events that arrive before the stream is open wait here.
        let channel: SseChannel | undefined;
        const early: RunOutputEvent[] = [];
        const deliver = (e: RunOutputEvent): void => {
          if (!channel) {
            early.push(e);
            return;
          }
          if (e.kind === 'line') channel.send('line', { stream: e.stream, text: e.text });
          else {
            channel.send('end', { status: e.status, output: e.output });
            channel.end();
          }
        };
        const f = await followRunOutput(app, deps.liveOutput, clock, params.runId, deliver, {
          terms: API_TERMS,
        });
        return new EventStream(`output of run ${params.runId}`, (ch) => {
          channel = ch;
          ch.send('output', f.initial);
          if (!f.following) {
            ch.send('end', { status: f.initial.status, output: f.initial });
            ch.end();
          } else for (const e of early.splice(0)) deliver(e);
          return f.stop;
        });
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/timeline',
      scope: 'read',
      tag: 'runs',
      summary:
        'A page of jobs with their runs over 24 h or 7 d per time bucket and status, and recent durations',
      description:
        'What the dashboard draws: one row per job (ordered by name), each bucket counting runs by status ' +
        '(missed and skipped slots included), and the latest finished runs for a duration sparkline.',
      query: z.object({
        range: z.enum(['24h', '7d']).default('24h'),
        buckets: z.coerce.number().int().min(1).max(336).default(96),
        all: z.enum(['true', 'false']).optional().describe('include disabled jobs'),
        q: z.string().optional().describe('only jobs whose name contains this'),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        offset: pageQuery.offset,
      }),
      response: z.object({
        fromMs: z.number(),
        toMs: z.number(),
        bucketMs: z.number(),
        total: z.number(),
        hasMore: z.boolean(),
        jobs: z.array(
          z.object({
            job: jobOut,
            buckets: z.array(z.record(z.string(), z.number())),
            recent: z.array(
              z.object({
                runId: z.string(),
                status: z.enum(RUN_STATUSES),
                slotMs: z.number(),
                durationMs: z.number().nullable(),
              }),
            ),
          }),
        ),
      }),
      handler: async ({ query }) => {
        const now = clock.now();
        const all = deps
          .jobs()
          .filter(
            (j) =>
              (query.all !== 'false' || j.enabled) && (query.q === undefined || j.name.includes(query.q)),
          )
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const page = all.slice(query.offset, query.offset + query.limit);
        const t = await runTimeline(app.store, {
          jobIds: page.map((j) => j.id),
          nowMs: now,
          windowMs: RANGES[query.range],
          buckets: query.buckets,
          recent: 30,
        });
        return {
          fromMs: t.fromMs,
          toMs: t.toMs,
          bucketMs: t.bucketMs,
          total: all.length,
          hasMore: query.offset + page.length < all.length,
          jobs: page.map((j, i) => ({
            job: publicJob(j, now),
            buckets: t.jobs[i]!.buckets,
            recent: t.jobs[i]!.recent,
          })),
        };
      },
    }),
  ];
}
