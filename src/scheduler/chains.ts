/**
 * The chain trigger: starts a job that runs `after` others when their runs end (domain/chain.ts
 * has the rules), or records the chain broken when its `within` window passes first.
 *
 * - A follower's cycle is the predecessor runs that ended after its last chain slot (its
 *   creation, before the first). When every link has a run in the cycle that counts for it
 *   (`runCountsFor`: ok for success, a final failed attempt for failure, either for always;
 *   manual runs and retries count like any other), the follower's run is claimed with trigger
 *   `chain` and slot = the end of the last of those runs. The store's unique (job, slot) claim
 *   makes it happen once, whoever evaluates: the engine after each finished run, and again at
 *   start for every follower, so a restart between a predecessor's end and the follower's start
 *   still starts the follower, exactly once.
 * - With `within`, the window opens when the first predecessor run of the cycle ends; if the
 *   chain is not complete by then, a `missed` run is recorded at slot = the window's end
 *   ("chain broken: ..."), which alerts like any failure and closes the cycle.
 */
import type { Clock, TimerHandle } from '../domain/clock.ts';
import { runCountsFor } from '../domain/chain.ts';
import { formatDuration } from '../domain/duration.ts';
import type { ChainLink, Job, Run } from '../domain/job.ts';
import type { Store } from '../store/store.ts';
import type { EngineLog } from './events.ts';
import { newRunId } from './run-id.ts';

export interface ChainDeps {
  store: Store;
  clock: Clock;
  log: EngineLog;
  /**
   * Claims the follower's run (queued, or a terminal `missed` record for a broken chain) and
   * hands it to the engine; false when that slot was claimed already.
   */
  record(job: Job, run: Run): Promise<boolean>;
}

/** How many recent runs of a predecessor are looked at per evaluation. */
const RECENT_RUNS = 50;
const ENDED = new Set(['ok', 'delivered', 'error', 'timeout', 'interrupted', 'missed']);

export class ChainTrigger {
  private readonly deps: ChainDeps;
  /** Followers by predecessor name. */
  private followers = new Map<string, Job[]>();
  private byName = new Map<string, Job>();
  private readonly windows = new Map<string, { atMs: number; timer: TimerHandle }>();
  private stopped = false;

  constructor(deps: ChainDeps) {
    this.deps = deps;
  }

  /** The jobs as the engine now knows them. */
  setJobs(jobs: Job[]): void {
    this.byName = new Map(jobs.map((j) => [j.name, j]));
    this.followers = new Map();
    const ids = new Set<string>();
    for (const job of jobs) {
      if (job.schedule.kind !== 'after') continue;
      ids.add(job.id);
      for (const link of job.schedule.after) {
        const list = this.followers.get(link.job) ?? [];
        list.push(job);
        this.followers.set(link.job, list);
      }
    }
    for (const [id, w] of this.windows) {
      if (!ids.has(id)) {
        w.timer.cancel();
        this.windows.delete(id);
      }
    }
  }

  /** A run of `job` ended: its followers may start now. */
  async runFinished(job: Job, run: Run): Promise<void> {
    if (!ENDED.has(run.status)) return;
    for (const follower of this.followers.get(job.name) ?? []) await this.evaluate(follower);
  }

  /** Every follower, once (at start): picks up chains a stop interrupted. */
  async recover(): Promise<void> {
    this.stopped = false;
    const seen = new Set<string>();
    for (const list of this.followers.values())
      for (const f of list) {
        if (seen.has(f.id)) continue;
        seen.add(f.id);
        await this.evaluate(f);
      }
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.windows.values()) w.timer.cancel();
    this.windows.clear();
  }

  /** Starts the follower, records its chain broken, or arms the window's timer. */
  async evaluate(follower: Job): Promise<void> {
    if (this.stopped || !follower.enabled || follower.schedule.kind !== 'after') return;
    const { after, withinMs } = follower.schedule;
    const cursor = Math.max(
      (await this.deps.store.lastSlotMs(follower.id)) ?? follower.createdAtMs,
      follower.createdAtMs,
    );
    const cycle: { link: ChainLink; pred: Job; ended: Run[] }[] = [];
    for (const link of after) {
      const pred = this.byName.get(link.job);
      if (!pred) return; // a predecessor deleted or renamed: the chain waits (validation warns on edits)
      const page = await this.deps.store.listRuns({ jobId: pred.id, limit: RECENT_RUNS });
      const ended = page.entries
        .filter((r) => ENDED.has(r.status) && (r.finishedAtMs ?? 0) > cursor)
        .sort((a, b) => a.finishedAtMs! - b.finishedAtMs!);
      cycle.push({ link, pred, ended });
    }
    const firstEnd = Math.min(...cycle.flatMap((c) => c.ended.map((r) => r.finishedAtMs!)));
    if (!Number.isFinite(firstEnd)) return; // nothing ended since the last cycle
    const deadline = withinMs === undefined ? undefined : firstEnd + withinMs;
    const counting = cycle.map((c) => ({
      ...c,
      run: c.ended.find(
        (r) =>
          runCountsFor(c.link.on, r, c.pred.policy.retries) &&
          (deadline === undefined || r.finishedAtMs! <= deadline),
      ),
    }));
    const now = this.deps.clock.now();
    if (counting.every((c) => c.run !== undefined)) {
      const last = counting.reduce((a, b) => (b.run!.finishedAtMs! > a.run!.finishedAtMs! ? b : a));
      const run: Run = {
        runId: newRunId(),
        jobId: follower.id,
        slotMs: last.run!.finishedAtMs!,
        attempt: 1,
        trigger: 'chain',
        status: 'queued',
        notBeforeMs: now,
        details: {
          chain: {
            afterRunId: last.run!.runId,
            afterJob: last.pred.name,
            runs: Object.fromEntries(counting.map((c) => [c.pred.name, c.run!.runId])),
          },
        },
      };
      this.clearWindow(follower.id);
      if (await this.deps.record(follower, run))
        this.deps.log({
          event: 'chain.triggered',
          jobId: follower.id,
          jobName: follower.name,
          runId: run.runId,
          afterJob: last.pred.name,
          afterRunId: last.run!.runId,
        });
      return;
    }
    if (deadline === undefined) return;
    if (now < deadline) {
      this.armWindow(follower, deadline);
      return;
    }
    const missing = counting
      .filter((c) => c.run === undefined)
      .map((c) => `${c.pred.name} ${ON_WORDS[c.link.on]}`);
    const run: Run = {
      runId: newRunId(),
      jobId: follower.id,
      slotMs: deadline,
      attempt: 1,
      trigger: 'chain',
      status: 'missed',
      error: `chain broken: no run of ${missing.join(', ')} within ${formatDuration(withinMs!)} of the first predecessor's end`,
      finishedAtMs: now,
      details: {
        chain: {
          runs: Object.fromEntries(counting.filter((c) => c.run).map((c) => [c.pred.name, c.run!.runId])),
        },
      },
    };
    this.clearWindow(follower.id);
    if (await this.deps.record(follower, run))
      this.deps.log({
        event: 'chain.broken',
        jobId: follower.id,
        jobName: follower.name,
        runId: run.runId,
        reason: run.error!,
      });
  }

  private armWindow(follower: Job, atMs: number): void {
    const current = this.windows.get(follower.id);
    if (current?.atMs === atMs) return;
    current?.timer.cancel();
    const timer = this.deps.clock.at(atMs, () => {
      this.windows.delete(follower.id);
      const fresh = this.byName.get(follower.name);
      if (fresh)
        void this.evaluate(fresh).catch((err: unknown) =>
          this.deps.log({
            event: 'engine.error',
            error: err instanceof Error ? err.message : String(err),
            jobId: follower.id,
          }),
        );
    });
    this.windows.set(follower.id, { atMs, timer });
  }

  private clearWindow(id: string): void {
    this.windows.get(id)?.timer.cancel();
    this.windows.delete(id);
  }
}

const ON_WORDS = { success: 'succeeding', failure: 'failing', always: 'ending' } as const;
