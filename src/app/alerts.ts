/**
 * The alert use cases: what the alerting remembers per job (`nightshift alert status`): its
 * effective policy, consecutive failures, whether it is alerting, and its last success.
 */
import { effectivePolicy } from '../alerts/policy.ts';
import type { EffectivePolicy } from '../alerts/policy.ts';
import type { AlertState } from '../domain/alert-state.ts';
import type { App } from './app.ts';
import { requireJob } from './jobs.ts';
import type { Terms } from './terms.ts';

export interface JobAlertStatus {
  id: string;
  name: string;
  policy: EffectivePolicy;
  state: AlertState;
  /** When it last ended `ok` (epoch ms), if ever. */
  lastOkAtMs?: number;
}

/** One job's alert status, or that of every job with alerting when no job is given. */
export async function alertStatus(
  app: App,
  idOrName?: string,
  opts: { terms?: Terms } = {},
): Promise<JobAlertStatus[]> {
  const jobs = idOrName !== undefined ? [await requireJob(app, idOrName, opts)] : await app.store.listJobs();
  const rows: JobAlertStatus[] = [];
  for (const job of jobs) {
    const policy = effectivePolicy(job);
    const watched =
      policy.afterFailures > 0 ||
      policy.ifNoSuccessWithinMs !== undefined ||
      policy.anomalyFactor !== undefined ||
      policy.maxRepoBytes !== undefined;
    if (!watched && idOrName === undefined) continue;
    const state = (await app.store.alertState.get(job.id)) ?? { alerting: false };
    // The alert state keeps the last ok only for dead-man switches; the run history knows it too.
    const lastOk = (await app.store.listRuns({ jobId: job.id, status: 'ok', limit: 1 })).entries[0];
    const lastOkAtMs = state.lastOkAtMs ?? lastOk?.finishedAtMs;
    rows.push({
      id: job.id,
      name: job.name,
      policy,
      state,
      ...(lastOkAtMs !== undefined ? { lastOkAtMs } : {}),
    });
  }
  return rows;
}
