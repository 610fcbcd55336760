/**
 * A daemon's membership in a cluster (several daemons on one PostgreSQL store): it registers,
 * renews its lease every heartbeat, takes over the runs of daemons whose lease ran out, and
 * notices when it was itself taken over.
 *
 * Timing (DEFAULT_LEASE): a heartbeat every 2 s renews a 10 s lease. Another daemon takes the
 * runs over at its first heartbeat after the lease ended, so a dead daemon's runs are recorded
 * `interrupted` 10-12 s after its last heartbeat (the failover time). The daemon itself stops
 * starting payloads once 6 s pass without a renewal, and aborts the ones running at 8 s, before
 * anyone can take them over: a daemon cut off from the database (or paused) never runs beside
 * the daemon that took its runs over. A clock more than `leaseMs - abortAfterMs` (2 s) off from
 * the others' eats into that margin. (A 5 s lease lapsed on a 2-core machine at load 30, where a
 * daemon's event loop lagged by seconds: safe, but every lapse is a failover.)
 */
import type { Clock, TimerHandle } from '../domain/clock.ts';
import type { ClusterStore, DaemonRecord } from '../store/store.ts';
import type { Run } from '../domain/job.ts';

export interface LeaseTiming {
  /** How long a renewal holds. */
  leaseMs: number;
  heartbeatMs: number;
  /** No payload starts once this long has passed since the last renewal. */
  startWithinMs: number;
  /** Running payloads are aborted once this long has passed since the last renewal. */
  abortAfterMs: number;
}

export const DEFAULT_LEASE: LeaseTiming = {
  leaseMs: 10_000,
  heartbeatMs: 2_000,
  startWithinMs: 6_000,
  abortAfterMs: 8_000,
};

export type MembershipEvent =
  | { event: 'cluster.joined'; gen: number; host: string }
  | { event: 'cluster.takeover'; runs: number }
  /** Deregistered on stop; `runs` left `running` (their end unrecorded) were finished `interrupted`. */
  | { event: 'cluster.left'; runs: number }
  | { event: 'cluster.lease-lost'; gen: number; reason: string }
  | { event: 'cluster.error'; error: string };

export interface MembershipOptions {
  cluster: ClusterStore;
  clock: Clock;
  host: string;
  pid: number;
  version: string;
  timing?: LeaseTiming;
  log: (event: MembershipEvent) => void;
  /** This daemon's runs in flight, for the daemons table. */
  runsInFlight: () => number;
  /** Runs of an expired daemon, just recorded `interrupted`: end leftovers, retry per policy. */
  onTakenOver: (taken: Array<{ run: Run; host: string }>) => Promise<void>;
  /**
   * The lease is lost (not renewed in time, or taken over): abort every payload. When
   * `takenOver`, the daemon must also re-register before firing again (its generation is fenced).
   */
  onLeaseLost: (takenOver: boolean) => Promise<void>;
  /** Registered anew after a takeover: fire again. */
  onRejoined: () => Promise<void>;
}

export class Membership {
  private readonly timing: LeaseTiming;
  private me: DaemonRecord | undefined;
  /** When the last successful renewal was sent (the lease holds from then). */
  private renewedAtMs = 0;
  private timer: TimerHandle | undefined;
  private stopped = true;
  private beating: Promise<void> | undefined;
  private lost = false;
  private takingOver: Promise<void> | undefined;
  /** Recovery of taken-over runs, one takeover after another. */
  private recovering: Promise<void> = Promise.resolve();

  constructor(private readonly opts: MembershipOptions) {
    this.timing = opts.timing ?? DEFAULT_LEASE;
  }

  get gen(): number | undefined {
    return this.me?.gen;
  }

  async start(): Promise<void> {
    await this.join();
    this.stopped = false;
    this.arm();
  }

  /** Why no payload may start now, or undefined when one may. */
  startRefusal(): string | undefined {
    if (this.stopped || this.lost) return 'this daemon lost its cluster lease';
    const since = this.opts.clock.now() - this.renewedAtMs;
    if (since > this.timing.startWithinMs) return `this daemon's lease was not renewed for ${since} ms`;
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.beating;
    await this.takingOver;
    await this.recovering;
    try {
      const runs = await this.opts.cluster.deregister(
        this.opts.clock.now(),
        "interrupted: its daemon stopped before recording the run's end",
      );
      this.opts.log({ event: 'cluster.left', runs });
    } catch (err) {
      // Its lease then runs out, and another daemon (or the next to start) takes its runs over.
      this.opts.log({ event: 'cluster.error', error: errorText(err) });
    }
  }

  private async join(): Promise<void> {
    const now = this.opts.clock.now();
    this.me = await this.opts.cluster.register({
      host: this.opts.host,
      pid: this.opts.pid,
      version: this.opts.version,
      nowMs: now,
      leaseMs: this.timing.leaseMs,
    });
    this.renewedAtMs = now;
    this.lost = false;
    this.opts.log({ event: 'cluster.joined', gen: this.me.gen, host: this.opts.host });
  }

  /**
   * Heartbeats at a fixed rate: the next one is due heartbeatMs after the previous one was due,
   * however long its queries took (a slow database must not stretch the interval). A beat still
   * in flight when the next is due is not doubled.
   */
  private arm(dueMs = this.opts.clock.now()): void {
    if (this.stopped) return;
    const next = Math.max(dueMs + this.timing.heartbeatMs, this.opts.clock.now() + 50);
    this.timer = this.opts.clock.at(next, () => {
      if (!this.beating) {
        this.beating = this.beat().finally(() => {
          this.beating = undefined;
        });
      }
      this.arm(next);
    });
  }

  /** One heartbeat: renew (or find out the lease is gone), then take over expired daemons. */
  async beat(): Promise<void> {
    const { cluster, clock, log } = this.opts;
    const sentAt = clock.now();
    let renewed: boolean | undefined;
    try {
      renewed = await cluster.heartbeat(sentAt, this.timing.leaseMs, this.opts.runsInFlight());
    } catch (err) {
      log({ event: 'cluster.error', error: errorText(err) });
    }
    if (renewed === true) {
      // A pause longer than the lease that nobody noticed yet: the renewal came too late to trust
      // what ran meanwhile, but the generation still holds.
      this.renewedAtMs = sentAt;
    } else if (renewed === false) {
      await this.loseLease(
        true,
        'another daemon took this daemon over (it was paused or cut off past its lease)',
      );
      if (this.stopped) return;
      try {
        await this.join();
        await this.opts.onRejoined();
      } catch (err) {
        log({ event: 'cluster.error', error: errorText(err) });
        return;
      }
    } else if (clock.now() - this.renewedAtMs > this.timing.abortAfterMs && !this.lost) {
      await this.loseLease(false, 'the lease could not be renewed in time (database unreachable?)');
    }
    if (this.stopped || this.startRefusal() !== undefined || this.takingOver) return;
    // Detached: the takeover query must not hold up the next renewal.
    this.takingOver = this.takeOver().finally(() => (this.takingOver = undefined));
  }

  private async takeOver(): Promise<void> {
    const { cluster, clock, log } = this.opts;
    try {
      const taken = await cluster.takeOver(clock.now(), 'interrupted: its daemon stopped renewing its lease');
      if (taken.length > 0) {
        log({ event: 'cluster.takeover', runs: taken.length });
        // Not awaited: ending leftovers and queueing retries can take seconds, and the next
        // heartbeat must not wait for them (a late renewal costs this daemon its own lease).
        this.recovering = this.recovering
          .then(() => this.opts.onTakenOver(taken))
          .catch((err: unknown) => log({ event: 'cluster.error', error: errorText(err) }));
      }
    } catch (err) {
      log({ event: 'cluster.error', error: errorText(err) });
    }
  }

  private async loseLease(takenOver: boolean, reason: string): Promise<void> {
    this.lost = true;
    this.opts.log({ event: 'cluster.lease-lost', gen: this.me?.gen ?? 0, reason });
    try {
      await this.opts.onLeaseLost(takenOver);
    } catch (err) {
      this.opts.log({ event: 'cluster.error', error: errorText(err) });
    }
    // Not taken over: a later renewal makes the lease good again (starts resume).
    if (!takenOver) this.lost = false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
