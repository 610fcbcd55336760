/**
 * How fast the dashboard and its API answer with 1,000 jobs and 100,000 runs (the target: the
 * dashboard shows its first page in under a second). Builds such a home, serves the real API
 * routes, times the endpoints the dashboard calls, then loads the page in headless Chromium until
 * the job rows are drawn. The peer measured in the same run is `nightshift cron list --json` on
 * the same home (a terminal user's way to the same list).
 *
 *   node --import tsx bench/http/dashboard-load.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { openApp } from '../../src/app/app.ts';
import { newJob } from '../../src/app/jobs.ts';
import { encodeRunCursor } from '../../src/app/run-cursor.ts';
import { SystemClock } from '../../src/domain/clock.ts';
import type { Run, RunStatus } from '../../src/domain/job.ts';
import type { StoreWrite } from '../../src/store/store.ts';
import { tokenTable } from '../../src/interfaces/bearer-tokens.ts';
import { apiRoutes } from '../../src/interfaces/http/routes/index.ts';
import { startHttpServer } from '../../src/interfaces/http/server.ts';

const JOBS = 1_000;
const RUNS_PER_JOB = 100;
const TOKEN = 'bench-token-' + 'x'.repeat(24);
const BIN = fileURLToPath(new URL('../../bin/nightshift', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const root = mkdtempSync(join(tmpdir(), 'ns-bench-http-'));
const app = await openApp(join(root, 'home'));
try {
  const now = Date.now();
  const t0 = performance.now();
  const jobs = [];
  for (let i = 0; i < JOBS; i++) {
    const job = newJob(
      {
        name: `job-${String(i).padStart(4, '0')}`,
        schedule: { kind: 'every', everyMs: 100 * 60_000 },
        payload: { kind: 'command', argv: ['/bin/true'] },
      } as never,
      now - 8 * 86_400_000,
    );
    await app.store.insertJob(job);
    jobs.push(job);
  }
  const statuses: RunStatus[] = ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'error', 'missed', 'skipped', 'timeout'];
  for (const job of jobs) {
    const writes: StoreWrite[] = [];
    for (let k = 0; k < RUNS_PER_JOB; k++) {
      const slotMs = now - k * 100 * 60_000;
      const status = statuses[(k + job.name.length) % statuses.length]!;
      const run: Run = {
        runId: `${job.id}-${k}`,
        jobId: job.id,
        slotMs,
        attempt: 1,
        trigger: 'schedule',
        status,
        startedAtMs: slotMs,
        finishedAtMs: slotMs + 1000 + k * 10,
        durationMs: 1000 + k * 10,
        exitCode: status === 'ok' ? 0 : 1,
      };
      writes.push({ kind: 'claim', run });
    }
    await app.store.writeBatch(writes);
  }
  console.log(
    `home with ${JOBS} jobs and ${JOBS * RUNS_PER_JOB} runs built in ${Math.round(performance.now() - t0)} ms`,
  );

  const cached = await app.store.listJobs();
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    tokens: tokenTable([{ token: TOKEN, scope: 'read' }], 'bench'),
    probesNeedToken: false,
    routes: apiRoutes(
      {
        app,
        clock: new SystemClock(),
        requestRun: () => Promise.reject(new Error('not in the bench')),
        jobsChanged: async () => undefined,
        jobs: () => cached,
      },
      'bench',
    ),
    version: 'bench',
    log: () => undefined,
  });
  try {
    const timed = async (path: string): Promise<number> => {
      const xs: number[] = [];
      for (let i = 0; i < 7; i++) {
        const s = performance.now();
        const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        xs.push(performance.now() - s);
      }
      return median(xs);
    };
    for (const path of [
      '/api/v1/status',
      '/api/v1/timeline?range=24h&limit=50&buckets=96',
      '/api/v1/timeline?range=7d&limit=50&buckets=96',
      '/api/v1/jobs?all=true',
      '/api/v1/runs?limit=50',
      '/api/v1/runs?limit=50&offset=90000',
    ])
      console.log(`${path.padEnd(50)} median ${(await timed(path)).toFixed(1)} ms`);
    // The same deep page by key: the cursor of the run just before it.
    const before = await app.store.listRuns({ limit: 1, offset: 89_999 });
    const cursor = encodeRunCursor(before.entries[0]!);
    console.log(
      `${'/api/v1/runs?limit=50&cursor=(at 90000)'.padEnd(50)} median ${(await timed(`/api/v1/runs?limit=50&cursor=${cursor}`)).toFixed(1)} ms`,
    );

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    try {
      const loads: number[] = [];
      for (let i = 0; i < 5; i++) {
        const page = await browser.newPage();
        await page.goto(server.url + '/');
        await page.evaluate((t) => sessionStorage.setItem('nightshift.token', t), TOKEN);
        const s = performance.now();
        await page.reload();
        await page.waitForSelector('tr[data-job-row="job-0049"]');
        loads.push(performance.now() - s);
        await page.close();
      }
      const dashboard = median(loads);
      const cli: number[] = [];
      for (let i = 0; i < 3; i++) {
        const s = performance.now();
        const r = spawnSync(
          process.execPath,
          [BIN, '--home', app.home.dir, 'cron', 'list', '--all', '--json'],
          {
            encoding: 'utf8',
            maxBuffer: 64 * 1024 * 1024,
          },
        );
        if (r.status !== 0) throw new Error(r.stderr);
        cli.push(performance.now() - s);
      }
      const peer = median(cli);
      console.log(
        `dashboard first page drawn (reload to 50 rows with timelines): median ${dashboard.toFixed(0)} ms`,
      );
      console.log(
        `peer: nightshift cron list --all --json (process start to exit):  median ${peer.toFixed(0)} ms`,
      );
      console.log(
        `ratio dashboard/peer: ${(dashboard / peer).toFixed(2)}; target: dashboard under 1000 ms (${dashboard < 1000 ? 'met' : 'missed'})`,
      );
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
} finally {
  await app.close();
  rmSync(root, { recursive: true, force: true });
}
