/**
 * The MCP status tool: is the daemon running, how many jobs, what fires next, which jobs are
 * failing (app/status.ts, as `nightshift cron status --json`), plus the client's scope.
 */
import * as z from 'zod/v4';
import { statusReport } from '../../app/status.ts';
import { scopeNote } from './guard.ts';
import { outputShape } from './shapes.ts';
import type { ToolContext } from './tool-context.ts';

export function registerStatusTool(ctx: ToolContext): void {
  const { server, app, guarded, scope } = ctx;

  server.registerTool(
    'status',
    {
      title: 'Scheduler status',
      description:
        'Is the daemon running, how many jobs, what fires next, which jobs are failing.' + scopeNote('read'),
      inputSchema: z.looseObject({}),
      outputSchema: outputShape({
        home: z.string(),
        daemon: z.object({
          running: z.boolean(),
          pid: z.number().nullable(),
          host: z.string().nullable(),
          startedAtMs: z.number().nullable(),
        }),
        jobs: z.object({ total: z.number(), enabled: z.number() }),
        nextFire: z
          .object({ jobId: z.string(), name: z.string(), atMs: z.number(), at: z.string() })
          .nullable(),
        failing: z.array(
          z.object({
            id: z.string(),
            name: z.string(),
            lastRunStatus: z.string().nullable(),
            lastError: z.string().nullable(),
            consecutiveErrors: z.number(),
          }),
        ),
        scope: z.enum(['read', 'operate', 'admin']).describe("this client's scope"),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('status', 'read', args, async () => ({ ...(await statusReport(app, Date.now())), scope })),
  );
}
