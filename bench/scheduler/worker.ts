/**
 * One measurement of one system in a process of its own (so RSS and CPU are that system's alone).
 * Prints a single JSON line with the figures. Started by run.ts:
 *
 *   node --expose-gc --import tsx bench/scheduler/worker.ts --system nightshift|nightshift-full|croner|bullmq|baseline
 *        --mode fire --jobs 1000 --seconds 60
 *   node --import tsx bench/scheduler/worker.ts --system ... --mode idle --jobs 10000 --seconds 30 --settle 5
 */
import { parseArgs } from 'node:util';
import type { BenchSystem } from './systems/system.ts';
import { cpuSeconds, Deadline, percentile, RssSampler, sleep } from './stats.ts';

export interface FireResult {
  mode: 'fire';
  system: string;
  jobs: number;
  seconds: number;
  setupMs: number;
  expected: number;
  fired: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Worst lateness in each second of the window (-1: nothing ran for that second). */
  maxPerSecondMs: number[];
  /** CPU of this process while firing, % of one core. */
  cpuPct: number;
  /** CPU outside the process (Redis) while firing, % of one core. */
  externalCpuPct?: number;
  rssMaxMB: number;
}

export interface IdleResult {
  mode: 'idle';
  system: string;
  jobs: number;
  seconds: number;
  setupMs: number;
  cpuPct: number;
  externalCpuPct?: number;
  /** RSS at the end of the idle window, after a full GC. */
  rssMB: number;
  /** JS heap in use at the end (after GC). */
  heapMB: number;
  rssMaxMB: number;
  /** Growth of the external process's RSS (Redis) from before setup. */
  externalRssMB?: number;
}

const MB = 1024 * 1024;

/** Progress on stderr, so a run that hangs shows where. */
function phase(what: string): void {
  process.stderr.write(`${new Date().toISOString()} ${what}\n`);
}

/** Loads only the system measured, so its RSS does not include the others' modules. */
async function pickSystem(name: string): Promise<BenchSystem> {
  switch (name) {
    case 'nightshift':
      return (await import('./systems/nightshift.ts')).nightshiftSystem();
    case 'nightshift-full':
      return (await import('./systems/nightshift.ts')).nightshiftSystem({ claimSync: 'FULL' });
    case 'nightshift-pg':
      return (await import('./systems/nightshift-pg.ts')).nightshiftPgSystem(1);
    case 'nightshift-pg3':
      return (await import('./systems/nightshift-pg.ts')).nightshiftPgSystem(3);
    case 'pg-boss':
      return (await import('./systems/pgboss.ts')).pgbossSystem(1);
    case 'pg-boss-3w':
      return (await import('./systems/pgboss.ts')).pgbossSystem(3);
    case 'croner':
      return (await import('./systems/croner.ts')).cronerSystem();
    case 'bullmq':
      return (await import('./systems/bullmq.ts')).bullmqSystem();
    case 'baseline':
      return (await import('./systems/baseline.ts')).baselineSystem();
    default:
      throw new Error(`unknown system ${name}`);
  }
}

/** Collects garbage when run with --expose-gc, so RSS reflects live memory rather than GC timing. */
function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function measureFire(sys: BenchSystem, jobs: number, seconds: number): Promise<FireResult> {
  const lateness: number[] = [];
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.NEGATIVE_INFINITY;
  const deadline = new Deadline();
  const rss = new RssSampler();
  const t0 = Date.now();
  /** Worst lateness per second of the window, to see whether lateness is steady or comes in stalls. */
  const perSecond: number[] = [];
  const inWindow = (slotMs: number): boolean => slotMs >= windowStart && slotMs < windowEnd;
  await sys.startFiring(jobs, {
    onFire(slotMs, firedAtMs) {
      if (inWindow(slotMs)) {
        lateness.push(firedAtMs - slotMs);
        const sec = Math.floor((slotMs - windowStart) / 1000);
        perSecond[sec] = Math.max(perSecond[sec] ?? 0, firedAtMs - slotMs);
      }
      deadline.poke();
    },
    onTick: () => deadline.poke(),
  });
  const setupMs = Date.now() - t0;
  phase(`set up in ${setupMs} ms`);
  // Two seconds of warm-up, then a window of whole seconds.
  windowStart = Math.ceil(Date.now() / 1000) * 1000 + 2000;
  windowEnd = windowStart + seconds * 1000;
  await deadline.until(windowStart);
  const cpu0 = cpuSeconds();
  const ext0 = await sys.external?.();
  rss.sample();
  await deadline.until(windowEnd);
  const cpu1 = cpuSeconds();
  rss.sample();
  const ext1 = await sys.external?.();
  // Stragglers of the last second still count (up to 2 s late).
  await deadline.until(windowEnd + 2000);
  rss.stop();
  rss.sample();
  phase('stopping');
  await sys.stop();
  phase('stopped');
  const result: FireResult = {
    mode: 'fire',
    system: sys.name,
    jobs,
    seconds,
    setupMs,
    expected: jobs * seconds,
    fired: lateness.length,
    p50Ms: percentile(lateness, 50),
    p99Ms: percentile(lateness, 99),
    maxMs: percentile(lateness, 100),
    maxPerSecondMs: Array.from({ length: seconds }, (_, i) => perSecond[i] ?? -1),
    cpuPct: ((cpu1 - cpu0) / seconds) * 100,
    rssMaxMB: rss.max / MB,
  };
  if (ext0 && ext1) result.externalCpuPct = ((ext1.cpuSeconds - ext0.cpuSeconds) / seconds) * 100;
  return result;
}

async function measureIdle(
  sys: BenchSystem,
  jobs: number,
  seconds: number,
  settle: number,
): Promise<IdleResult> {
  const before = await sys.external?.();
  const t0 = Date.now();
  await sys.startIdle(jobs);
  const setupMs = Date.now() - t0;
  await sleep(settle * 1000);
  collect();
  const rss = new RssSampler();
  const cpu0 = cpuSeconds();
  const ext0 = await sys.external?.();
  const w0 = Date.now();
  await sleep(seconds * 1000);
  const wall = (Date.now() - w0) / 1000;
  const cpu1 = cpuSeconds();
  const ext1 = await sys.external?.();
  rss.sample();
  collect();
  const rssNow = process.memoryUsage().rss;
  const heapMB = process.memoryUsage().heapUsed / MB;
  rss.stop();
  await sys.stop();
  const result: IdleResult = {
    mode: 'idle',
    system: sys.name,
    jobs,
    seconds,
    setupMs,
    cpuPct: ((cpu1 - cpu0) / wall) * 100,
    rssMB: rssNow / MB,
    rssMaxMB: rss.max / MB,
    heapMB,
  };
  if (ext0 && ext1) result.externalCpuPct = ((ext1.cpuSeconds - ext0.cpuSeconds) / wall) * 100;
  if (before && ext1) result.externalRssMB = (ext1.rssBytes - before.rssBytes) / MB;
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      system: { type: 'string' },
      mode: { type: 'string' },
      jobs: { type: 'string' },
      seconds: { type: 'string' },
      settle: { type: 'string', default: '5' },
    },
  });
  const sys = await pickSystem(values.system ?? '');
  const jobs = Number(values.jobs);
  const seconds = Number(values.seconds);
  const result =
    values.mode === 'fire'
      ? await measureFire(sys, jobs, seconds)
      : await measureIdle(sys, jobs, seconds, Number(values.settle));
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  // Timers of a stopped peer (ioredis reconnects, croner) must not keep the process alive.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
