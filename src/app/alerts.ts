/**
 * The alert use cases: the configured channels (`nightshift alert list`), what the alerting
 * remembers per job (`nightshift alert status`): its effective policy, consecutive failures,
 * whether it is alerting, and its last success; and the latest alert deliveries found on runs.
 */
import { effectivePolicy, isWatched } from '../alerts/policy.ts';
import type { DeliveryRecord, Job } from '../domain/job.ts';
import type { EffectivePolicy } from '../alerts/policy.ts';
import type { AlertState } from '../domain/alert-state.ts';
import type { App } from './app.ts';
import type { AlertsConfig } from '../config/config.ts';
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

export interface AlertChannels {
  channels: Array<{ name: string; kind: string; default: boolean }>;
  /** The channels every watched job alerts through unless it names its own. */
  defaults: string[];
  failureDestination?: AlertsConfig['failureDestination'];
}

/** The configured channels and which of them get alerts by default. */
export function alertChannels(app: App): AlertChannels {
  const config = app.config();
  const defaults = new Set(config.alerts.channels);
  const failureDestination = config.alerts.failureDestination;
  return {
    channels: config.channels.map((c) => ({ name: c.name, kind: c.kind, default: defaults.has(c.name) })),
    defaults: config.alerts.channels,
    ...(failureDestination ? { failureDestination } : {}),
  };
}

/**
 * One job's alert status, or that of every job with alerting when no job is given. `jobs` are the
 * jobs to look at when the caller holds them already (the daemon's engine); else the store's.
 */
export async function alertStatus(
  app: App,
  idOrName?: string,
  opts: { terms?: Terms; jobs?: Job[] } = {},
): Promise<JobAlertStatus[]> {
  const jobs =
    idOrName !== undefined
      ? [await requireJob(app, idOrName, opts)]
      : (opts.jobs ?? (await app.store.listJobs()));
  const rows: JobAlertStatus[] = [];
  for (const job of [...jobs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const policy = effectivePolicy(job);
    if (!isWatched(policy) && idOrName === undefined) continue;
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

export type RecentAlert = DeliveryRecord & { runId: string; jobId: string; jobName: string | null };

/** Alert deliveries (failure, recovery, anomaly) recorded on the latest `scan` runs, newest first. */
export async function recentAlerts(app: App, opts: { scan: number; jobs?: Job[] }): Promise<RecentAlert[]> {
  const names = new Map((opts.jobs ?? (await app.store.listJobs())).map((j) => [j.id, j.name]));
  const recent: RecentAlert[] = [];
  const runs = await app.store.listRuns({ limit: opts.scan });
  for (const r of runs.entries)
    for (const a of r.details?.alerts ?? [])
      recent.push({ ...a, runId: r.runId, jobId: r.jobId, jobName: names.get(r.jobId) ?? null });
  return recent.sort((a, b) => b.atMs - a.atMs);
}
