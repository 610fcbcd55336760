/**
 * The one place the scheduler is wired: the engine over the home's store, every payload kind's
 * executor, and the hooks around each run (alerts, healthcheck pings, delivery). The daemon and an
 * in-process `cron run` both build their engine here, so a run behaves the same either way.
 */
import type { AlertEvent, AlertService } from '../alerts/service.ts';
import type { Clock } from '../domain/clock.ts';
import { Engine } from '../scheduler/engine.ts';
import type { EngineEvent } from '../scheduler/engine.ts';
import type { RunOutputSink } from '../payloads/live-output.ts';
import { heartbeatWaker } from '../sessions/heartbeat.ts';
import type { App } from './app.ts';
import { createExecutors } from './executors.ts';
import { createRunHooks } from './run-hooks.ts';
import { daemonHost } from './cluster.ts';

export interface EngineWiring {
  clock: Clock;
  log?: (event: EngineEvent | AlertEvent) => void;
  /**
   * `daemon`: polls the store for other processes' edits, and its alerts read the engine's jobs.
   * `run`: one manual run in this process (`cron run`); no polling.
   */
  role: 'daemon' | 'run';
  /** Default: the global fetch (tests point it nowhere else; servers are real local ones). */
  fetch?: typeof fetch;
  /** This host's name: jobs pinned to another host are not run here (default: daemonHost()). */
  host?: string;
  /** A cluster member's lease check before each payload start (membership.ts). */
  startRefusal?: () => string | undefined;
  /** Receives the payloads' output as it arrives (the daemon's live tail). */
  output?: RunOutputSink;
}

export interface WiredEngine {
  engine: Engine;
  /** Started and stopped by the daemon along with the engine (dead-man checks run on their own). */
  alerts: AlertService;
}

export function buildEngine(app: App, wiring: EngineWiring): WiredEngine {
  const { clock, log } = wiring;
  // The closures below run only once the engine exists (a run started, alerts started).
  const hooks = createRunHooks(app, clock, log, wiring.role === 'daemon' ? () => engine.jobs() : undefined);
  const engine: Engine = new Engine({
    store: app.store,
    clock,
    executors: createExecutors({
      app,
      clock,
      ...(wiring.fetch ? { fetch: wiring.fetch } : {}),
      // A system event with --wake now queues the agent's heartbeat with this engine; in a `cron run`
      // process a daemon (or the next cron run) takes it.
      wakeHeartbeat: heartbeatWaker((name) => engine.requestRun(name)),
    }),
    ...(log ? { log } : {}),
    onRunStarted: hooks.onRunStarted,
    onRunFinished: hooks.onRunFinished,
    ...(wiring.role === 'run' ? { changePollMs: 0 } : {}),
    host: wiring.host ?? daemonHost(),
    ...(wiring.startRefusal ? { startRefusal: wiring.startRefusal } : {}),
    ...(wiring.output ? { output: wiring.output } : {}),
  });
  return { engine, alerts: hooks.alerts };
}
