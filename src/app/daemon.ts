/**
 * The daemon process's parts: the home's lock, the store, the engine on the system clock, and the
 * sample job the README's first command creates. The CLI's `daemon` command drives this and owns
 * the output and the signals.
 */
import { join } from 'node:path';
import { SystemClock } from '../domain/clock.ts';
import type { Clock } from '../domain/clock.ts';
import type { Job } from '../domain/job.ts';
import { openHome } from '../config/home.ts';
import type { Engine, EngineEvent } from '../scheduler/engine.ts';
import { openAppAt } from './app.ts';
import { ensureJob, newJob } from './jobs.ts';
import type { App } from './app.ts';
import { acquireDaemonLock, DAEMON_HEARTBEAT_MS } from './daemon-lock.ts';
import type { AlertEvent } from '../alerts/service.ts';
import { buildEngine } from './engine.ts';
import { ensureHeartbeatJobs } from './sessions.ts';
import { describeSchedule } from '../domain/schedule.ts';
import { configDigest } from '../config/config-digest.ts';
import { watchConfig } from '../config/config-watch.ts';
import { daemonHost, joinCluster } from './cluster.ts';
import type { MembershipEvent } from '../scheduler/membership.ts';
import { LiveOutput } from '../payloads/live-output.ts';

export const SAMPLE_JOB_NAME = 'sample-heartbeat';

/** Everything the daemon reports: the engine's events and its services' (alerts, MCP endpoint). */
export type DaemonLogEvent =
  | EngineEvent
  | AlertEvent
  | MembershipEvent
  | { event: 'heartbeat.job'; jobId: string; name: string; every: string }
  | { event: 'config.reloaded'; file: string }
  | { event: 'config.refused'; error: string };

/**
 * An interface the daemon serves besides the scheduler (the MCP HTTP endpoint): started once the
 * engine runs, closed first on stop. Null when its configuration says it is off.
 */
export type DaemonService = (ctx: DaemonServiceContext) => Promise<{ close(): Promise<void> } | null>;

export interface DaemonServiceContext {
  app: App;
  engine: Engine;
  clock: Clock;
  /** The output of the runs this daemon executes, while they run. */
  liveOutput: LiveOutput;
  /** Every event the daemon logs, as it happens (the HTTP API streams and counts them); returns an unsubscribe. */
  subscribe(listener: (event: DaemonLogEvent) => void): () => void;
}

export interface DaemonOptions {
  homeFlag?: string;
  /** `--store`: the store to use instead of the home's SQLite file (open-store.ts). */
  storeFlag?: string;
  log: (event: DaemonLogEvent) => void;
  clock?: Clock;
  /** Called with the opened home before the engine starts (e.g. to add the sample job). */
  beforeStart?: (app: App) => Promise<void>;
  services?: DaemonService[];
  /** Reported in daemon.json (for `status` and `doctor`). */
  version?: string;
}

export interface RunningDaemon {
  app: App;
  engine: Engine;
  /**
   * Reads config.json again (SIGHUP, `nightshift daemon reload`, or a change to the file): new
   * channels, agents and secrets are used from the next run on; an agent added gets its heartbeat
   * job. An invalid file is refused with its error and the running configuration stays.
   */
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Stops firing, ends running payloads (recorded `interrupted`), closes the store, releases the lock. */
  stop(): Promise<void>;
}

/**
 * Takes the home's daemon lock (refusing, exit code 4, when another daemon holds it), opens the
 * store and starts the engine: crash recovery and catch-up happen before this resolves.
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const home = openHome(opts.homeFlag);
  // A CLI probing the lock holds it for an instant; waiting briefly avoids a spurious refusal.
  const lock = acquireDaemonLock(home.daemonLockPath, 'daemon', { waitMs: 2_000 });
  let app: App | undefined;
  try {
    app = await openAppAt(home, process.env, opts.storeFlag);
    const opened = app;
    // Configuration errors stop the start here, before anything runs, with the file and field named.
    opened.config();
    await opts.beforeStart?.(opened);
    const clock = opts.clock ?? new SystemClock();
    const listeners = new Set<(event: DaemonLogEvent) => void>();
    const log = (event: DaemonLogEvent): void => {
      opts.log(event);
      // A listener's failure must not stop the engine's work or the other listeners.
      for (const l of listeners)
        try {
          l(event);
        } catch {
          // ignored: listeners report their own problems
        }
    };
    const subscribe = (listener: (event: DaemonLogEvent) => void): (() => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };
    const host = daemonHost();
    // Set once the daemon has joined its cluster (the engine is made first).
    const member: { startRefusal?: () => string | undefined } = {};
    const liveOutput = new LiveOutput();
    const { engine, alerts } = buildEngine(opened, {
      clock,
      log,
      role: 'daemon',
      host,
      startRefusal: () => member.startRefusal?.(),
      output: liveOutput,
    });
    // Several daemons on one store: join the cluster first (leases, takeover), then fire.
    const cluster = opened.store.cluster
      ? await joinCluster({
          cluster: opened.store.cluster,
          store: opened.store,
          engine,
          clock,
          host,
          version: opts.version ?? 'unknown',
          log,
        })
      : undefined;
    if (cluster) member.startRefusal = () => cluster.startRefusal();
    for (const job of await ensureHeartbeatJobs(opened, clock.now()))
      log({
        event: 'heartbeat.job',
        jobId: job.id,
        name: job.name,
        every: describeSchedule(job.schedule),
      });
    await engine.start();
    await alerts.start();
    lock.update({
      ...(opts.version !== undefined && { version: opts.version }),
      configDigest: configDigest(opened.home.dir),
      configLoadedAtMs: clock.now(),
      heartbeatAtMs: clock.now(),
    });
    const heartbeat = setInterval(() => lock.update({ heartbeatAtMs: clock.now() }), DAEMON_HEARTBEAT_MS);
    heartbeat.unref();
    const reload = async (): Promise<{ ok: true } | { ok: false; error: string }> => {
      const digest = configDigest(opened.home.dir);
      try {
        const config = opened.reloadConfig();
        lock.update({
          configDigest: digest,
          configLoadedAtMs: clock.now(),
          configError: undefined,
          configErrorDigest: undefined,
        });
        opts.log({ event: 'config.reloaded', file: config.file ?? '(none)' });
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        lock.update({ configError: error, configErrorDigest: digest });
        opts.log({ event: 'config.refused', error });
        return { ok: false, error };
      }
      for (const job of await ensureHeartbeatJobs(opened, clock.now()))
        opts.log({
          event: 'heartbeat.job',
          jobId: job.id,
          name: job.name,
          every: describeSchedule(job.schedule),
        });
      await engine.refresh();
      return { ok: true };
    };
    const stopWatch = watchConfig(opened.home.dir, () => void reload());
    const services: Array<{ close(): Promise<void> }> = [];
    try {
      for (const start of opts.services ?? []) {
        const svc = await start({ app: opened, engine, clock, liveOutput, subscribe });
        if (svc) services.push(svc);
      }
    } catch (err) {
      for (const svc of services) await svc.close();
      await engine.stop();
      await cluster?.stop();
      await alerts.stop();
      throw err;
    }
    let stopping: Promise<void> | undefined;
    return {
      app: opened,
      engine,
      reload,
      stop: () =>
        (stopping ??= (async () => {
          clearInterval(heartbeat);
          stopWatch();
          try {
            for (const svc of services) await svc.close();
            await engine.stop();
            await cluster?.stop();
            await alerts.stop();
            await opened.close();
          } finally {
            lock.release();
          }
        })()),
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    lock.release();
    throw err;
  }
}

/**
 * The sample job: every minute, append a UTC timestamp to <home>/sample/heartbeat.log, and count
 * as `ok` only if that file was written. Returns it and whether it was created now.
 */
export async function ensureSampleJob(app: App, nowMs = Date.now()): Promise<{ job: Job; created: boolean }> {
  const dir = join(app.home.dir, 'sample');
  const logFile = join(dir, 'heartbeat.log');
  const job = newJob(
    {
      name: SAMPLE_JOB_NAME,
      description: `sample job: appends a UTC timestamp to ${logFile} every minute; remove it with \`nightshift cron rm ${SAMPLE_JOB_NAME}\``,
      schedule: { kind: 'every', everyMs: 60_000 },
      payload: {
        kind: 'command',
        argv: [
          '/bin/sh',
          '-c',
          'mkdir -p "$1" && date -u +%Y-%m-%dT%H:%M:%SZ >> "$1/heartbeat.log"',
          'sh',
          dir,
        ],
        timeoutSeconds: 30,
      },
      evidence: { expectFile: logFile },
    },
    nowMs,
  );
  return ensureJob(app, job);
}
