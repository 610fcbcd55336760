/**
 * The run timeline behind the dashboard: for a page of jobs, their runs over a window (24 h or
 * 7 d) counted per time bucket and status, and their latest durations for a sparkline. Counting
 * happens in the store, so a week of minutely runs costs one grouped query, not 10,000 rows.
 */
import type { RunStatus } from '../domain/job.ts';
import type { Store } from '../store/store.ts';

export interface TimelineOptions {
  jobIds: string[];
  nowMs: number;
  windowMs: number;
  buckets: number;
  /** How many recent finished runs feed each sparkline. */
  recent: number;
}

export interface JobTimeline {
  jobId: string;
  /** One entry per bucket, oldest first: counts by status (empty object: no run in that bucket). */
  buckets: Array<Partial<Record<RunStatus, number>>>;
  /** Latest finished runs, oldest first. */
  recent: Array<{ runId: string; status: RunStatus; slotMs: number; durationMs: number | null }>;
}

export interface Timeline {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  jobs: JobTimeline[];
}

export async function runTimeline(store: Store, opts: TimelineOptions): Promise<Timeline> {
  const bucketMs = Math.ceil(opts.windowMs / opts.buckets);
  const toMs = opts.nowMs + 1;
  const fromMs = toMs - bucketMs * opts.buckets;
  const counts = await store.countRuns({ jobIds: opts.jobIds, fromMs, toMs, bucketMs });
  const byJob = new Map<string, JobTimeline>();
  for (const jobId of opts.jobIds)
    byJob.set(jobId, { jobId, buckets: Array.from({ length: opts.buckets }, () => ({})), recent: [] });
  for (const c of counts) {
    const bucket = byJob.get(c.jobId)?.buckets[c.bucket];
    if (bucket) bucket[c.status] = (bucket[c.status] ?? 0) + c.count;
  }
  await Promise.all(
    opts.jobIds.map(async (jobId) => {
      if (opts.recent <= 0) return;
      const page = await store.listRuns({ jobId, limit: opts.recent });
      byJob.get(jobId)!.recent = page.entries
        .filter((r) => r.status !== 'queued' && r.status !== 'running')
        .reverse()
        .map((r) => ({
          runId: r.runId,
          status: r.status,
          slotMs: r.slotMs,
          durationMs: r.durationMs ?? null,
        }));
    }),
  );
  return { fromMs, toMs, bucketMs, jobs: opts.jobIds.map((id) => byJob.get(id)!) };
}
