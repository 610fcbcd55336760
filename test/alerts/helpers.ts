/**
 * Shared setup for the alert tests: a real nightshift home (SQLite store, config.json with
 * channels pointing at local HTTP servers), the real Engine on a ManualClock with the AlertService
 * wired into its hooks, and real commands as payloads.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openApp } from '../../src/app/app.ts';
import type { App } from '../../src/app/app.ts';
import { AlertService } from '../../src/alerts/service.ts';
import type { AlertEvent, AlertServiceOptions } from '../../src/alerts/service.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { Job, Run } from '../../src/domain/job.ts';
import { CommandExecutor } from '../../src/payloads/command.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../../src/payloads/executor.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import type { EngineEvent } from '../../src/scheduler/engine.ts';

export const T0 = Date.UTC(2027, 0, 4, 0, 0, 0);
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const MiB = 1024 * 1024;

/** An environment without the user's nightshift settings. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NIGHTSHIFT_HOME;
  delete env.NIGHTSHIFT_CONFIG;
  return env;
}

export function writeConfig(home: string, config: object): void {
  const file = join(home, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  chmodSync(file, 0o600);
}

/**
 * The executor of backup jobs, at the executor port: each run reports the next scripted backup
 * stats (the real backup executor's output shape), so anomaly rules can be driven exactly.
 */
export class ScriptedBackupExecutor implements Executor {
  readonly kind = 'backup' as const;
  readonly script: ExecutionOutcome[] = [];

  async execute(_payload: unknown, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    const next = this.script.shift();
    if (!next) return { status: 'error', error: `no scripted outcome for run ${ctx.runId}` };
    return next;
  }
}

export function backupOk(stats: {
  bytesAdded: number;
  durationMs?: number;
  repoBytes?: number;
  repoDiskUsedPercent?: number;
}): ExecutionOutcome {
  return {
    status: 'ok',
    details: {
      backup: {
        profile: 'home',
        repository: '/backups/home',
        snapshotId: 'snap' + String(stats.bytesAdded),
        bytesRead: stats.bytesAdded * 2,
        bytesAdded: stats.bytesAdded,
        ...(stats.repoBytes !== undefined ? { repoBytes: stats.repoBytes } : {}),
        ...(stats.repoDiskUsedPercent !== undefined
          ? { repoDiskUsedPercent: stats.repoDiskUsedPercent }
          : {}),
        durationMs: stats.durationMs ?? 30_000,
      },
    },
  };
}

export function commandJob(id: string, command: string, extra: Partial<Job> = {}): Job {
  return {
    id,
    name: `job-${id}`,
    enabled: true,
    schedule: { kind: 'every', everyMs: MIN, anchorMs: T0 },
    payload: { kind: 'command', command },
    deleteAfterRun: false,
    evidence: {},
    history: DEFAULT_HISTORY,
    policy: DEFAULT_POLICY,
    createdAtMs: T0,
    updatedAtMs: T0,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
    ...extra,
  };
}

export interface World {
  /** Scratch directory (flag files for commands live here). */
  dir: string;
  home: string;
  clock: ManualClock;
  app: App;
  alerts: AlertService;
  engine: Engine;
  backups: ScriptedBackupExecutor;
  alertEvents: AlertEvent[];
  engineEvents: EngineEvent[];
  /** Opens the home again, as a restarted daemon would (new app, service and engine, same clock). */
  restart(): Promise<void>;
  /** Moves the clock and waits until the runs it started and their alerts are recorded. */
  advance(ms: number): Promise<void>;
  runs(jobId: string): Promise<Run[]>;
  close(): Promise<void>;
}

export async function world(
  config: object,
  opts: { startMs?: number; service?: Partial<AlertServiceOptions>; home?: string } = {},
): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'ns-alerts-'));
  const home = join(dir, 'home');
  const clock = new ManualClock(opts.startMs ?? T0);
  const w = { dir, home, clock, alertEvents: [] as AlertEvent[], engineEvents: [] as EngineEvent[] } as World;
  w.backups = new ScriptedBackupExecutor();
  const open = async (): Promise<void> => {
    w.app = await openApp(home, cleanEnv());
    w.alerts = new AlertService({
      app: w.app,
      clock,
      // One attempt: failure paths are tested without waiting for retries.
      channelDeps: { retry: { attempts: 1 } },
      log: (e) => w.alertEvents.push(e),
      ...opts.service,
    });
    w.engine = new Engine({
      store: w.app.store,
      clock,
      executors: [new CommandExecutor(), w.backups],
      log: (e) => w.engineEvents.push(e),
      changePollMs: 0,
      random: () => 0.5,
      onRunFinished: (job, run) => w.alerts.onRunFinished(job, run),
      onRunStarted: (job, run) => w.alerts.onRunStarted(job, run),
    });
  };
  const shut = async (): Promise<void> => {
    await w.engine.stop();
    await w.alerts.stop();
    await w.app.close();
  };
  // openApp creates the home; the configuration goes in before anything reads it.
  w.app = await openApp(home, cleanEnv());
  await w.app.close();
  writeConfig(home, config);
  await open();
  w.restart = async () => {
    await shut();
    await open();
  };
  w.advance = async (ms) => {
    await clock.advance(ms);
    await w.engine.idle();
    await w.alerts.idle();
  };
  w.runs = async (jobId) => (await w.app.store.listRuns({ jobId })).entries.reverse();
  w.close = async () => {
    await shut();
    rmSync(dir, { recursive: true, force: true });
  };
  return w;
}
