/**
 * Shared test setup for the engine: a real SQLite store in a temp dir, a ManualClock, and a
 * scripted executor at the executor port (records each call; resolves when told, or at once).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../src/domain/clock.ts';
import { DEFAULT_HISTORY, DEFAULT_POLICY } from '../../src/domain/job.ts';
import type { Job, JobPolicy, Run } from '../../src/domain/job.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../../src/payloads/executor.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { Engine } from '../../src/scheduler/engine.ts';
import type { EngineEvent, EngineOptions } from '../../src/scheduler/engine.ts';

export const T0 = Date.UTC(2027, 0, 4, 0, 0, 0);
export const SEC = 1_000;
export const MIN = 60_000;
export const HOUR = 3_600_000;
/** The engines' claim lead in these tests (fixed; the daemon sizes it from measured claim costs). */
export const LEAD = 10;

export interface Call {
  ctx: ExecutionContext;
  release: (outcome?: ExecutionOutcome) => void;
  done: boolean;
}

/**
 * An executor whose runs finish when the test says so. `auto` (default ok) answers at once;
 * `auto = undefined` holds every run until released. Aborting a held run answers `interrupted`.
 */
export class ScriptedExecutor implements Executor {
  readonly kind = 'command' as const;
  readonly calls: Call[] = [];
  auto: ((ctx: ExecutionContext) => ExecutionOutcome) | undefined = () => ({ status: 'ok' });

  execute(_payload: unknown, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    return new Promise((resolve) => {
      const call: Call = {
        ctx,
        done: false,
        release: (outcome = { status: 'ok' }) => {
          if (call.done) return;
          call.done = true;
          resolve(outcome);
        },
      };
      this.calls.push(call);
      ctx.signal.addEventListener('abort', () => call.release({ status: 'interrupted', error: 'aborted' }), {
        once: true,
      });
      if (this.auto) call.release(this.auto(ctx));
    });
  }

  /** Slots of the calls so far, in call order. */
  slots(): number[] {
    return this.calls.map((c) => c.ctx.slotMs);
  }

  held(): Call[] {
    return this.calls.filter((c) => !c.done);
  }
}

export function makeJob(
  id: string,
  extra: Omit<Partial<Job>, 'policy'> & { policy?: Partial<JobPolicy> } = {},
): Job {
  const { policy, ...rest } = extra;
  return {
    id,
    name: `job-${id}`,
    enabled: true,
    schedule: { kind: 'every', everyMs: MIN },
    payload: { kind: 'command', command: 'true' },
    deleteAfterRun: false,
    evidence: {},
    history: DEFAULT_HISTORY,
    createdAtMs: T0,
    updatedAtMs: T0,
    state: { consecutiveErrors: 0, consecutiveSkipped: 0 },
    ...rest,
    policy: { ...DEFAULT_POLICY, ...policy },
  };
}

export interface Harness {
  dir: string;
  file: string;
  store: Store;
  clock: ManualClock;
  exec: ScriptedExecutor;
  events: EngineEvent[];
  engines: Engine[];
  engine(opts?: Partial<EngineOptions>): Engine;
  /** Another connection to the same database, as a CLI process would open it. */
  otherStore(): Promise<Store>;
  runs(jobId: string): Promise<Run[]>;
  close(): Promise<void>;
}

export async function harness(startMs = T0): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-'));
  const file = path.join(dir, 'nightshift.db');
  const store = await openSqliteStore(file, { claimSync: 'NORMAL' });
  const clock = new ManualClock(startMs);
  const exec = new ScriptedExecutor();
  const events: EngineEvent[] = [];
  const engines: Engine[] = [];
  const stores: Store[] = [store];
  return {
    dir,
    file,
    store,
    clock,
    exec,
    events,
    engines,
    engine(opts = {}) {
      const e = new Engine({
        store,
        clock,
        executors: [exec],
        log: (ev) => events.push(ev),
        random: () => 0.5,
        changePollMs: 0,
        claimLead: { minMs: LEAD, maxMs: LEAD },
        ...opts,
      });
      engines.push(e);
      return e;
    },
    async otherStore() {
      const s = await openSqliteStore(file, { claimSync: 'NORMAL' });
      stores.push(s);
      return s;
    },
    async runs(jobId) {
      const page = await store.listRuns({ jobId });
      // Oldest first reads more naturally in assertions.
      return page.entries.reverse();
    },
    async close() {
      for (const e of engines) {
        for (const c of exec.calls) c.release({ status: 'interrupted' });
        await e.stop();
      }
      for (const s of stores) await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits (without a schedule: only for async store work) until `cond` holds. */
export async function until(cond: () => boolean | Promise<boolean>, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

export function statuses(runs: Run[]): string[] {
  return runs.map((r) => `${r.status}:${r.trigger}:${r.attempt}`);
}
