/**
 * What happens around every run, wherever it executes (the daemon, or `cron run` in-process):
 * healthcheck pings, failure/recovery/anomaly alerts, and delivery of the result. engine.ts hands
 * them to every engine it builds, so a run behaves the same either way.
 */
import type { Clock } from '../domain/clock.ts';
import type { Job, Run } from '../domain/job.ts';
import { AlertService } from '../alerts/service.ts';
import type { AlertEvent } from '../alerts/service.ts';
import { deliverRunResult } from '../delivery/job-delivery.ts';
import type { App } from './app.ts';

export interface RunHooks {
  alerts: AlertService;
  onRunStarted(job: Job, run: Run): Promise<void>;
  onRunFinished(job: Job, run: Run): Promise<void>;
}

export function createRunHooks(
  app: App,
  clock: Clock,
  log?: (event: AlertEvent) => void,
  jobs?: () => Job[] | Promise<Job[]>,
): RunHooks {
  const alerts = new AlertService({ app, clock, ...(log ? { log } : {}), ...(jobs ? { jobs } : {}) });
  return {
    alerts,
    onRunStarted: (job, run) => alerts.onRunStarted(job, run),
    onRunFinished: async (job, run) => {
      await Promise.all([alerts.onRunFinished(job, run), deliverRunResult(app, job, run, { clock })]);
    },
  };
}
