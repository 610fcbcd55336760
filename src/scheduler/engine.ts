/**
 * The scheduler engine: fires each enabled job's slots on time, exactly once, and records what
 * happened to every slot.
 *
 *   new Engine({ store, clock, executors, log?, random?, changePollMs? })
 *   start()        recover runs a crash left `running` (→ `interrupted`), catch up slots missed while
 *                  down, then fire on time until stop()
 *   stop()         stop firing, abort running payloads (they are recorded `interrupted`), resolve
 *                  once everything is recorded
 *   requestRun(idOrName, { due? })  queue a manual run (with `due`: the job's due slot, if any)
 *   runQueuedNow(runId)             execute one queued run in this process (the CLI without a daemon)
 *   refresh()      re-read jobs and queued runs now (the change poll does it within changePollMs)
 *   idle()         resolves when nothing is running or being dispatched (for tests)
 *
 * How it works, and the decisions behind it:
 * - One wake-up timer (clock.at), armed at the earliest of: the next slot of any enabled job less
 *   the claim lead, the `notBeforeMs` of any queued run. No polling for fires; Clock.at handles
 *   delays beyond 2^31 ms.
 * - Slots are claimed a little ahead (claim-lead.ts) and their payloads start at the slot, from
 *   one more timer per slot: all runs of a slot start in one loop, their bookkeeping after it.
 *   A claimed run counts as running; a job busy when its slot could be claimed is handled at the
 *   slot instead, so overlap is decided at the slot. At the slot, a job disabled or deleted since
 *   the claim does not start, and one made busy by another process follows its overlap policy.
 *   A cheap poll of store.changeToken() every changePollMs (0 disables it) notices CLI edits and
 *   manual runs queued by another process.
 * - A slot is claimed in the store (jobId, slotMs, attempt) before anything runs, so it runs at
 *   most once across restarts and processes. Queued runs start via an atomic take.
 * - Each job has a cursor: its last handled slot (the store's lastSlotMs after a restart). Slots
 *   after the cursor that are due now fire; those more than LATE_GRACE_MS late (daemon down,
 *   machine suspended) go through the catch-up policy (catchup.ts). A job never run starts at its
 *   creation. Enabling a job or changing its schedule restarts it from the edit time, so enabling
 *   never bursts old slots (at start, slots before the job's last edit are not caught up: the
 *   store does not say what the edit was). An `at` job's single slot is never skipped: a past `at`, when
 *   the job is saved, follows the catch-up policy (`skip` records it `missed` and disables the
 *   job; `one`/`all` run it once).
 * - Overlap (overlap.ts): a pending retry or queued run counts as the job being busy.
 * - Retries (retry.ts): a failed (error/timeout) scheduled or catch-up run leaves a queued run with
 *   trigger `retry`, the same slot, attempt+1 and notBeforeMs = finish + backoff, so it survives a
 *   restart. The grid is untouched: the next slot comes from the schedule, not the retry time.
 *   Manual runs are not retried (the user is watching them).
 * - One-shot (`at`) jobs, after their final scheduled attempt: ok → deleted (deleteAfterRun) or
 *   disabled; otherwise disabled, with the error in job.state. Manual runs of them change nothing.
 *   A deleted one-shot's runs stay; runs of deleted jobs go after DEFAULT_HISTORY.maxAgeMs.
 * - After finished runs the job's history policy is applied (store.pruneRuns), batched for busy jobs (see prune()).
 * - All jobs due at one instant are handled together and their store writes share one commit
 *   (write-queue.ts), so 1,000 jobs firing in the same second cost one claim transaction.
 * - Manual runs take a slot key that is not one of the job's slots (now, moved on by a
 *   millisecond if needed), so they never block a scheduled fire.
 */
import type { Clock, TimerHandle } from '../domain/clock.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import { DEFAULT_HISTORY } from '../domain/job.ts';
import type { Job, JobState, Run, RunTrigger } from '../domain/job.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../payloads/executor.ts';
import type { Store } from '../store/store.ts';
import { missedRecordCap, planCatchup, summaryReason } from './catchup.ts';
import { DueQueue } from './due-queue.ts';
import type { DueItem } from './due-queue.ts';
import type { EngineEvent, EngineLog } from './events.ts';
import type { RunOutputSink } from '../payloads/live-output.ts';
import { applyStatePatch, stateAfterRun, stateAfterSkip } from './job-state.ts';
import { decideManual, decideSlot } from './overlap.ts';
import type { Busy } from './overlap.ts';
import { recoverInterrupted } from './recovery.ts';
import { retryDelayMs } from './retry.ts';
import { WriteQueue } from './write-queue.ts';
import { ClaimLead, DEFAULT_LEAD } from './claim-lead.ts';
import type { LeadBounds } from './claim-lead.ts';
import { isSlot, nextSlotAfter, slotsIn } from './slots.ts';
import type { SlotRange } from './slots.ts';
import { newRunId } from './run-id.ts';
import { ChainTrigger } from './chains.ts';
import { successorsOf } from '../domain/chain.ts';

export type { EngineEvent } from './events.ts';

export interface EngineOptions {
  store: Store;
  clock: Clock;
  executors: Executor[];
  /** Receives structured events (the daemon prints them as lines). */
  log?: (event: EngineEvent) => void;
  /** [0, 1), for retry jitter; tests inject a fixed value. */
  random?: () => number;
  /** How often to look for changes made by other processes (default 500 ms; 0 = never). */
  changePollMs?: number;
  /**
   * Called with every finished run (after its record is written), e.g. for alerts and delivery.
   * Its failures are logged as engine errors, never change the run.
   */
  onRunFinished?: (job: Job, run: Run) => Promise<void> | void;
  /** Called as a run starts (e.g. for a healthcheck `start` ping); not awaited by the payload. */
  onRunStarted?: (job: Job, run: Run) => Promise<void> | void;
  /**
   * Bounds of the claim lead: how long before a slot its claim is written (claim-lead.ts). The
   * payload still starts at the slot. `{ minMs: 0, maxMs: 0 }` claims at the slot itself.
   */
  claimLead?: LeadBounds;
  /**
   * This daemon's host name: jobs pinned to another host (job.onHost) are left to that host's
   * daemon. Undefined: every job runs here.
   */
  host?: string;
  /**
   * Asked just before each payload starts; a reason refuses the start (the run is recorded
   * `interrupted` with it). A cluster member refuses while its lease is in doubt (membership.ts).
   */
  startRefusal?: () => string | undefined;
  /** Receives the payloads' output as it arrives and each run's end (the daemon's live tail). */
  output?: RunOutputSink;
}

export interface RunRequestResult {
  ok: boolean;
  enqueued: boolean;
  runId?: string;
  reason?: string;
}

const DEFAULT_CHANGE_POLL_MS = 500;
/** A slot this late is still fired normally; later ones follow the catch-up policy. */
export const LATE_GRACE_MS = 1_000;
/** After an unexpected store error the engine tries again this much later. */
const ERROR_RETRY_MS = 5_000;
/** See prune(). */
const PRUNE_SLACK = 0.05;
const PRUNE_EVERY_MS = 60_000;
const ORPHAN_SWEEP_EVERY_MS = 24 * 3_600_000;

interface JobEntry {
  job: Job;
  /** Last handled slot: slots after it are still to come (or due). */
  cursorMs: number;
  /** The job's next slot as last scheduled. */
  nextMs?: number;
  /** A slot claimed ahead whose run has not started yet: job.state.nextRunAtMs still shows it. */
  claimedAheadMs?: number;
}

interface InFlight {
  job: Job;
  run: Run;
  controller: AbortController;
  /** Resolves with the finished run. */
  done: Promise<Run>;
  settle: (run: Run) => void;
  /** The payload has returned; only bookkeeping is left. */
  payloadDone: boolean;
  /** Claimed ahead: the slot's time, until the run starts. */
  waitsForMs?: number;
  /** Bookkeeping writes of the start; the finish waits for them. */
  writes: Promise<unknown>[];
}

/** Runs claimed ahead of one slot, started together when its time comes. */
interface AheadGroup {
  runIds: string[];
  timer?: TimerHandle;
}

export class Engine {
  private readonly store: Store;
  private readonly writes: WriteQueue;
  private readonly clock: Clock;
  private readonly executors: Map<string, Executor>;
  private readonly log: EngineLog;
  private readonly random: () => number;
  private readonly onRunFinished: EngineOptions['onRunFinished'];
  private readonly onRunStarted: EngineOptions['onRunStarted'];
  /** Per job: runs finished since its history was last pruned, and when that was. */
  private readonly pruned = new Map<string, { runs: number; atMs: number }>();
  private readonly changePollMs: number;
  private readonly host: string | undefined;
  private readonly startRefusal: EngineOptions['startRefusal'];
  private readonly output: EngineOptions['output'];

  private started = false;
  private stopping = false;
  private startedAtMs = 0;
  private readonly entries = new Map<string, JobEntry>();
  private readonly due = new DueQueue();
  /** Queued runs as last read or written by this engine. */
  private queued = new Map<string, Run>();
  /** Running runs owned by another process, per job (they count for overlap). */
  private foreignRunning = new Map<string, number>();
  private readonly inflight = new Map<string, InFlight>();
  /** Per job: runs of this engine whose payload has not returned yet. */
  private readonly payloadsRunning = new Map<string, number>();
  /** Runs claimed ahead of their slot, by slot; they are in `inflight` too. */
  private readonly ahead = new Map<number, AheadGroup>();
  /** Jobs whose next slot was not claimed ahead because they were busy: handled at the slot. */
  private readonly atSlotOnly = new Set<string>();
  private readonly lead: ClaimLead;
  private orphansSweptAtMs: number | undefined;
  private wake: { atMs: number; handle: TimerHandle } | undefined;
  private poll: TimerHandle | undefined;
  private lastToken: number | undefined;
  private pumpRequested = false;
  private reloadRequested = false;
  private pumping: Promise<void> | undefined;
  /** Starts jobs that run `after` others (chains.ts). */
  private readonly chains: ChainTrigger;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.writes = new WriteQueue(opts.store);
    this.clock = opts.clock;
    this.executors = new Map(opts.executors.map((e) => [e.kind, e]));
    const log = opts.log;
    this.log = (event) => {
      try {
        log?.(event);
      } catch {
        // A failing log sink must not stop the scheduler.
      }
    };
    this.random = opts.random ?? Math.random;
    this.onRunFinished = opts.onRunFinished;
    this.onRunStarted = opts.onRunStarted;
    this.changePollMs = opts.changePollMs ?? DEFAULT_CHANGE_POLL_MS;
    this.lead = new ClaimLead(opts.claimLead ?? DEFAULT_LEAD);
    this.host = opts.host;
    this.startRefusal = opts.startRefusal;
    this.output = opts.output;
    this.chains = new ChainTrigger({
      store: this.store,
      clock: this.clock,
      log: this.log,
      record: (job, run) => this.recordChainRun(job, run),
    });
  }

  /** A chain's run: queued to start now, or a broken chain's `missed` record (which notifies). */
  private async recordChainRun(job: Job, run: Run): Promise<boolean> {
    if (!(await this.writes.claim(run))) return false;
    if (run.status === 'queued') {
      this.log(queuedEvent(run));
      if (this.started && !this.stopping) {
        this.queued.set(run.runId, run);
        this.kick();
      }
    } else await this.notifyFinished(job, run);
    return true;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.startedAtMs = this.clock.now();
    let interrupted: Run[];
    try {
      this.lastToken = await this.store.changeToken();
      // Several daemons on one store: a run left `running` may be another daemon's, alive. Runs of
      // dead daemons are taken over once their lease expires (membership.ts), not at start.
      ({ interrupted } = this.store.cluster
        ? { interrupted: [] }
        : await recoverInterrupted(this.store, this.clock, this.log));
      await this.sweepOrphanRuns(this.startedAtMs);
      await this.reload();
      await this.chains.recover();
    } catch (err) {
      this.started = false;
      throw err;
    }
    this.log({
      event: 'engine.started',
      jobs: this.entries.size,
      recovered: interrupted.length,
      queued: this.queued.size,
    });
    this.armPoll();
    this.kick();
    await this.pumping;
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    this.wake?.handle.cancel();
    this.wake = undefined;
    this.poll?.cancel();
    this.poll = undefined;
    this.chains.stop();
    this.log({ event: 'engine.stopping', running: this.inflight.size });
    for (const f of this.inflight.values()) f.controller.abort();
    await this.pumping;
    // Runs claimed ahead start now and find the daemon stopping: recorded `interrupted`, never run.
    for (const slotMs of [...this.ahead.keys()]) this.startAhead(slotMs);
    while (this.inflight.size > 0) {
      for (const f of this.inflight.values()) f.controller.abort();
      await Promise.allSettled([...this.inflight.values()].map((f) => f.done));
    }
    this.started = false;
    this.log({ event: 'engine.stopped' });
  }

  /** The jobs as the engine last read them (enabled or not), without a store read. */
  jobs(): Job[] {
    return [...this.entries.values()].map((e) => e.job);
  }

  /** Runs this engine holds: claimed, running, or finishing. */
  runsInFlight(): number {
    return this.inflight.size;
  }

  /**
   * Aborts every running payload (recorded `interrupted`); runs claimed ahead are refused at their
   * slot by startRefusal. For a cluster member whose lease is in doubt.
   */
  abortRunning(): void {
    for (const f of this.inflight.values()) if (f.waitsForMs === undefined) f.controller.abort();
  }

  /** Whether the job runs on this engine's host (it is not pinned to another). */
  private runsHere(job: Job): boolean {
    return job.onHost === undefined || this.host === undefined || job.onHost === this.host;
  }

  /** Re-reads jobs and queued runs now, then fires whatever is due. */
  async refresh(): Promise<void> {
    if (!this.started) return;
    this.reloadRequested = true;
    this.kick();
    while (this.pumping) await this.pumping;
  }

  async idle(): Promise<void> {
    for (;;) {
      if (this.pumping) {
        await this.pumping;
        continue;
      }
      // Runs claimed ahead wait for their slot's time, which only the clock brings.
      const running = [...this.inflight.values()].filter((f) => f.waitsForMs === undefined);
      if (running.length > 0) {
        await Promise.allSettled(running.map((f) => f.done));
        continue;
      }
      return;
    }
  }

  /**
   * Queues a manual run (trigger `manual`, slot = now). Works with or without start(): a started
   * engine runs it at once; otherwise a daemon picks it up, or the caller runs it with
   * runQueuedNow. While the job runs, the overlap policy decides (`skip` refuses with reason
   * `already running`). With `due`, only the job's due slot is queued (trigger `schedule`), and
   * `{ ok: true, enqueued: false, reason: 'not-due' }` comes back when nothing is due.
   */
  async requestRun(jobIdOrName: string, opts: { due?: boolean } = {}): Promise<RunRequestResult> {
    const job = await this.store.findJob(jobIdOrName);
    if (!job) {
      throw new UserError(`no job with id or name "${jobIdOrName}"`, {
        hint: 'list jobs with `nightshift cron list --all`',
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    }
    const now = this.clock.now();
    const unfinished = (await this.store.unfinishedRuns()).filter((r) => r.jobId === job.id);
    const busy: Busy = {
      running: unfinished.filter((r) => r.status === 'running').length,
      queued: unfinished.filter((r) => r.status === 'queued').length,
    };

    let trigger: RunTrigger = 'manual';
    let slotMs = now;
    if (opts.due) {
      if (!job.enabled) return { ok: true, enqueued: false, reason: 'not-due' };
      const cursor =
        this.entries.get(job.id)?.cursorMs ?? initialCursor(job, await this.store.lastSlotMs(job.id));
      const slot = slotsIn(job, cursor, now, 1).recent.at(-1);
      if (slot === undefined) return { ok: true, enqueued: false, reason: 'not-due' };
      trigger = 'schedule';
      slotMs = slot;
    }
    const decision = decideManual(job.policy.overlap, busy);
    if (!decision.enqueue) return { ok: false, enqueued: false, reason: decision.reason };

    const run: Run = {
      runId: newRunId(),
      jobId: job.id,
      slotMs,
      attempt: 1,
      trigger,
      status: 'queued',
      notBeforeMs: now,
    };
    let claimed = false;
    if (trigger === 'schedule') {
      claimed = await this.store.claimRun(run);
      if (!claimed) return { ok: true, enqueued: false, reason: 'not-due' };
      const entry = this.entries.get(job.id);
      if (entry && slotMs > entry.cursorMs) entry.cursorMs = slotMs;
    } else {
      // A manual run takes a (jobId, slotMs) key that is not one of the job's slots, so it never
      // blocks a scheduled fire; a clash with another manual run moves it on by a millisecond.
      for (let i = 0; i < 1_000 && !claimed; i++) {
        while (isSlot(job, run.slotMs)) run.slotMs++;
        claimed = await this.store.claimRun(run);
        if (!claimed) run.slotMs++;
      }
      if (!claimed) return { ok: false, enqueued: false, reason: 'could not queue the run; try again' };
    }
    this.log(queuedEvent(run));
    if (this.started && !this.stopping) {
      this.queued.set(run.runId, run);
      this.kick();
    }
    return { ok: true, enqueued: true, runId: run.runId };
  }

  /**
   * Executes one queued run in this process, now (ignoring its notBeforeMs), and resolves with
   * the finished run. Throws a UserError if the run does not exist or is not queued.
   */
  async runQueuedNow(runId: string): Promise<Run> {
    const run = await this.store.getRun(runId);
    if (!run) {
      throw new UserError(`no run with id ${runId}`, {
        hint: 'list runs with `nightshift cron runs --id <job>`',
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    }
    const job = await this.store.findJob(run.jobId);
    if (!job) {
      throw new UserError(`the job of run ${runId} no longer exists`, {
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    }
    if (!this.runsHere(job)) {
      throw new UserError(`job ${job.name} runs only on host ${job.onHost} (this is ${this.host})`, {
        hint: `a daemon on ${job.onHost} runs the queued run; or run it there`,
        code: 'wrong_host',
      });
    }
    const now = this.clock.now();
    if (run.status !== 'queued' || !(await this.take(runId, now))) {
      throw new UserError(
        `run ${runId} is not waiting to run (it is ${run.status === 'queued' ? 'taken by another process' : run.status})`,
        {
          hint: 'queue a new run with `nightshift cron run <job>`',
          exitCode: EXIT.conflict,
          code: 'conflict',
        },
      );
    }
    this.queued.delete(runId);
    return this.launch(job, { ...run, status: 'running', startedAtMs: now });
  }

  // ---------------------------------------------------------------------------------------------
  // the pump: one serialized loop does all scheduling work

  private kick(): void {
    if (!this.started || this.stopping) return;
    this.pumpRequested = true;
    this.pumping ??= this.pumpLoop();
  }

  private async pumpLoop(): Promise<void> {
    try {
      while (this.pumpRequested && !this.stopping) {
        this.pumpRequested = false;
        await this.pumpOnce();
      }
    } catch (err) {
      this.log({ event: 'engine.error', error: errorText(err) });
      if (!this.stopping) this.armAt(this.clock.now() + ERROR_RETRY_MS);
    } finally {
      this.pumping = undefined;
    }
  }

  private async pumpOnce(): Promise<void> {
    if (this.reloadRequested) {
      this.reloadRequested = false;
      await this.reload();
    }
    const now = this.clock.now();
    const top = this.due.peek();
    const horizon = top === undefined ? now : now + this.leadFor(top.atMs);
    // All due jobs at once: their writes share one commit (WriteQueue); jobs touch only their own state.
    // Slots up to `horizon` are claimed ahead, unless the job is busy: overlap is decided at the slot.
    const due: JobEntry[] = [];
    const early: { entry: JobEntry; slotMs: number }[] = [];
    const atSlot: DueItem[] = [];
    for (let item = this.due.popDue(horizon); item; item = this.due.popDue(horizon)) {
      const entry = this.entries.get(item.key);
      if (!entry) continue;
      if (item.atMs <= now) {
        this.atSlotOnly.delete(item.key);
        due.push(entry);
      } else if (decideSlot(entry.job.policy.overlap, this.busy(item.key)) === 'run') {
        early.push({ entry, slotMs: item.atMs });
      } else {
        this.atSlotOnly.add(item.key);
        atSlot.push(item);
      }
    }
    for (const item of atSlot) this.due.set(item.key, item.atMs);
    const handle = async (entry: JobEntry, work: Promise<void>): Promise<void> => {
      try {
        await work;
      } catch (err) {
        // Move past the slot so one bad job cannot spin the loop.
        entry.cursorMs = Math.max(entry.cursorMs, now);
        this.log({ event: 'engine.error', error: errorText(err), jobId: entry.job.id });
      }
      // A one-shot job may have been deleted meanwhile.
      if (this.entries.get(entry.job.id) === entry) await this.reschedule(entry, now);
    };
    const t0 = performance.now();
    await Promise.all([
      ...due.map((entry) => handle(entry, this.processJob(entry, now))),
      ...early.map(({ entry, slotMs }) => handle(entry, this.claimAhead(entry, slotMs))),
    ]);
    if (early.length > 0) this.lead.observe(early.length, performance.now() - t0);
    this.armAhead();
    if (this.stopping) return;
    await this.dispatchQueued(now);
    this.arm(now);
  }

  /** Reads jobs and unfinished runs from the store and brings the engine's picture up to date. */
  private async reload(): Promise<void> {
    // Our own writes first, so the jobs read back carry the state this engine last wrote.
    await this.writes.drain();
    const jobs = await this.store.listJobs();
    const unfinished = await this.store.unfinishedRuns();
    const now = this.clock.now();
    const seen = new Set<string>();
    // State writes of all jobs go out together (one commit when batched).
    const writes: Promise<void>[] = [];
    // Cursors of jobs seen for the first time, in one query.
    const fresh = jobs.filter((j) => this.runsHere(j) && !this.entries.has(j.id)).map((j) => j.id);
    const lastSlots = fresh.length > 0 ? await this.store.lastSlotsMs(fresh) : new Map<string, number>();
    for (const job of jobs) {
      if (!this.runsHere(job)) continue;
      seen.add(job.id);
      const entry = this.entries.get(job.id);
      if (!entry) {
        const fresh: JobEntry = { job, cursorMs: initialCursor(job, lastSlots.get(job.id)) };
        this.entries.set(job.id, fresh);
        writes.push(this.reschedule(fresh, now));
      } else if (entry.job.updatedAtMs !== job.updatedAtMs || entry.job.enabled !== job.enabled) {
        // Enabled, or given a new schedule: start afresh from the edit (no burst of old slots); an
        // `at` job keeps its one slot. Other edits leave the cursor alone, so no due slot is lost.
        const restart =
          entry.job.enabled !== job.enabled ||
          JSON.stringify(entry.job.schedule) !== JSON.stringify(job.schedule);
        if (restart && job.schedule.kind !== 'at') entry.cursorMs = Math.max(entry.cursorMs, job.updatedAtMs);
        entry.job = job;
        writes.push(this.reschedule(entry, now));
      } else {
        entry.job = job;
      }
    }
    await Promise.all(writes);
    for (const id of [...this.entries.keys()]) {
      if (!seen.has(id)) {
        this.entries.delete(id);
        this.due.delete(id);
      }
    }
    this.chains.setJobs(jobs);
    // Runs this engine queued whose write may not have committed when the store was read stay
    // known; one that is in fact gone is dropped when the atomic take finds it not queued.
    const previous = this.queued;
    this.queued = new Map();
    this.foreignRunning = new Map();
    for (const run of unfinished) {
      if (this.inflight.has(run.runId)) continue;
      if (run.status === 'queued') this.queued.set(run.runId, run);
      else this.foreignRunning.set(run.jobId, (this.foreignRunning.get(run.jobId) ?? 0) + 1);
    }
    const listed = new Set(unfinished.map((r) => r.runId));
    for (const [runId, run] of previous) {
      if (!listed.has(runId) && this.entries.has(run.jobId)) this.queued.set(runId, run);
    }
  }

  /** Puts the job's next slot in the due queue and in job.state.nextRunAtMs. */
  private async reschedule(entry: JobEntry, now: number): Promise<void> {
    const job = entry.job;
    let next: number | undefined;
    try {
      next = job.enabled ? nextSlotAfter(job, entry.cursorMs) : undefined;
    } catch (err) {
      // A schedule that cannot be computed (e.g. a database edited by hand) stops only this job.
      this.log({ event: 'engine.error', error: `job ${job.name}: ${errorText(err)}`, jobId: job.id });
    }
    this.due.set(job.id, next);
    entry.nextMs = next;
    // A past slot is about to be handled; its outcome sets nextRunAtMs then.
    if (next !== undefined && next <= now) return;
    // A slot claimed ahead is still the next run; its start writes the one after.
    if (entry.claimedAheadMs !== undefined) return;
    if (job.state.nextRunAtMs !== next) await this.patchState(job.id, { nextRunAtMs: next });
  }

  /** Handles every slot of the job that is due at `now`. */
  private async processJob(entry: JobEntry, now: number): Promise<void> {
    const job = entry.job;
    if (!job.enabled) return;
    const slots = slotsIn(job, entry.cursorMs, now, missedRecordCap(job));
    const latest = slots.recent.at(-1);
    if (latest === undefined) return;
    entry.cursorMs = latest;
    let live: number | undefined;
    if (latest >= now - LATE_GRACE_MS) live = slots.recent.pop();
    if (slots.recent.length > 0 || slots.older) await this.catchUp(entry, slots, now);
    if (live !== undefined) await this.fireSlot(entry, live, now);
  }

  private async fireSlot(entry: JobEntry, slotMs: number, now: number): Promise<void> {
    const job = entry.job;
    const base = firstAttempt(job.id, slotMs, 'schedule');
    const decision = decideSlot(job.policy.overlap, this.busy(job.id));
    if (decision === 'run') {
      const run: Run = { ...base, status: 'running', startedAtMs: now };
      if (await this.writes.claim(run)) void this.launch(job, run);
    } else if (decision === 'queue') {
      const run: Run = { ...base, status: 'queued', notBeforeMs: slotMs };
      if (await this.writes.claim(run)) {
        this.queued.set(run.runId, run);
        this.log(queuedEvent(run));
      }
    } else {
      const run: Run = { ...base, status: 'skipped', error: 'overlap', finishedAtMs: now };
      if (await this.writes.claim(run)) {
        this.log({ event: 'run.skipped', jobId: job.id, runId: run.runId, slotMs, reason: 'overlap' });
        await this.patchState(job.id, stateAfterSkip(entry.job.state));
        await this.prune(job, now);
        // Alerts may count skipped runs (alerts.includeSkipped); nothing else acts on them.
        await this.notifyFinished(job, run);
      }
    }
  }

  /**
   * Claims the job's next slot ahead of its time (claim-lead.ts); the run counts as running from
   * now (a manual or queued run of the job waits for it) and starts when the slot comes.
   */
  private async claimAhead(entry: JobEntry, slotMs: number): Promise<void> {
    const job = entry.job;
    if (!job.enabled) return;
    entry.cursorMs = slotMs;
    const run: Run = { ...firstAttempt(job.id, slotMs, 'schedule'), status: 'running' };
    const flight = this.track(job, run);
    flight.waitsForMs = slotMs;
    entry.claimedAheadMs = slotMs;
    if (!(await this.writes.claim(run))) {
      // Claimed elsewhere (another engine), or the job is gone.
      if (entry.claimedAheadMs === slotMs) entry.claimedAheadMs = undefined;
      this.untrack(flight, run);
      return;
    }
    let group = this.ahead.get(slotMs);
    if (!group) this.ahead.set(slotMs, (group = { runIds: [] }));
    group.runIds.push(run.runId);
  }

  /** Arms one timer per slot with runs claimed ahead (once all of a pump's claims are in). */
  private armAhead(): void {
    for (const [slotMs, group] of this.ahead) {
      if (group.timer) continue;
      if (this.stopping) {
        this.startAhead(slotMs);
        continue;
      }
      group.timer = this.clock.at(slotMs, () => this.startAhead(slotMs));
    }
  }

  /** The slot's time has come: its runs claimed ahead start, unless the job changed meanwhile. */
  private startAhead(slotMs: number): void {
    const group = this.ahead.get(slotMs);
    if (!group) return;
    this.ahead.delete(slotMs);
    group.timer?.cancel();
    const go: InFlight[] = [];
    for (const runId of group.runIds) {
      const flight = this.inflight.get(runId);
      if (!flight) continue;
      flight.waitsForMs = undefined;
      const entry = this.entries.get(flight.job.id);
      if (entry?.claimedAheadMs === slotMs) entry.claimedAheadMs = undefined;
      // Stopping: the run is recorded `interrupted` without starting.
      if (!this.stopping) {
        if (!entry || !entry.job.enabled) {
          void this.holdBack(flight, entry ? 'job disabled' : 'job deleted');
          continue;
        }
        flight.job = entry.job;
        // Busy only through another process: runs of this engine, queued ones included, wait for
        // a claimed run.
        const others = this.runningCount(entry.job.id) - 1;
        const decision =
          others > 0
            ? decideSlot(entry.job.policy.overlap, { ...this.busy(entry.job.id), running: others })
            : 'run';
        if (decision !== 'run') {
          void this.holdBack(flight, decision === 'queue' ? 'queue' : 'overlap');
          continue;
        }
      }
      go.push(flight);
    }
    this.begin(go);
  }

  /** A run claimed ahead that must not start at its slot: recorded skipped, or queued behind the busy job. */
  private async holdBack(
    flight: InFlight,
    why: 'job disabled' | 'job deleted' | 'overlap' | 'queue',
  ): Promise<void> {
    const { job, run } = flight;
    const now = this.clock.now();
    this.markPayloadDone(flight);
    try {
      if (why === 'queue') {
        const queued: Run = { ...run, status: 'queued', notBeforeMs: run.slotMs };
        this.untrack(flight, queued);
        if (await this.writes.requeue(run.runId, run.slotMs)) {
          this.queued.set(run.runId, queued);
          this.log(queuedEvent(queued));
          this.kick();
        }
        return;
      }
      const skipped: Run = { ...run, status: 'skipped', error: why, finishedAtMs: now };
      await this.writes.finish(run.runId, { status: 'skipped', error: why, finishedAtMs: now });
      this.log({ event: 'run.skipped', jobId: job.id, runId: run.runId, slotMs: run.slotMs, reason: why });
      if (why === 'overlap') {
        await this.patchState(job.id, stateAfterSkip(job.state));
        await this.prune(job, now);
        await this.notifyFinished(job, skipped);
      }
      this.untrack(flight, skipped);
    } catch (err) {
      this.log({ event: 'engine.error', error: errorText(err), jobId: job.id, runId: run.runId });
      this.untrack(flight, run);
    }
  }

  /** How long before `atMs` to claim the runs due by then. */
  private leadFor(atMs: number): number {
    return this.lead.forCount(this.due.countUpTo(atMs));
  }

  private async catchUp(entry: JobEntry, slots: SlotRange, now: number): Promise<void> {
    const job = entry.job;
    const plan = planCatchup(job.policy, slots, now);
    const why = (slotMs: number): string =>
      slotMs < job.updatedAtMs
        ? 'its time had passed when the job was saved'
        : slotMs < this.startedAtMs
          ? 'the daemon was not running'
          : 'the daemon was late (busy or suspended)';
    let recorded = 0;
    /** The newest `missed` record written: alerts and failure notices hear of a missed stretch once. */
    let latestMissed: Run | undefined;
    const newest = (run: Run): void => {
      if (!latestMissed || run.slotMs > latestMissed.slotMs) latestMissed = run;
    };
    if (plan.summary) {
      const s = plan.summary;
      const run: Run = {
        ...firstAttempt(job.id, s.fromMs, 'schedule'),
        status: 'missed',
        error: summaryReason(s, why(s.toMs)),
        finishedAtMs: now,
      };
      if (await this.writes.claim(run)) {
        recorded += s.count;
        newest(run);
      }
    }
    const missed = plan.missed.map((slotMs) => {
      const run: Run = {
        ...firstAttempt(job.id, slotMs, 'schedule'),
        status: 'missed',
        error: `missed: ${why(slotMs)}`,
        finishedAtMs: now,
      };
      return this.writes.claim(run).then((ok) => {
        if (ok) newest(run);
        return ok;
      });
    });
    for (const ok of await Promise.all(missed)) if (ok) recorded++;
    const runs = plan.run.map(async (slotMs) => {
      const run: Run = { ...firstAttempt(job.id, slotMs, 'catchup'), status: 'queued', notBeforeMs: now };
      if (await this.writes.claim(run)) {
        this.queued.set(run.runId, run);
        this.log(queuedEvent(run));
      }
    });
    await Promise.all(runs);
    const all = [...(plan.summary ? [plan.summary.fromMs] : []), ...plan.missed, ...plan.run];
    if (all.length > 0) {
      this.log({
        event: 'run.missed',
        jobId: job.id,
        slots: recorded,
        fromMs: Math.min(...all),
        toMs: Math.max(...all),
        catchupRuns: plan.run.length,
      });
    }
    if (recorded > 0) await this.prune(job, now);
    if (latestMissed) await this.notifyFinished(job, latestMissed);
    // A one-shot whose only slot was missed (and not caught up) is spent.
    if (job.schedule.kind === 'at' && plan.run.length === 0 && recorded > 0) {
      const last = plan.missed.at(-1) ?? plan.summary?.toMs ?? now;
      await this.patchState(job.id, { lastError: `missed: ${why(last)}` });
      await this.retireOneShot(job, false, now);
    }
  }

  private busy(jobId: string): Busy {
    let queued = 0;
    for (const r of this.queued.values()) if (r.jobId === jobId) queued++;
    return { running: this.runningCount(jobId), queued };
  }

  private runningCount(jobId: string): number {
    // A run whose payload has returned is no longer running, even while its record is written.
    return (this.foreignRunning.get(jobId) ?? 0) + (this.payloadsRunning.get(jobId) ?? 0);
  }

  /** Starts queued runs whose time has come and whose job may run now. */
  private async dispatchQueued(now: number): Promise<void> {
    const ready = [...this.queued.values()]
      .filter((r) => (r.notBeforeMs ?? 0) <= now)
      .sort(
        (a, b) => (a.notBeforeMs ?? 0) - (b.notBeforeMs ?? 0) || a.slotMs - b.slotMs || a.attempt - b.attempt,
      );
    for (const run of ready) {
      if (this.stopping) return;
      const entry = this.entries.get(run.jobId);
      if (!entry) {
        // The job is gone (its runs went with it) or not read yet; the next reload decides.
        continue;
      }
      const job = entry.job;
      if (!job.enabled && run.trigger !== 'manual') {
        this.queued.delete(run.runId);
        await this.writes.finish(run.runId, {
          status: 'skipped',
          error: 'job disabled',
          finishedAtMs: now,
        });
        this.log({
          event: 'run.skipped',
          jobId: job.id,
          runId: run.runId,
          slotMs: run.slotMs,
          reason: 'job disabled',
        });
        continue;
      }
      const concurrent =
        job.policy.overlap === 'allow' && (run.trigger === 'manual' || run.trigger === 'schedule');
      if (this.runningCount(job.id) > 0 && !concurrent) continue;
      this.queued.delete(run.runId);
      if (!(await this.take(run.runId, now))) continue;
      void this.launch(job, { ...run, status: 'running', startedAtMs: now });
    }
  }

  /** Arms the one wake-up timer at the earliest slot or queued run still ahead. */
  private arm(now: number): void {
    const top = this.due.peek();
    let earliest =
      top === undefined
        ? undefined
        : this.atSlotOnly.has(top.key)
          ? top.atMs
          : top.atMs - this.leadFor(top.atMs);
    for (const r of this.queued.values()) {
      const t = r.notBeforeMs ?? 0;
      if (t > now && (earliest === undefined || t < earliest)) earliest = t;
    }
    if (earliest !== undefined && earliest <= now) {
      this.pumpRequested = true;
      return;
    }
    this.armAt(earliest);
  }

  private armAt(atMs: number | undefined): void {
    if (this.wake?.atMs === atMs) return;
    this.wake?.handle.cancel();
    this.wake = undefined;
    if (atMs === undefined || this.stopping) return;
    // A clock may call back synchronously when atMs has passed meanwhile; then nothing stays armed.
    const wake: { atMs: number; handle?: TimerHandle; fired?: boolean } = { atMs };
    wake.handle = this.clock.at(atMs, () => {
      wake.fired = true;
      if (this.wake === wake) this.wake = undefined;
      this.kick();
    });
    if (!wake.fired) this.wake = wake as { atMs: number; handle: TimerHandle };
  }

  private armPoll(): void {
    if (this.changePollMs <= 0 || this.stopping || !this.started) return;
    this.poll = this.clock.at(this.clock.now() + this.changePollMs, () => void this.onPoll());
  }

  private async onPoll(): Promise<void> {
    try {
      const token = await this.store.changeToken();
      if (token !== this.lastToken) {
        this.lastToken = token;
        this.reloadRequested = true;
        this.kick();
      }
    } catch (err) {
      this.log({ event: 'engine.error', error: errorText(err) });
    } finally {
      this.armPoll();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // executing a run

  private async take(runId: string, now: number): Promise<boolean> {
    if (this.store.takeRun) return this.store.takeRun(runId, now);
    const current = await this.store.getRun(runId);
    if (current?.status !== 'queued') return false;
    await this.store.startRun(runId, now);
    return true;
  }

  /** Executes a run that is already `running` in the store; resolves with the finished run. */
  private launch(job: Job, run: Run): Promise<Run> {
    const flight = this.track(job, run);
    this.begin([flight]);
    return flight.done;
  }

  /** Registers a run of this engine: it counts as running for overlap until untracked. */
  private track(job: Job, run: Run): InFlight {
    let settle: (run: Run) => void = () => {};
    const done = new Promise<Run>((resolve) => (settle = resolve));
    const flight: InFlight = {
      job,
      run,
      controller: new AbortController(),
      done,
      settle,
      payloadDone: false,
      writes: [],
    };
    this.inflight.set(run.runId, flight);
    this.payloadsRunning.set(job.id, (this.payloadsRunning.get(job.id) ?? 0) + 1);
    if (this.stopping) flight.controller.abort();
    return flight;
  }

  /** The run is over for this engine (finished, or handed back): `done` resolves with it. */
  private untrack(flight: InFlight, run: Run): void {
    this.markPayloadDone(flight);
    this.inflight.delete(flight.run.runId);
    flight.settle(run);
    this.kick();
  }

  /**
   * Starts runs: every payload first, then each run's bookkeeping (state, start record, log,
   * hook), so the last of 1,000 runs due together waits only for the payload starts before it.
   */
  private begin(flights: InFlight[]): void {
    const started = flights.map((flight) => this.startPayload(flight));
    flights.forEach((flight, i) => {
      const { startedAtMs, outcome } = started[i]!;
      this.announce(flight, startedAtMs);
      void this.complete(flight, startedAtMs, outcome)
        .catch((err: unknown) => {
          // The run stays `running` in the store; the next start records it `interrupted`.
          this.log({
            event: 'engine.error',
            error: errorText(err),
            jobId: flight.job.id,
            runId: flight.run.runId,
          });
          return flight.run;
        })
        .then((run) => this.untrack(flight, run));
    });
  }

  /** Calls the payload's executor; nothing else happens before it, on purpose. */
  private startPayload(flight: InFlight): { startedAtMs: number; outcome: Promise<ExecutionOutcome> } {
    const { job, run, controller } = flight;
    const startedAtMs = run.startedAtMs ?? this.clock.now();
    const executor = this.executors.get(job.payload.kind);
    if (!executor) {
      const error = `no executor for payload kind "${job.payload.kind}"`;
      return { startedAtMs, outcome: Promise.resolve({ status: 'error', error }) };
    }
    if (this.stopping) {
      const error = 'daemon stopped before the run started';
      return { startedAtMs, outcome: Promise.resolve({ status: 'interrupted', error }) };
    }
    const refusal = this.startRefusal?.();
    if (refusal !== undefined) {
      return { startedAtMs, outcome: Promise.resolve({ status: 'interrupted', error: refusal }) };
    }
    const onError = (err: unknown): ExecutionOutcome =>
      controller.signal.aborted
        ? { status: 'interrupted', error: 'daemon stopped while running' }
        : { status: 'error', error: `the payload failed to run: ${errorText(err)}` };
    const store = this.store;
    const log = this.log;
    const clock = this.clock;
    const ctx: ExecutionContext = {
      job,
      runId: run.runId,
      slotMs: run.slotMs,
      attempt: run.attempt,
      // Made on first use: an AbortSignal costs microseconds, and most payloads of a busy second never look.
      get signal() {
        return controller.signal;
      },
      startedAtMs,
      now: () => clock.now(),
      onSpawn: (pid) => {
        // Written at once, not batched: a daemon killed right after the spawn must still find the
        // process to end it.
        const write = store.startRun(run.runId, startedAtMs, pid).catch((err: unknown) => {
          log({ event: 'engine.error', error: errorText(err), jobId: job.id, runId: run.runId });
        });
        flight.writes.push(write);
      },
    };
    const output = this.output;
    if (output) ctx.onOutput = (text, stream) => output.write(run.runId, job, text, stream);
    try {
      return { startedAtMs, outcome: executor.execute(job.payload, ctx).catch(onError) };
    } catch (err) {
      return { startedAtMs, outcome: Promise.resolve(onError(err)) };
    }
  }

  /** Records that the run started: job state, the start of a run claimed ahead, log line, hook. */
  private announce(flight: InFlight, startedAtMs: number): void {
    const { job, run } = flight;
    const patch: Partial<JobState> = { runningAtMs: startedAtMs };
    if (run.startedAtMs === undefined) {
      // Claimed ahead: its record learns the start now, and the job's next run moves on.
      flight.writes.push(this.writes.start(run.runId, startedAtMs));
      const entry = this.entries.get(job.id);
      if (entry) patch.nextRunAtMs = entry.nextMs;
    }
    flight.writes.push(this.patchState(job.id, patch));
    this.log({
      event: 'run.started',
      jobId: job.id,
      jobName: job.name,
      runId: run.runId,
      slotMs: run.slotMs,
      attempt: run.attempt,
      trigger: run.trigger,
    });
    if (this.onRunStarted) {
      const started: Run = { ...run, status: 'running', startedAtMs };
      void Promise.resolve()
        .then(() => this.onRunStarted?.(job, started))
        .catch((err: unknown) => {
          this.log({ event: 'engine.error', error: errorText(err), jobId: job.id, runId: run.runId });
        });
    }
  }

  /** Waits for the payload's outcome and records it. */
  private async complete(
    flight: InFlight,
    startedAtMs: number,
    pending: Promise<ExecutionOutcome>,
  ): Promise<Run> {
    const { job, run } = flight;
    const outcome = await pending;
    this.markPayloadDone(flight);
    await Promise.all(flight.writes);
    const finishedAtMs = Math.max(this.clock.now(), startedAtMs);
    // A chain run keeps the record of what started it beside what its payload reports.
    if (run.details?.chain) outcome.details = { ...outcome.details, chain: run.details.chain };
    const finishWrite = this.writes.finish(run.runId, { ...outcome, finishedAtMs });
    const finished: Run = {
      ...run,
      ...outcome,
      status: outcome.status,
      startedAtMs,
      finishedAtMs,
      durationMs: finishedAtMs - startedAtMs,
    };
    this.log({
      event: 'run.finished',
      jobId: job.id,
      jobName: job.name,
      runId: run.runId,
      slotMs: run.slotMs,
      attempt: run.attempt,
      trigger: run.trigger,
      status: outcome.status,
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      durationMs: finishedAtMs - startedAtMs,
      ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    });
    try {
      await this.afterRun(job, run, outcome, startedAtMs, finishedAtMs, finishWrite);
    } finally {
      // After the record is written: a reader that misses the live tail finds the stored one.
      this.output?.end(run.runId, outcome.status);
    }
    await this.notifyFinished(job, finished);
    // Its followers' chains; a failure here is logged, and the next start evaluates them again.
    await this.chains.runFinished(job, finished).catch((err: unknown) => {
      this.log({ event: 'engine.error', error: errorText(err), jobId: job.id, runId: run.runId });
    });
    return finished;
  }

  /** The onRunFinished hook; its failures are logged and never change the run. */
  private async notifyFinished(job: Job, run: Run): Promise<void> {
    if (!this.onRunFinished) return;
    try {
      await this.onRunFinished(job, run);
    } catch (err) {
      this.log({ event: 'engine.error', error: errorText(err), jobId: job.id, runId: run.runId });
    }
  }

  private markPayloadDone(flight: InFlight): void {
    if (flight.payloadDone) return;
    flight.payloadDone = true;
    const n = (this.payloadsRunning.get(flight.job.id) ?? 1) - 1;
    if (n > 0) this.payloadsRunning.set(flight.job.id, n);
    else this.payloadsRunning.delete(flight.job.id);
  }

  private async afterRun(
    job: Job,
    run: Run,
    outcome: ExecutionOutcome,
    startedAtMs: number,
    finishedAtMs: number,
    finishWrite: Promise<void>,
  ): Promise<void> {
    const othersRunning = (this.payloadsRunning.get(job.id) ?? 0) > 0;
    const prev = this.entries.get(job.id)?.job.state ?? job.state;
    const statePatch = this.patchState(
      job.id,
      stateAfterRun(
        prev,
        { status: outcome.status, error: outcome.error, startedAtMs, finishedAtMs },
        othersRunning,
      ),
    );

    let retry: Run | undefined;
    let retryClaim: Promise<boolean> = Promise.resolve(false);
    const failed = outcome.status === 'error' || outcome.status === 'timeout';
    if (failed && run.trigger !== 'manual' && !this.stopping && run.attempt <= job.policy.retries) {
      const delay = retryDelayMs(job.policy.retryBackoffMs, run.attempt, this.random);
      retry = {
        runId: newRunId(),
        jobId: job.id,
        slotMs: run.slotMs,
        attempt: run.attempt + 1,
        trigger: 'retry',
        status: 'queued',
        notBeforeMs: finishedAtMs + delay,
      };
      retryClaim = this.writes.claim(retry);
    }
    // Finish, state, retry and pruning go out together (one commit when batched).
    const [, , retrying] = await Promise.all([
      finishWrite,
      statePatch,
      retryClaim,
      this.prune(job, finishedAtMs),
    ]);
    if (retry && retrying) {
      if (this.started) this.queued.set(retry.runId, retry);
      this.log(queuedEvent(retry));
    }
    if (job.schedule.kind === 'at' && run.trigger !== 'manual' && !retrying) {
      await this.retireOneShot(job, outcome.status === 'ok', finishedAtMs);
    }
  }

  /** A one-shot job after its final attempt: deleted or disabled. */
  private async retireOneShot(job: Job, ok: boolean, now: number): Promise<void> {
    const fresh = await this.store.findJob(job.id);
    if (!fresh) return;
    // Jobs chained after it name it: deleting it would leave them after a job that is not there.
    const chained = successorsOf(await this.store.listJobs(), fresh.name).length > 0;
    if (ok && fresh.deleteAfterRun && !chained) {
      // Its history stays (runs are never dropped silently) until it is older than the default age.
      await this.store.deleteJob(job.id, { keepRuns: true });
      await this.sweepOrphanRuns(now);
      this.entries.delete(job.id);
      this.due.delete(job.id);
      this.log({
        event: 'job.deleted',
        jobId: job.id,
        jobName: job.name,
        reason: 'one-shot job finished ok',
      });
      return;
    }
    if (!fresh.enabled) return;
    const disabled: Job = { ...fresh, enabled: false, updatedAtMs: now };
    disabled.state = applyStatePatch(disabled.state, { nextRunAtMs: undefined });
    await this.store.updateJob(disabled);
    const entry = this.entries.get(job.id);
    if (entry) {
      entry.job = disabled;
      this.due.delete(job.id);
    }
    this.log({
      event: 'job.disabled',
      jobId: job.id,
      jobName: job.name,
      reason: ok
        ? `one-shot job finished ok (kept${fresh.deleteAfterRun && chained ? ': jobs run after it' : ''})`
        : 'one-shot job did not finish ok',
    });
  }

  /**
   * Removes runs of deleted jobs older than the default history age: at start, then at most once
   * a day when a one-shot is deleted (the query reads the whole runs table: ~80 ms at 200k runs).
   */
  private async sweepOrphanRuns(now: number): Promise<void> {
    if (this.orphansSweptAtMs !== undefined && now - this.orphansSweptAtMs < ORPHAN_SWEEP_EVERY_MS) return;
    this.orphansSweptAtMs = now;
    await this.store.pruneOrphanRuns(now - DEFAULT_HISTORY.maxAgeMs);
  }

  /**
   * Applies the job's history policy, but not after every run: a busy job is pruned once per
   * PRUNE_SLACK of its maxRuns runs (at least every run for small limits) and at least once a
   * minute. The prune query walks the job's kept runs, and on 1,000 jobs a second it was a third
   * of the engine's CPU; a job may briefly hold 5% more runs than its limit.
   */
  private async prune(job: Job, now: number): Promise<void> {
    const last = this.pruned.get(job.id);
    const every = Math.max(1, Math.floor(job.history.maxRuns * PRUNE_SLACK));
    if (last && last.runs + 1 < every && now - last.atMs < PRUNE_EVERY_MS) {
      last.runs++;
      return;
    }
    this.pruned.set(job.id, { runs: 0, atMs: now });
    await this.writes.prune(job.id, {
      maxRuns: job.history.maxRuns,
      olderThanMs: now - job.history.maxAgeMs,
    });
  }

  /** patchJobState, keeping the cached copy in step; a job deleted meanwhile is no error. */
  private async patchState(jobId: string, patch: Partial<JobState>): Promise<void> {
    // The cached copy changes at once, so decisions made before the commit already see it.
    const entry = this.entries.get(jobId);
    if (entry) entry.job.state = applyStatePatch(entry.job.state, patch);
    await this.writes.patchState(jobId, patch);
  }
}

function queuedEvent(run: Run): EngineEvent {
  return {
    event: 'run.queued',
    jobId: run.jobId,
    runId: run.runId,
    slotMs: run.slotMs,
    attempt: run.attempt,
    trigger: run.trigger,
    notBeforeMs: run.notBeforeMs ?? run.slotMs,
  };
}

/** The identity of a slot's first attempt (a fresh run id); the caller adds status and times. */
function firstAttempt(
  jobId: string,
  slotMs: number,
  trigger: 'schedule' | 'catchup',
): Pick<Run, 'runId' | 'jobId' | 'slotMs' | 'attempt' | 'trigger'> {
  return { runId: newRunId(), jobId, slotMs, attempt: 1, trigger };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Where a job's slots start when the engine first sees it (`last`: its latest claimed slot). */
function initialCursor(job: Job, last: number | undefined): number {
  if (job.schedule.kind === 'at') return last ?? Number.NEGATIVE_INFINITY;
  return Math.max(last ?? job.createdAtMs, job.updatedAtMs);
}
