/**
 * /api/v1/alerts: the configured channels (as `alert list --json`), the per-job alert state (as
 * `alert status --json`), and the latest alert deliveries recorded on runs.
 */
import { z } from 'zod/v4';
import { effectivePolicy, isWatched } from '../../../alerts/policy.ts';
import { listRuns } from '../../../app/runs.ts';
import type { DeliveryRecord } from '../../../domain/job.ts';
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
        const config = app.config();
        const defaults = new Set(config.alerts.channels);
        const jobs = [];
        for (const job of deps.jobs()) {
          const policy = effectivePolicy(job);
          if (!isWatched(policy)) continue;
          const state = (await app.store.alertState.get(job.id)) ?? { alerting: false };
          jobs.push({ id: job.id, name: job.name, policy, state });
        }
        jobs.sort((a, b) => (a.name < b.name ? -1 : 1));
        const names = new Map(deps.jobs().map((j) => [j.id, j.name]));
        const recent: Array<DeliveryRecord & { runId: string; jobId: string; jobName: string | null }> = [];
        const runs = await listRuns(app, { limit: query.scan });
        for (const r of runs.entries)
          for (const a of r.details?.alerts ?? [])
            recent.push({ ...a, runId: r.runId, jobId: r.jobId, jobName: names.get(r.jobId) ?? null });
        recent.sort((a, b) => b.atMs - a.atMs);
        return {
          channels: config.channels.map((c) => ({
            name: c.name,
            kind: c.kind,
            default: defaults.has(c.name),
          })),
          defaults: config.alerts.channels,
          ...(config.alerts.failureDestination
            ? { failureDestination: config.alerts.failureDestination }
            : {}),
          jobs,
          recent,
        };
      },
    }),
  ];
}
