/**
 * The engine's writes, batched: every write issued during one turn of the event loop goes to the
 * store as one transaction (Store.writeBatch). A commit costs far more than a row, so when 1,000
 * jobs fire in the same second their claims share one commit instead of taking 1,000. Each caller
 * still gets its own answer, and a write that fails fails alone. State patches of one job in one batch are merged into one statement
 * (a run's start, end and next slot each patch its job).
 */
import type { JobState, Run } from '../domain/job.ts';
import type { RunFinish, Store, StoreWrite } from '../store/store.ts';

interface Pending {
  write: StoreWrite;
  resolve: (ok: boolean) => void;
  reject: (err: unknown) => void;
}

export class WriteQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /** Resolves true if the slot was claimed (false: already claimed, or the job is gone). */
  claim(run: Run): Promise<boolean> {
    return this.enqueue({ kind: 'claim', run });
  }

  async finish(runId: string, finish: RunFinish): Promise<void> {
    await this.enqueue({ kind: 'finish', runId, finish });
  }

  /** Records a claimed run's start (and its process once it has one). */
  async start(runId: string, startedAtMs: number, pid?: number): Promise<void> {
    await this.enqueue({ kind: 'start', runId, startedAtMs, ...(pid !== undefined ? { pid } : {}) });
  }

  /** Puts a run claimed ahead of its slot back to `queued`; false if it was no longer `running`. */
  requeue(runId: string, notBeforeMs: number): Promise<boolean> {
    return this.enqueue({ kind: 'requeue', runId, notBeforeMs });
  }

  /** Resolves false when the job no longer exists. */
  patchState(jobId: string, patch: Partial<JobState>): Promise<boolean> {
    return this.enqueue({ kind: 'patchState', jobId, patch });
  }

  async prune(jobId: string, keep: { maxRuns: number; olderThanMs: number }): Promise<void> {
    await this.enqueue({ kind: 'prune', jobId, keep });
  }

  /** Resolves once every write enqueued so far has been committed (or has failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) {
      await (this.flushing ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }

  private enqueue(write: StoreWrite): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          const flushing: Promise<void> = this.flush().finally(() => {
            if (this.flushing === flushing) this.flushing = undefined;
          });
          this.flushing = flushing;
        });
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    const { writes, slotOf } = mergePatches(batch.map((p) => p.write));
    let results: (boolean | Error)[];
    try {
      results = await this.store.writeBatch(writes);
    } catch (err) {
      if (!rowError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad row must not take the others down with it (the batch rolled back as a whole):
      // each write goes again on its own, and only the one that fails again reports an error.
      results = [];
      for (const w of writes) {
        try {
          results.push((await this.store.writeBatch([w]))[0] ?? false);
        } catch (err) {
          results.push(err instanceof Error ? err : new Error(String(err)));
        }
      }
    }
    batch.forEach((p, i) => {
      const r = results[slotOf[i]!] ?? false;
      if (r instanceof Error) p.reject(r);
      else p.resolve(r);
    });
  }
}

/**
 * An error about one row's content (a constraint, a type), which the other writes of its batch do
 * not share. A busy, full or broken database fails every write alike: those are not retried one
 * by one.
 */
function rowError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}

/**
 * One patchState per job: later keys win, as if applied in order. Patches touch only their job's
 * state, so the merged one can stand where the job's first patch stood. `slotOf[i]` is the index
 * in `writes` that answers the i-th original write.
 */
function mergePatches(original: StoreWrite[]): { writes: StoreWrite[]; slotOf: number[] } {
  const writes: StoreWrite[] = [];
  const slotOf: number[] = [];
  const patchAt = new Map<string, number>();
  for (const w of original) {
    if (w.kind !== 'patchState') {
      slotOf.push(writes.push(w) - 1);
      continue;
    }
    const at = patchAt.get(w.jobId);
    if (at === undefined) {
      patchAt.set(w.jobId, writes.length);
      slotOf.push(writes.push(w) - 1);
    } else {
      const merged = writes[at] as Extract<StoreWrite, { kind: 'patchState' }>;
      writes[at] = { ...merged, patch: { ...merged.patch, ...w.patch } };
      slotOf.push(at);
    }
  }
  return { writes, slotOf };
}
