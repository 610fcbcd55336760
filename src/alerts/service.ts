/**
 * The alerting service: turns finished runs into failure, recovery and anomaly notifications,
 * watches for jobs that stopped succeeding (dead-man's switch), and pings healthcheck URLs.
 *
 *   const alerts = new AlertService({ app, clock, log });
 *   new Engine({ ..., onRunFinished: (j, r) => alerts.onRunFinished(j, r),
 *                     onRunStarted: (j, r) => alerts.onRunStarted(j, r) });
 *   await alerts.start();   // checks the dead-man's switches now, then every minute
 *   ...
 *   await engine.stop(); await alerts.stop();
 *
 * Decisions:
 * - Per-job memory (consecutive failures, alerting, cooldown, last ok) lives in store.alertState, so
 *   a restart neither repeats an alert nor forgets that a recovery notice is owed.
 * - Work for one job is serialized (a run finishing while the dead-man check looks at the same
 *   job must not lose an update); different jobs proceed in parallel.
 * - The hooks never throw: a missing channel, a failed send or a store error is recorded (in the
 *   run's details.alerts, in AlertState for dead-man alerts) and logged.
 */
import type { App } from '../config/app-context.ts';
import type { Notification } from '../delivery/channel.ts';
import type { ChannelDeps } from '../delivery/deps.ts';
import { configuredChannel } from '../delivery/create-channel.ts';
import type { AlertState } from '../domain/alert-state.ts';
import type { Clock, TimerHandle } from '../domain/clock.ts';
import type { DeliveryRecord, Job, Run } from '../domain/job.ts';
import { ANOMALY_HISTORY, classify, effectivePolicy, retryPending } from './policy.ts';
import type { EffectivePolicy } from './policy.ts';
import { detectAnomalies } from './anomaly.ts';
import {
  anomalyNotification,
  deadManNotification,
  failureNotification,
  recoveryNotification,
} from './notifications.ts';
import { finishPing, ping, pingBaseUrl, pingBody, pingUrl } from './healthcheck.ts';
import type { PingKind } from './healthcheck.ts';

/** What the service reports; the daemon prints one JSON line per event. Never secret values. */
export type AlertEvent =
  | {
      event: 'alert.sent' | 'alert.failed';
      purpose: AlertPurpose;
      jobId: string;
      jobName: string;
      runId?: string;
      channel: string;
      attempts?: number;
      error?: string;
    }
  | { event: 'healthcheck.failed'; jobId: string; runId: string; ping: PingKind; error: string }
  | { event: 'alert.error'; error: string; jobId?: string; runId?: string };

export type AlertPurpose = 'failure-alert' | 'recovery' | 'anomaly' | 'dead-man';

export interface AlertServiceOptions {
  app: App;
  clock: Clock;
  /** Passed to every channel (tests: retry policy, fetch); secrets resolve through the app. */
  channelDeps?: Partial<ChannelDeps>;
  log?: (event: AlertEvent) => void;
  /** For healthcheck pings; default the global fetch. */
  fetch?: typeof fetch;
  /** How often the dead-man's switches are checked (default 1 min). */
  deadManEveryMs?: number;
  /** Per healthcheck ping (default 10 s). */
  healthcheckTimeoutMs?: number;
  /**
   * Where the dead-man check gets the jobs (default: the store). The daemon passes the engine's
   * in-memory copy, so a minute's check does not re-read and parse every job.
   */
  jobs?: () => Job[] | Promise<Job[]>;
}

export const DEAD_MAN_EVERY_MS = 60_000;
/** Dead-man deliveries kept in AlertState (only the latest alert's matter). */
const KEEP_DEAD_MAN_RECORDS = 10;

export class AlertService {
  private readonly app: App;
  private readonly clock: Clock;
  private readonly channelDeps: Partial<ChannelDeps>;
  private readonly logSink: ((event: AlertEvent) => void) | undefined;
  private readonly fetchFn: typeof fetch | undefined;
  private readonly deadManEveryMs: number;
  private readonly healthcheckTimeoutMs: number | undefined;
  private readonly jobs: AlertServiceOptions['jobs'];
  /** Tail of each job's work queue. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<unknown>>();
  private timer: TimerHandle | undefined;
  private running = false;
  private abort = new AbortController();

  constructor(opts: AlertServiceOptions) {
    this.app = opts.app;
    this.clock = opts.clock;
    this.channelDeps = opts.channelDeps ?? {};
    this.logSink = opts.log;
    this.fetchFn = opts.fetch;
    this.deadManEveryMs = opts.deadManEveryMs ?? DEAD_MAN_EVERY_MS;
    this.healthcheckTimeoutMs = opts.healthcheckTimeoutMs;
    this.jobs = opts.jobs;
  }

  /** Checks every dead-man's switch now (a daemon that was down past a deadline alerts at once), then every minute. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    await this.checkDeadMen();
    this.arm();
  }

  /** Stops the timer, cuts short sends still waiting (recorded as not delivered), and waits for the rest. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.abort.abort();
    await this.idle();
  }

  /** Resolves once every alert, record and ping started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Engine hook: a healthcheck `start` ping. */
  onRunStarted(job: Job, run: Run): Promise<void> {
    return this.track(this.healthcheck(job, run, 'start'));
  }

  /** Engine hook: failure/recovery/anomaly alerts and the finish ping. Never throws. */
  async onRunFinished(job: Job, run: Run): Promise<void> {
    let kind = finishPing(run);
    if (kind === 'fail' && retryPending(job, run)) kind = 'log';
    const pinged = kind ? this.track(this.healthcheck(job, run, kind)) : Promise.resolve();
    await Promise.all([this.serialized(job.id, () => this.afterRun(job, run)), pinged]);
  }

  /** One pass over the dead-man's switches (start() and the timer call it; tests may too). */
  async checkDeadMen(): Promise<void> {
    let jobs: Job[];
    try {
      jobs = await (this.jobs ? this.jobs() : this.app.store.listJobs());
    } catch (err) {
      this.log({ event: 'alert.error', error: `dead-man check: ${errorText(err)}` });
      return;
    }
    await Promise.all(
      jobs
        .filter((job) => effectivePolicy(job).ifNoSuccessWithinMs !== undefined)
        .map((job) => this.serialized(job.id, () => this.checkDeadMan(job))),
    );
  }

  // -------------------------------------------------------------------------------------------

  private arm(): void {
    if (!this.running) return;
    this.timer = this.clock.at(this.clock.now() + this.deadManEveryMs, () => {
      this.timer = undefined;
      void this.track(this.checkDeadMen()).finally(() => this.arm());
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  /** Runs `fn` after the job's earlier work; errors are logged, never thrown. */
  private serialized(jobId: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(jobId) ?? Promise.resolve();
    const next = prev
      .then(fn)
      .catch((err: unknown) => this.log({ event: 'alert.error', error: errorText(err), jobId }));
    this.chains.set(jobId, next);
    void next.finally(() => {
      if (this.chains.get(jobId) === next) this.chains.delete(jobId);
    });
    return this.track(next);
  }

  private log(event: AlertEvent): void {
    try {
      this.logSink?.(event);
    } catch {
      // A failing log sink must not stop alerting.
    }
  }

  private async loadState(jobId: string): Promise<AlertState> {
    return (await this.app.store.alertState.get(jobId)) ?? { alerting: false };
  }

  private async afterRun(job: Job, run: Run): Promise<void> {
    const policy = effectivePolicy(job);
    const cls = classify(run.status, policy.includeSkipped);
    // A neutral run (skipped, interrupted, delivered) changes no alert state: no read at all.
    if (cls === 'neutral') return;
    const stored = await this.app.store.alertState.get(job.id);
    // Most jobs have no alerting: one read, no write (a busy second may finish a thousand runs).
    if (!stored && quiet(policy)) return;
    const state: AlertState = stored ?? { alerting: false };
    const before = JSON.stringify(state);
    const now = this.clock.now();
    const records: DeliveryRecord[] = [];

    if (cls === 'failure' && !retryPending(job, run)) {
      const failures = (state.failures ?? 0) + 1;
      state.failures = failures;
      const cooling =
        state.alerting && state.lastAlertAtMs !== undefined && now - state.lastAlertAtMs < policy.cooldownMs;
      if (policy.afterFailures > 0 && failures >= policy.afterFailures && !cooling) {
        const sent = await this.send(
          job,
          run,
          failureNotification(job, run, failures),
          'failure-alert',
          policy,
        );
        records.push(...sent);
        // Only a delivered alert starts the cooldown (when every channel failed, the next failure
        // tries again) and owes a recovery notice: nobody is told of a recovery from a failure
        // they never heard of.
        if (sent.some((r) => r.delivered)) {
          state.alerting = true;
          state.lastAlertAtMs = now;
        }
      }
    } else if (cls === 'success') {
      if (state.alerting && policy.recovery)
        records.push(
          ...(await this.send(
            job,
            run,
            recoveryNotification(job, run, state.failures ?? 0),
            'recovery',
            policy,
          )),
        );
      state.alerting = false;
      state.failures = 0;
      delete state.lastAlertAtMs;
      // Only the dead-man's switch reads it (and falls back to the run history without it).
      if (policy.ifNoSuccessWithinMs !== undefined || state.lastOkAtMs !== undefined)
        state.lastOkAtMs = run.finishedAtMs ?? now;
      if (run.details?.backup) records.push(...(await this.anomalies(job, run, policy, state, now)));
    }

    if (JSON.stringify(state) !== before) await this.app.store.alertState.put(job.id, state);
    if (records.length > 0) {
      // addRunDetails replaces the key: keep what an earlier writer (or attempt) put there.
      const existing = (await this.app.store.getRun(run.runId))?.details?.alerts ?? [];
      await this.app.store.addRunDetails(run.runId, { alerts: [...existing, ...records] });
    }
  }

  private async anomalies(
    job: Job,
    run: Run,
    policy: EffectivePolicy,
    state: AlertState,
    now: number,
  ): Promise<DeliveryRecord[]> {
    if (
      policy.anomalyFactor === undefined &&
      policy.maxRepoBytes === undefined &&
      policy.maxRepoUsagePercent === undefined
    )
      return [];
    const page = await this.app.store.listRuns({ jobId: job.id, status: 'ok', limit: ANOMALY_HISTORY + 1 });
    let found = detectAnomalies(run, page.entries, policy);
    // A full repository stays full: repeat that warning at most once per cooldown.
    const storage = (a: { kind: string }): boolean => a.kind === 'repo-size' || a.kind === 'repo-usage';
    if (state.repoSizeAlertAtMs !== undefined && now - state.repoSizeAlertAtMs < policy.cooldownMs)
      found = found.filter((a) => !storage(a));
    if (found.length === 0) return [];
    const sent = await this.send(job, run, anomalyNotification(job, run, found), 'anomaly', policy);
    if (found.some(storage) && sent.some((r) => r.delivered)) state.repoSizeAlertAtMs = now;
    return sent;
  }

  private async checkDeadMan(job: Job): Promise<void> {
    const policy = effectivePolicy(job);
    const span = policy.ifNoSuccessWithinMs;
    if (span === undefined) return;
    // The job may have changed or gone since the list was read.
    const current = await this.app.store.findJob(job.id);
    if (!current) return;
    const state = await this.loadState(job.id);
    const before = JSON.stringify(state);
    if (state.lastOkAtMs === undefined) {
      // Runs from before alerting knew the job (or before an upgrade) still count.
      const latest = (await this.app.store.listRuns({ jobId: job.id, status: 'ok', limit: 1 })).entries[0];
      const at = latest?.finishedAtMs ?? latest?.startedAtMs;
      if (at !== undefined) state.lastOkAtMs = at;
    }
    const everOk = state.lastOkAtMs !== undefined;
    const since = state.lastOkAtMs ?? current.createdAtMs;
    const now = this.clock.now();
    const silent = now - since >= span;
    const alreadyFired = state.deadManFiredAtMs !== undefined && state.deadManFiredAtMs >= since;
    if (silent && !alreadyFired) {
      const n = deadManNotification(current, since, span, now, everOk);
      const sent = await this.send(current, undefined, n, 'dead-man', effectivePolicy(current));
      state.deadManFiredAtMs = now;
      // The next ok run sends a recovery notice, when someone heard of the silence.
      if (sent.some((r) => r.delivered)) state.alerting = true;
      state.deadManDeliveries = sent.slice(-KEEP_DEAD_MAN_RECORDS);
    }
    if (JSON.stringify(state) !== before) await this.app.store.alertState.put(job.id, state);
  }

  /** Sends to the job's alert channels (else the configured defaults); one record per channel. */
  private async send(
    job: Job,
    run: Run | undefined,
    n: Notification,
    purpose: AlertPurpose,
    policy: EffectivePolicy,
  ): Promise<DeliveryRecord[]> {
    const atMs = (): number => this.clock.now();
    const fail = (channel: string, resolved: string, error: string): DeliveryRecord => {
      this.log({
        event: 'alert.failed',
        purpose,
        jobId: job.id,
        jobName: job.name,
        ...(run ? { runId: run.runId } : {}),
        channel,
        error,
      });
      return {
        purpose,
        intended: `${purpose} to ${channel}`,
        resolved,
        delivered: false,
        error,
        atMs: atMs(),
      };
    };
    let names = policy.channels;
    if (names.length === 0) {
      try {
        names = this.app.config().alerts.channels;
      } catch (err) {
        return [fail('(configuration)', 'none: the configuration could not be read', errorText(err))];
      }
    }
    if (names.length === 0)
      return [
        fail(
          '(none)',
          'none: no alert channels',
          'no alert channel: set "alerts.channels" in the configuration or give the job --alert-channel',
        ),
      ];
    return Promise.all(
      names.map(async (name): Promise<DeliveryRecord> => {
        let channel;
        try {
          channel = configuredChannel(this.app, name, this.channelDeps);
        } catch (err) {
          return fail(name, `none: no channel named "${name}"`, errorText(err));
        }
        const resolved = `${channel.kind}:${name}`;
        let result;
        try {
          result = await channel.send(n, { signal: this.abort.signal });
        } catch (err) {
          // Channels report failures as results; this is a bug elsewhere, still never fatal here.
          return fail(name, resolved, errorText(err));
        }
        if (!result.ok) return fail(name, resolved, result.error ?? 'not delivered');
        this.log({
          event: 'alert.sent',
          purpose,
          jobId: job.id,
          jobName: job.name,
          ...(run ? { runId: run.runId } : {}),
          channel: name,
          attempts: result.attempts,
        });
        return { purpose, intended: `${purpose} to ${name}`, resolved, delivered: true, atMs: atMs() };
      }),
    );
  }

  /** One ping; never throws (a bad URL or configuration is logged like an unreachable server). */
  private async healthcheck(job: Job, run: Run, kind: PingKind): Promise<void> {
    const failed = (error: string): void =>
      this.log({ event: 'healthcheck.failed', jobId: job.id, runId: run.runId, ping: kind, error });
    try {
      const base = pingBaseUrl(
        job,
        job.healthcheck?.url ? undefined : this.app.config().healthchecks.baseUrl,
      );
      if (base === undefined) return;
      const body =
        kind === 'start'
          ? 'start'
          : kind === 'log'
            ? `attempt ${run.attempt} ${pingBody(run)}; a retry follows`
            : pingBody(run);
      const result = await ping(pingUrl(base, kind, run.runId), body, {
        ...(this.fetchFn ? { fetch: this.fetchFn } : {}),
        ...(this.healthcheckTimeoutMs !== undefined ? { timeoutMs: this.healthcheckTimeoutMs } : {}),
        signal: this.abort.signal,
      });
      if (!result.ok) failed(result.error ?? 'failed');
    } catch (err) {
      failed(errorText(err));
    }
  }
}

/** A policy under which a run can cause nothing (no state to keep unless some is left from an earlier policy). */
function quiet(p: EffectivePolicy): boolean {
  return (
    p.afterFailures === 0 &&
    p.ifNoSuccessWithinMs === undefined &&
    p.anomalyFactor === undefined &&
    p.maxRepoBytes === undefined &&
    p.maxRepoUsagePercent === undefined
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
