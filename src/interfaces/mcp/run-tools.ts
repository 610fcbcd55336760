/**
 * The MCP run tools: job_run, runs_list, run_get (app/runs.ts), and the run path they and the
 * backup tools share (createRunStarter).
 */
import * as z from 'zod/v4';
import type { App } from '../../app/app.ts';
import { getRun, listRuns, runNow } from '../../app/runs.ts';
import type { RunRequester } from '../../app/runs.ts';
import { MCP_TERMS } from '../../app/terms.ts';
import { runDetail, runPageView, runView } from '../../app/views.ts';
import { UserError } from '../../domain/errors.ts';
import { RUN_STATUSES } from '../../domain/job.ts';
import type { RunStatus } from '../../domain/job.ts';
import { defaultRedactor } from '../../secrets/redact.ts';
import { scopeNote } from './guard.ts';
import type { McpLogEvent, Structured } from './guard.ts';
import {
  DEFAULT_WAIT_SECONDS,
  MAX_WAIT_SECONDS,
  jobRef,
  outputShape,
  runArgs,
  runDetailOut,
  runPageShape,
  runResultShape,
} from './shapes.ts';
import type { RunArgs } from './shapes.ts';
import type { ToolContext } from './tool-context.ts';

export interface RunStarterDeps {
  app: App;
  log: (event: McpLogEvent) => void;
  /** The daemon's engine, when the server runs inside it. */
  requestRun?: RunRequester;
  /** Stops runs this server executes itself (shutdown on a signal). */
  signal: AbortSignal;
  /** Keeps runs this server executes itself, so shutdown can wait for them. */
  background: Set<Promise<unknown>>;
}

/**
 * Requests a manual run of a job the way `cron run` does, or through the daemon's engine when
 * the server runs inside it; with `wait`, waits for the run's end.
 */
export function createRunStarter(
  deps: RunStarterDeps,
): (jobId: string, args: RunArgs) => Promise<Structured> {
  const { app, log, background } = deps;
  return async function startRun(jobId: string, args: RunArgs): Promise<Structured> {
    if (args.timeoutSeconds !== undefined && args.wait !== true) {
      throw new UserError('timeoutSeconds: only applies with wait=true', {
        hint: 'add "wait": true, or drop timeoutSeconds',
      });
    }
    const { result, executor, run } = await runNow(
      app,
      jobId,
      {
        due: args.due === true,
        wait: args.wait === true,
        deadlineMs: Date.now() + (args.timeoutSeconds ?? DEFAULT_WAIT_SECONDS) * 1000,
        ...(deps.requestRun ? { requestRun: deps.requestRun } : {}),
        signal: deps.signal,
        // An in-process run keeps going after this call returns; it is tracked so shutdown waits for it.
        track: (running) => {
          const tracked = running.catch((err: unknown) => {
            log({
              event: 'mcp.run_failed',
              runId: null,
              message: defaultRedactor.redact(err instanceof Error ? err.message : String(err)),
            });
          });
          background.add(tracked);
          void tracked.finally(() => background.delete(tracked));
        },
      },
      { terms: MCP_TERMS },
    );
    return {
      ok: result.ok,
      enqueued: result.enqueued,
      runId: result.runId ?? null,
      ...(result.reason !== undefined ? { reason: result.reason } : {}),
      executedBy: executor.by,
      ...(run ? { run: runView(run) } : {}),
    };
  };
}

export function registerRunTools(ctx: ToolContext): void {
  const { server, app, guarded, startRun } = ctx;

  server.registerTool(
    'job_run',
    {
      title: 'Run a job now',
      description:
        'Run a job now: queued for the daemon when one is running, else run by this server. Returns ' +
        `{ok, enqueued, runId}. With wait=true, waits up to timeoutSeconds (default ${DEFAULT_WAIT_SECONDS}, ` +
        `at most ${MAX_WAIT_SECONDS}) and returns the run; a run still going then keeps going (follow it ` +
        'with run_get).' +
        scopeNote('operate'),
      inputSchema: z.looseObject({ job: jobRef, ...runArgs }),
      outputSchema: outputShape(runResultShape),
    },
    (args) => guarded('job_run', 'operate', args, async () => startRun(args.job, args)),
  );

  server.registerTool(
    'runs_list',
    {
      title: 'List runs',
      description:
        'Run history, newest first, of one job or of all jobs; filter by status; page with limit and ' +
        'cursor (the nextCursor of the page before; offset also works, but slows down deep in the list). ' +
        'Entries have the `nightshift cron runs --json` shape.' +
        scopeNote('read'),
      inputSchema: z.looseObject({
        job: jobRef
          .optional()
          .describe('job id or exact name (or the id of a deleted one-shot job); all jobs when absent'),
        status: z.enum(RUN_STATUSES).optional(),
        limit: z.number().int().min(1).max(500).optional().describe('default 20'),
        offset: z.number().int().min(0).optional().describe('default 0'),
        cursor: z.string().min(1).optional().describe("the previous page's nextCursor"),
      }),
      outputSchema: outputShape(runPageShape()),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('runs_list', 'read', args, async () => {
        const page = await listRuns(
          app,
          {
            ...(args.job !== undefined ? { job: args.job } : {}),
            ...(args.status ? { status: args.status as RunStatus } : {}),
            ...(args.limit !== undefined ? { limit: args.limit } : {}),
            ...(args.offset !== undefined ? { offset: args.offset } : {}),
            ...(args.cursor !== undefined ? { cursor: args.cursor } : {}),
          },
          { terms: MCP_TERMS },
        );
        return runPageView(page);
      }),
  );

  server.registerTool(
    'run_get',
    {
      title: 'Get a run',
      description:
        'One run: status, the reason it ended so (error), exit code, evidence checks and the output tail.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ runId: z.string().min(1) }),
      outputSchema: outputShape(runDetailOut.shape),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('run_get', 'read', args, async () => {
        const { run, jobName } = await getRun(app, args.runId, { terms: MCP_TERMS });
        return { ...runDetail(run), jobName };
      }),
  );
}
