/**
 * The scheduler's status at a glance (`cron status`, the MCP `status` tool): is a daemon running,
 * how many jobs, what fires next, which jobs are failing.
 */
import type { Job } from '../domain/job.ts';
import type { App } from './app.ts';
import { probeDaemonLock } from './daemon-lock.ts';
import { jobNextFires, jobStatus } from './views.ts';

export interface StatusReport {
  home: string;
  daemon: { running: boolean; pid: number | null; host: string | null; startedAtMs: number | null };
  jobs: { total: number; enabled: number };
  /** With several daemons on one PostgreSQL store: every daemon the cluster knows (newest 200). */
  cluster?: {
    host: string;
    pid: number;
    version: string;
    state: 'alive' | 'stopped' | 'expired';
    startedAtMs: number;
    lastHeartbeatMs: number;
    leaseUntilMs: number;
    runsInFlight: number;
  }[];
  nextFire: { jobId: string; name: string; atMs: number; at: string } | null;
  failing: {
    id: string;
    name: string;
    lastRunStatus: string | null;
    lastError: string | null;
    consecutiveErrors: number;
  }[];
}

/** `jobs`: the jobs when the caller holds them already (the daemon's engine); else the store's. */
export async function statusReport(
  app: App,
  nowMs: number,
  opts: { jobs?: Job[] } = {},
): Promise<StatusReport> {
  const lock = probeDaemonLock(app.home.daemonLockPath);
  const jobs = opts.jobs ?? (await app.store.listJobs());
  const enabled = jobs.filter((j) => j.enabled);
  let next: { job: Job; atMs: number } | undefined;
  for (const job of enabled) {
    const at = jobNextFires(job, nowMs, 1)[0];
    if (at !== undefined && (next === undefined || at < next.atMs)) next = { job, atMs: at };
  }
  const failing = jobs.filter(
    (j) => j.state.consecutiveErrors > 0 || (j.state.lastRunStatus !== undefined && jobStatus(j) === 'error'),
  );
  return {
    home: app.home.dir,
    daemon: lock.held
      ? {
          // A CLI process running a job in place of a daemon holds the same lock with role `run`.
          running: lock.holder?.role !== 'run',
          pid: lock.holder?.pid ?? null,
          host: lock.holder?.host ?? null,
          startedAtMs: lock.holder?.startedAtMs ?? null,
        }
      : { running: false, pid: null, host: null, startedAtMs: null },
    jobs: { total: jobs.length, enabled: enabled.length },
    ...(app.store.cluster
      ? {
          cluster: (await app.store.cluster.daemons()).map((d) => ({
            host: d.host,
            pid: d.pid,
            version: d.version,
            state: d.state,
            startedAtMs: d.startedAtMs,
            lastHeartbeatMs: d.heartbeatAtMs,
            leaseUntilMs: d.leaseUntilMs,
            runsInFlight: d.runsInFlight,
          })),
        }
      : {}),
    nextFire: next
      ? { jobId: next.job.id, name: next.job.name, atMs: next.atMs, at: new Date(next.atMs).toISOString() }
      : null,
    failing: failing.map((j) => ({
      id: j.id,
      name: j.name,
      lastRunStatus: j.state.lastRunStatus ?? null,
      lastError: j.state.lastError ?? null,
      consecutiveErrors: j.state.consecutiveErrors,
    })),
  };
}
