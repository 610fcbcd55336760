/**
 * Scheduler benchmark: nightshift's engine against BullMQ job schedulers (local Redis) and plain
 * croner timers, in one run. Measures
 *   - fire lateness (p50/p99/max of payload start − nominal slot) for N jobs firing every second,
 *   - idle CPU and RSS with M enabled jobs that are not due,
 * each system in a fresh process, and prints a table with ratios against the peers.
 *
 *   node --import tsx bench/scheduler/run.ts [--seconds 60] [--jobs 1000] [--idle-jobs 10000]
 *        [--idle-seconds 30] [--systems nightshift,croner,bullmq,baseline] [--quick]
 *
 * `--quick` is a smoke run (5 s, 100 jobs, 1,000 idle jobs). Results are also written to
 * bench/out/scheduler/results-<time>.json. Needs Redis on 127.0.0.1:6379 for the bullmq rows.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { FireResult, IdleResult } from './worker.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

const TARGET = { p99Ms: 25, idleCpuPct: 1, idleRssMB: 120 };

interface Row {
  system: string;
  fire?: FireResult;
  idle?: IdleResult;
  error?: string;
}

/**
 * Workers run bundled, as the installed daemon runs (dist/ via esbuild), not through the tsx loader:
 * the loader's own thread and caches cost ~40 MB of RSS that no user's daemon carries. Every system
 * runs from the same bundle, so the comparison stays like for like.
 */
async function bundleWorker(): Promise<string> {
  const { build } = await import('esbuild');
  const outdir = path.join(root, 'bench/out/scheduler/worker');
  await build({
    absWorkingDir: root,
    entryPoints: [path.join(here, 'worker.ts')],
    outdir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return path.join(outdir, 'worker.mjs');
}

let workerEntry: string | undefined;

/** The Node flags bin/nightshift's shebang gives the daemon, so nightshift is measured as it runs. */
function nightshiftNodeFlags(): string[] {
  const first = fs.readFileSync(path.join(root, 'bin/nightshift'), 'utf8').split('\n')[0] ?? '';
  const m = /^#!\S*env -S node(.*)$/.exec(first);
  return m
    ? (m[1] as string)
        .trim()
        .split(/\s+/)
        .filter((f) => f !== '')
    : [];
}

function runWorker(args: string[], timeoutMs: number): Promise<FireResult | IdleResult> {
  const entry = workerEntry as string;
  const system = args[args.indexOf('--system') + 1] ?? '';
  const flags = system.startsWith('nightshift') ? nightshiftNodeFlags() : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...flags, entry, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as FireResult | IdleResult);
      else
        reject(
          new Error(
            `worker ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}

const f = (n: number | null | undefined, digits = 1): string =>
  typeof n !== 'number' || Number.isNaN(n) ? '-' : n.toFixed(digits);

/** Total CPU %: the process plus Redis, where there is one. */
const totalCpu = (r: { cpuPct: number; externalCpuPct?: number }): number =>
  r.cpuPct + (r.externalCpuPct ?? 0);
const totalRss = (r: IdleResult): number => r.rssMB + Math.max(0, r.externalRssMB ?? 0);

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function printTable(
  rows: Row[],
  opts: { jobs: number; seconds: number; idleJobs: number; idleSeconds: number },
): string {
  const lines: string[] = [];
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  lines.push(
    `nightshift scheduler benchmark  ${new Date().toISOString()}  node ${process.version}, ${os.cpus().length} cores, load ${load}`,
  );
  lines.push(
    `fire: ${opts.jobs} jobs every 1 s for ${opts.seconds} s; lateness = payload start - nominal slot`,
  );
  lines.push(
    'CPU ms/fire = CPU time while firing / slots run (less sensitive to machine load than lateness)',
  );
  lines.push(
    `idle: ${opts.idleJobs} enabled jobs (daily cron, none due), averaged over ${opts.idleSeconds} s`,
  );
  lines.push('');
  const w = [18, 15, 8, 8, 8, 11, 12, 10, 12, 10];
  lines.push(
    pad(
      [
        'system',
        'ran/expected',
        'p50 ms',
        'p99 ms',
        'max ms',
        'CPU% fire',
        'CPU ms/fire',
        'idle CPU%',
        'idle RSS MB',
        'setup s',
      ],
      w,
    ),
  );
  for (const r of rows) {
    if (r.error) {
      lines.push(`${r.system.padEnd(w[0]!)}  error: ${r.error}`);
      continue;
    }
    const fr = r.fire;
    const id = r.idle;
    lines.push(
      pad(
        [
          r.system,
          fr ? `${fr.fired}/${fr.expected}` : '-',
          f(fr?.p50Ms, 0),
          f(fr?.p99Ms, 0),
          f(fr?.maxMs, 0),
          fr ? f(totalCpu(fr)) : '-',
          fr && fr.fired > 0 ? f((totalCpu(fr) * 10 * fr.seconds) / fr.fired, 3) : '-',
          id ? f(totalCpu(id), 2) : '-',
          id ? f(totalRss(id)) : '-',
          id ? f(id.setupMs / 1000) : '-',
        ],
        w,
      ),
    );
  }
  const bull = rows.find((r) => r.system === 'bullmq');
  if (bull?.fire || bull?.idle) {
    lines.push(
      `  bullmq includes Redis: CPU% fire ${f(bull.fire?.externalCpuPct)}, idle CPU% ${f(bull.idle?.externalCpuPct, 2)}, ` +
        `RSS growth ${f(bull.idle?.externalRssMB)} MB (node alone: idle CPU% ${f(bull.idle?.cpuPct, 2)}, RSS ${f(bull.idle?.rssMB)} MB)`,
    );
  }
  const base = rows.find((r) => r.system === 'baseline');
  if (base?.idle)
    lines.push(`  baseline = node alone (bundled harness), no scheduler: RSS ${f(base.idle.rssMB)} MB`);
  lines.push(
    `  nightshift rows run with bin/nightshift's node flags: ${nightshiftNodeFlags().join(' ') || '(none)'}`,
  );
  lines.push(
    '  idle RSS is measured after a full GC; JS heap in use: ' +
      rows.map((r) => `${r.system} ${f(r.idle?.heapMB)} MB`).join(', '),
  );

  const ns = rows.find((r) => r.system === 'nightshift');
  if (ns?.fire || ns?.idle) {
    const peers = rows.filter((r) => r.system === 'croner' || r.system === 'bullmq');
    lines.push('');
    lines.push('ratios: nightshift / peer (below 1x: nightshift uses less or is less late)');
    const w2 = [14, 12, ...peers.map(() => 12), 10, 6];
    lines.push(pad(['metric', 'nightshift', ...peers.map((p) => `vs ${p.system}`), 'target', ''], w2));
    const metric = (
      name: string,
      get: (r: Row) => number | undefined,
      target: number | undefined,
      unit: string,
      cmp: 'le' | 'lt',
      digits = 1,
    ): void => {
      const v = get(ns);
      const ok =
        v === undefined || Number.isNaN(v) || target === undefined
          ? ''
          : (cmp === 'le' ? v <= target : v < target)
            ? 'PASS'
            : 'FAIL';
      lines.push(
        pad(
          [
            name,
            `${f(v, digits)} ${unit}`,
            ...peers.map((p) => ratio(v, get(p))),
            target === undefined ? '' : `${cmp === 'le' ? '<=' : '<'} ${target}`,
            ok,
          ],
          w2,
        ),
      );
    };
    metric('p99 lateness', (r) => r.fire?.p99Ms, TARGET.p99Ms, 'ms', 'le', 0);
    metric('p50 lateness', (r) => r.fire?.p50Ms, undefined, 'ms', 'le', 0);
    metric('idle CPU', (r) => (r.idle ? totalCpu(r.idle) : undefined), TARGET.idleCpuPct, '%', 'lt', 2);
    metric('idle RSS', (r) => (r.idle ? totalRss(r.idle) : undefined), TARGET.idleRssMB, 'MB', 'le');
    if (ns.fire && ns.fire.fired < ns.fire.expected) {
      lines.push(
        `  nightshift did not run ${ns.fire.expected - ns.fire.fired} of the ${ns.fire.expected} slots: the engine ` +
          'records a slot more than 1 s late as `missed` (catch-up policy skip) instead of running it',
      );
    }
  }
  const text = lines.join('\n');
  process.stdout.write(text + '\n');
  return text;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      jobs: { type: 'string' },
      'idle-jobs': { type: 'string' },
      'idle-seconds': { type: 'string' },
      settle: { type: 'string' },
      systems: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const opts = {
    seconds: Number(values.seconds ?? (quick ? 5 : 60)),
    jobs: Number(values.jobs ?? (quick ? 100 : 1000)),
    idleJobs: Number(values['idle-jobs'] ?? (quick ? 1000 : 10_000)),
    idleSeconds: Number(values['idle-seconds'] ?? (quick ? 5 : 30)),
    settle: Number(values.settle ?? (quick ? 2 : 5)),
  };
  for (const [k, v] of Object.entries(opts)) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k}: must be a positive number`);
  }
  const systems = (values.systems ?? 'nightshift,croner,bullmq,baseline').split(',').map((s) => s.trim());
  workerEntry = await bundleWorker();
  const rows: Row[] = [];
  for (const system of systems) {
    const row: Row = { system };
    rows.push(row);
    try {
      // The baseline schedules nothing, so only its idle figures mean anything.
      if (system !== 'baseline')
        process.stderr.write(`${system}: fire (${opts.jobs} jobs, ${opts.seconds} s)...\n`);
      if (system !== 'baseline')
        row.fire = (await runWorker(
          [
            '--system',
            system,
            '--mode',
            'fire',
            '--jobs',
            String(opts.jobs),
            '--seconds',
            String(opts.seconds),
          ],
          (opts.seconds + 120) * 1000,
        )) as FireResult;
      process.stderr.write(`${system}: idle (${opts.idleJobs} jobs, ${opts.idleSeconds} s)...\n`);
      row.idle = (await runWorker(
        [
          '--system',
          system,
          '--mode',
          'idle',
          '--jobs',
          String(opts.idleJobs),
          '--seconds',
          String(opts.idleSeconds),
          '--settle',
          String(opts.settle),
        ],
        (opts.idleSeconds + opts.settle + 180) * 1000,
      )) as IdleResult;
    } catch (err) {
      row.error = err instanceof Error ? err.message : String(err);
    }
  }
  const table = printTable(rows, opts);
  const outDir = path.join(root, 'bench/out/scheduler');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ opts, loadavg: os.loadavg(), rows, table }, null, 2) + '\n');
  process.stderr.write(`results: ${path.relative(root, file)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
