/**
 * The engine's writes, batched: every write issued during one turn of the event loop goes to the
 * store as one transaction (Store.writeBatch). A commit costs far more than a row, so when 1,000
 * jobs fire in the same second their claims share one commit instead of taking 1,000. Each caller
 * still gets its own answer. Stores without writeBatch get the single calls.
 */
import { EXIT, UserError } from '../domain/errors.ts';
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
    if (!this.store.writeBatch) return this.single(write);
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
    try {
      const results = await this.store.writeBatch!(batch.map((p) => p.write));
      batch.forEach((p, i) => p.resolve(results[i] ?? false));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  private async single(write: StoreWrite): Promise<boolean> {
    switch (write.kind) {
      case 'claim':
        return this.store.claimRun(write.run);
      case 'finish':
        await this.store.finishRun(write.runId, write.finish);
        return true;
      case 'patchState':
        try {
          await this.store.patchJobState(write.jobId, write.patch);
          return true;
        } catch (err) {
          if (err instanceof UserError && err.exitCode === EXIT.notFound) return false;
          throw err;
        }
      case 'prune':
        await this.store.pruneRuns(write.jobId, write.keep);
        return true;
    }
  }
}
