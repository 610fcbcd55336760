/**
 * /api/v1/alerts: the configured channels (as `alert list --json`), the per-job alert state (as
 * `alert status --json`), and the latest alert deliveries recorded on runs.
 */
import { z } from 'zod/v4';
import { alertChannels, alertStatus, recentAlerts } from '../../../app/alerts.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { route } from '../route.ts';

export function alertRoutes(deps: ApiDeps): ApiRoute[] {
  const { app } = deps;
  return [
    route({
      method: 'GET',
      url: '/api/v1/alerts',
      scope: 'read',
      tag: 'alerts',
      summary: 'Alert channels, the alert state of every watched job, and the latest deliveries',
      description:
        'recent: alert deliveries (failure, recovery, anomaly) found on the latest `scan` runs, newest first.',
      query: z.object({ scan: z.coerce.number().int().min(1).max(5000).default(500) }),
      handler: async ({ query }) => {
        const jobs = deps.jobs();
        return {
          ...alertChannels(app),
          jobs: await alertStatus(app, undefined, { jobs }),
          recent: await recentAlerts(app, { scan: query.scan, jobs }),
        };
      },
    }),
  ];
}
