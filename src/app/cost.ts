/**
 * `nightshift cost`: what agent turns cost, from the token usage their runs recorded and the
 * price table in config.json (`prices`, per million input/output tokens), per job and model,
 * with a monthly projection per job: its average cost per run times its runs in 30 days (from
 * the schedule; chained and one-shot jobs from how often they ran in the window).
 */
import { nextFireTimes } from '../domain/schedule.ts';
import type { Job } from '../domain/job.ts';
import type { ModelPrice } from '../config/config.ts';
import type { Store } from '../store/store.ts';

const MONTH_MS = 30 * 86_400_000;
const PAGE = 500;
/** Fire times counted for a projection at most (a job every second fires 2.6M times a month). */
const MAX_FIRES = 100_000;

export interface CostByModel {
  jobId: string;
  job: string;
  model: string;
  runs: number;
  promptTokens: number;
  completionTokens: number;
  /** null when the model has no price in the table. */
  cost: number | null;
}

export interface JobCost {
  jobId: string;
  job: string;
  runs: number;
  cost: number;
  /** Projected cost of 30 days; null when it cannot be projected (no priced run). */
  monthly: number | null;
  /** How the runs per month were counted. */
  basis: 'schedule' | 'observed' | 'disabled' | 'deleted';
  runsPerMonth: number;
}

export interface CostReport {
  sinceMs: number;
  untilMs: number;
  byModel: CostByModel[];
  byJob: JobCost[];
  total: { cost: number; monthly: number };
  /** Models used in the window that have no price. */
  unpriced: string[];
}

function price(p: ModelPrice | undefined, prompt: number, completion: number): number | null {
  if (!p) return null;
  return (prompt * p.input + completion * p.output) / 1_000_000;
}

/** Runs a job makes in 30 days, from its schedule; undefined when that is not known ahead. */
function scheduledRunsPerMonth(job: Job, nowMs: number): number | undefined {
  if (job.schedule.kind !== 'cron' && job.schedule.kind !== 'every') return undefined;
  const fires = nextFireTimes(job.schedule, nowMs, MAX_FIRES, job.createdAtMs);
  return fires.filter((t) => t <= nowMs + MONTH_MS).length;
}

export async function costReport(
  store: Store,
  prices: Record<string, ModelPrice>,
  opts: { sinceMs: number; nowMs: number },
): Promise<CostReport> {
  const jobs = new Map((await store.listJobs()).map((j) => [j.id, j]));
  const rows = new Map<string, CostByModel>();
  const firstSeen = new Map<string, number>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.listRuns({ limit: PAGE, offset });
    let older = false;
    for (const run of page.entries) {
      const at = run.finishedAtMs ?? run.slotMs;
      if (at < opts.sinceMs) {
        older = true;
        continue;
      }
      const usage = run.details?.agent?.usage;
      if (!usage) continue;
      const model = run.details!.agent!.model;
      const key = `${run.jobId}\u0000${model}`;
      const row = rows.get(key) ?? {
        jobId: run.jobId,
        job: jobs.get(run.jobId)?.name ?? `(deleted job ${run.jobId})`,
        model,
        runs: 0,
        promptTokens: 0,
        completionTokens: 0,
        cost: 0,
      };
      row.runs++;
      row.promptTokens += usage.promptTokens;
      row.completionTokens += usage.completionTokens;
      rows.set(key, row);
      firstSeen.set(run.jobId, Math.min(firstSeen.get(run.jobId) ?? at, at));
    }
    // Runs come newest slot first: once a page reaches before the window, the rest is older.
    if (!page.hasMore || (older && page.entries.every((r) => (r.finishedAtMs ?? r.slotMs) < opts.sinceMs)))
      break;
  }
  const byModel = [...rows.values()].sort(
    (a, b) => a.job.localeCompare(b.job) || a.model.localeCompare(b.model),
  );
  for (const r of byModel) r.cost = price(prices[r.model], r.promptTokens, r.completionTokens);

  const perJob = new Map<string, { runs: number; cost: number; pricedRuns: number }>();
  for (const r of byModel) {
    const j = perJob.get(r.jobId) ?? { runs: 0, cost: 0, pricedRuns: 0 };
    j.runs += r.runs;
    if (r.cost !== null) {
      j.cost += r.cost;
      j.pricedRuns += r.runs;
    }
    perJob.set(r.jobId, j);
  }
  const byJob: JobCost[] = [];
  for (const [jobId, j] of perJob) {
    const job = jobs.get(jobId);
    let basis: JobCost['basis'];
    let runsPerMonth: number;
    const scheduled = job ? scheduledRunsPerMonth(job, opts.nowMs) : undefined;
    if (!job) {
      basis = 'deleted';
      runsPerMonth = 0;
    } else if (!job.enabled) {
      basis = 'disabled';
      runsPerMonth = 0;
    } else if (scheduled !== undefined) {
      basis = 'schedule';
      runsPerMonth = scheduled;
    } else {
      basis = 'observed';
      const from = Math.max(opts.sinceMs, job.createdAtMs, 0);
      const span = Math.max(opts.nowMs - from, 86_400_000);
      runsPerMonth = Math.round((j.runs * MONTH_MS) / span);
    }
    byJob.push({
      jobId,
      job: job?.name ?? `(deleted job ${jobId})`,
      runs: j.runs,
      cost: j.cost,
      monthly: j.pricedRuns > 0 ? (j.cost / j.pricedRuns) * runsPerMonth : null,
      basis,
      runsPerMonth,
    });
  }
  byJob.sort((a, b) => a.job.localeCompare(b.job));
  return {
    sinceMs: opts.sinceMs,
    untilMs: opts.nowMs,
    byModel,
    byJob,
    total: {
      cost: byJob.reduce((s, j) => s + j.cost, 0),
      monthly: byJob.reduce((s, j) => s + (j.monthly ?? 0), 0),
    },
    unpriced: [...new Set(byModel.filter((r) => r.cost === null).map((r) => r.model))].sort(),
  };
}
