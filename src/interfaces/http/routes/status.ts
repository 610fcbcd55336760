/** /api/v1/status: the `cron status --json` report, plus the API's address and the caller's scope. */
import { z } from 'zod/v4';
import { statusReport } from '../../../app/status.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { route } from '../route.ts';

export function statusRoutes(deps: ApiDeps, version: string): ApiRoute[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/status',
      scope: 'read',
      tag: 'status',
      summary: 'Is the daemon running, how many jobs, what fires next, which jobs are failing',
      response: z.object({
        home: z.string(),
        version: z.string(),
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
        scope: z.enum(['read', 'operate', 'admin']).describe("the caller's scope"),
      }),
      handler: async ({ scope }) => ({ ...(await statusReport(deps.app, deps.clock.now())), version, scope }),
    }),
  ];
}
