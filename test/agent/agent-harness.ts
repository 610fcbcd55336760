/**
 * A real nightshift home (SQLite, config.json) with agents pointing at a local OpenAI-protocol
 * server, and an engine running the real executors (command, agentTurn, heartbeat, systemEvent)
 * with job delivery wired in as the daemon does. Time is a ManualClock; runs are requested and run
 * in this process, as `cron run` does without a daemon.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../../src/app/app.ts';
import { newJobId } from '../../src/domain/job-id.ts';
import type { App } from '../../src/app/app.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { buildJob } from '../../src/domain/job-validation.ts';
import type { DeliveryPolicy, Job, Payload, Run } from '../../src/domain/job.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import { CommandExecutor } from '../../src/payloads/command.ts';
import { createAgentExecutors } from '../../src/agent/executors.ts';
import { heartbeatWaker } from '../../src/sessions/heartbeat.ts';
import { deliverRunResult } from '../../src/delivery/job-delivery.ts';
import { startFakeLlmServer } from './fake-llm-server.ts';
import type { FakeLlmServer } from './fake-llm-server.ts';

export const LLM_KEY = 'sk-harness-0c4f1e9a7b2d';
export const START_MS = Date.parse('2026-03-01T02:00:00Z');

export interface HarnessOptions {
  /** Extra or replacing configuration sections; `agents.default` points at the server unless given. */
  config?: (llm: FakeLlmServer) => Record<string, unknown>;
  stream?: boolean;
  /** Default true: wire a heartbeat waker for `wake: now` system events. */
  wake?: boolean;
}

export interface Harness {
  app: App;
  dir: string;
  clock: ManualClock;
  engine: Engine;
  llm: FakeLlmServer;
  /** Every run the engine finished, after its delivery ran. */
  finished: Run[];
  addJob(name: string, payload: Payload, delivery?: DeliveryPolicy): Promise<Job>;
  /** Requests a manual run and runs it here; returns the stored run (with delivery records). */
  run(jobName: string): Promise<Run>;
  /** Runs every queued run of a job (e.g. a heartbeat a system event woke). */
  runQueued(jobName: string): Promise<Run[]>;
  close(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const llm = await startFakeLlmServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-agent-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { mode: 0o700 });
  const config = {
    agents: { default: { baseUrl: llm.baseUrl, model: 'test-model', apiKeyRef: 'env:LLM_KEY' } },
    ...opts.config?.(llm),
  };
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  const app = await openApp(home, { LLM_KEY, HOME: dir, PATH: process.env.PATH ?? '/usr/bin:/bin' });
  const clock = new ManualClock(START_MS);
  const finished: Run[] = [];
  const holder: { engine?: Engine } = {};
  const executors = [
    new CommandExecutor({ killGraceMs: 500 }),
    ...createAgentExecutors({
      app,
      clock,
      stream: opts.stream === true,
      ...(opts.wake !== false
        ? { wakeHeartbeat: heartbeatWaker((name) => (holder.engine as Engine).requestRun(name)) }
        : {}),
    }),
  ];
  const engine = new Engine({
    store: app.store,
    clock,
    executors,
    changePollMs: 0,
    onRunFinished: async (job, run) => {
      await deliverRunResult(app, job, run, { clock, channelDeps: { retry: { attempts: 1 } } });
      finished.push(run);
    },
  });
  holder.engine = engine;

  const h: Harness = {
    app,
    dir,
    clock,
    engine,
    llm,
    finished,
    async addJob(name, payload, delivery) {
      const job = buildJob(
        { name, schedule: { kind: 'every', everyMs: 3_600_000 }, payload },
        clock.now(),
        newJobId,
      );
      if (delivery) job.delivery = delivery;
      await app.store.insertJob(job);
      return job;
    },
    async run(jobName) {
      const result = await engine.requestRun(jobName);
      if (!result.enqueued || !result.runId) throw new Error(`not enqueued: ${result.reason ?? '?'}`);
      await engine.runQueuedNow(result.runId);
      return (await app.store.getRun(result.runId)) as Run;
    },
    async runQueued(jobName) {
      const job = await app.store.findJob(jobName);
      if (!job) throw new Error(`no job ${jobName}`);
      const queued = (await app.store.unfinishedRuns()).filter(
        (r) => r.jobId === job.id && r.status === 'queued',
      );
      const out: Run[] = [];
      for (const r of queued) {
        await engine.runQueuedNow(r.runId);
        out.push((await app.store.getRun(r.runId)) as Run);
      }
      return out;
    },
    async close() {
      await engine.stop();
      await app.close();
      await llm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
