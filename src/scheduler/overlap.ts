/**
 * Overlap: what a slot (or a manual run) does while the job is busy. "Busy" means the job has a
 * run in progress or a run waiting: a queued run (manual, catch-up, or a queue-one slot) or a retry
 * waiting out its backoff. A pending retry counts as work in progress on purpose: the job is still
 * busy with the failed slot, and a fresh slot must not run beside it (as OpenClaw's backoff also
 * holds back the next run). With `allow` slots run regardless.
 *
 * - `skip` (default): the slot is recorded `skipped` with reason `overlap`.
 * - `queue-one`: the slot waits as a queued run if nothing is waiting yet; otherwise `skipped`.
 * - `allow`: the slot runs beside the running one.
 */
import type { OverlapPolicy } from '../domain/job.ts';

export interface Busy {
  running: number;
  queued: number;
}

export type SlotDecision = 'run' | 'queue' | 'skip';

export function decideSlot(policy: OverlapPolicy, busy: Busy): SlotDecision {
  if (busy.running === 0 && busy.queued === 0) return 'run';
  if (policy === 'allow') return 'run';
  if (policy === 'queue-one') return busy.queued === 0 ? 'queue' : 'skip';
  return 'skip';
}

export type ManualDecision =
  { enqueue: true } | { enqueue: false; reason: 'already running' | 'already queued' };

/**
 * A manual run while the job is busy follows the same policy: `skip` refuses it while a run is
 * going, `queue-one` lets it wait unless something already waits, `allow` runs it at once. A
 * manual run of an idle job with only a pending retry runs at once.
 */
export function decideManual(policy: OverlapPolicy, busy: Busy): ManualDecision {
  if (busy.running === 0 || policy === 'allow') return { enqueue: true };
  if (policy === 'queue-one')
    return busy.queued === 0 ? { enqueue: true } : { enqueue: false, reason: 'already queued' };
  return { enqueue: false, reason: 'already running' };
}
