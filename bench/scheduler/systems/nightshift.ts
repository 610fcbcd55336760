/**
 * nightshift: the real engine on the real SQLite store (a temporary file), with an in-process
 * executor that only records when it was called, so the figures are the scheduler's own and not
 * process spawning.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SystemClock } from '../../../src/domain/clock.ts';
import type { CommandPayload, Schedule } from '../../../src/domain/job.ts';
import { buildJob } from '../../../src/domain/job-validation.ts';
import type { Executor } from '../../../src/payloads/executor.ts';
import { Engine } from '../../../src/scheduler/engine.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/store.ts';
import type { BenchSystem, FireHooks } from './system.ts';
import { idleCron } from './system.ts';

export function nightshiftSystem(opts: { claimSync?: 'NORMAL' | 'FULL' } = {}): BenchSystem {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-bench-'));
  let store: Store | undefined;
  let engine: Engine | undefined;

  async function start(
    n: number,
    schedule: (i: number) => Schedule,
    executor: Executor<CommandPayload>,
    hooks?: FireHooks,
  ): Promise<void> {
    const real = await openSqliteStore(
      path.join(dir, 'nightshift.db'),
      opts.claimSync ? { claimSync: opts.claimSync } : {},
    );
    store = real;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const job = buildJob(
        { name: `bench-${i}`, schedule: schedule(i), payload: { kind: 'command', argv: ['true'] } },
        now,
        randomUUID,
      );
      await real.insertJob(job);
    }
    engine = new Engine({
      store: hooks ? observed(real, hooks) : real,
      clock: new SystemClock(),
      executors: [executor],
    });
    await engine.start();
  }

  return {
    name: opts.claimSync === 'FULL' ? 'nightshift-full' : 'nightshift',
    async startFiring(n, hooks) {
      // Every job on the same whole-second grid: each second all n fall due at once (worst case).
      const anchorMs = Math.ceil(Date.now() / 1000) * 1000;
      const executor: Executor<CommandPayload> = {
        kind: 'command',
        async execute(_payload, ctx) {
          hooks.onFire(ctx.slotMs, Date.now());
          return { status: 'ok' };
        },
      };
      await start(n, () => ({ kind: 'every', everyMs: 1000, anchorMs }), executor, hooks);
    },
    async startIdle(n) {
      const now = Date.now();
      await start(n, (i) => ({ kind: 'cron', expr: idleCron(i, now), tz: 'UTC' }), {
        kind: 'command',
        async execute() {
          return { status: 'ok' };
        },
      });
    },
    async stop() {
      await engine?.stop();
      await store?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The store with every call reported to the harness: an engine that is behind keeps the event
 * loop busy with store calls, and these are where the harness can still see its deadlines.
 */
function observed(store: Store, hooks: FireHooks): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        hooks.onTick?.();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
