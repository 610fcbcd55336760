/** /api/v1/status: the `cron status --json` report, plus the API's address and the caller's scope. */
import { z } from 'zod/v4';
import { statusReport } from '../../../app/status.ts';
import { statusShape } from '../../mcp/shapes.ts';
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
      response: z.object({ ...statusShape, version: z.string() }),
      // The engine's jobs: no store read of every job on each dashboard load.
      handler: async ({ scope }) => ({
        ...(await statusReport(deps.app, deps.clock.now(), { jobs: deps.jobs() })),
        version,
        scope,
      }),
    }),
  ];
}
