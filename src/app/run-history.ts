/**
 * Whose run history a user asks for. Runs outlive a one-shot job deleted after success, so a
 * history lookup also accepts the id of a job that is gone but still has runs.
 */
import type { Store } from '../store/store.ts';

export interface HistoryOwner {
  id: string;
  name: string;
}

/** The job by id or exact name, else a deleted job's id that still has runs; undefined if neither. */
export async function findHistoryOwner(store: Store, idOrName: string): Promise<HistoryOwner | undefined> {
  const job = await store.findJob(idOrName);
  if (job) return { id: job.id, name: job.name };
  const kept = await store.listRuns({ jobId: idOrName, limit: 1 });
  return kept.total > 0 ? { id: idOrName, name: `deleted job ${idOrName}` } : undefined;
}
