/**
 * The MCP status tool: is the daemon running, how many jobs, what fires next, which jobs are
 * failing (app/status.ts, as `nightshift cron status --json`), plus the client's scope.
 */
import * as z from 'zod/v4';
import { statusReport } from '../../app/status.ts';
import { scopeNote } from './guard.ts';
import { outputShape, statusShape } from './shapes.ts';
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
      outputSchema: outputShape(statusShape),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('status', 'read', args, async () => ({ ...(await statusReport(app, Date.now())), scope })),
  );
}
