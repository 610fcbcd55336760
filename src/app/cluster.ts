/**
 * A daemon joining a cluster (several daemons on one PostgreSQL store): its membership
 * (scheduler/membership.ts) wired to its engine. Taken-over runs of dead daemons are recovered
 * here; when this daemon loses its own lease it aborts its payloads, and when it was taken over
 * it restarts its engine under a new registration (its old one is fenced).
 */
import { hostname } from 'node:os';
import type { Clock } from '../domain/clock.ts';
import type { Engine } from '../scheduler/engine.ts';
import { Membership } from '../scheduler/membership.ts';
import type { LeaseTiming, MembershipEvent } from '../scheduler/membership.ts';
import { recoverTakenOver } from '../scheduler/recovery.ts';
import type { EngineEvent } from '../scheduler/events.ts';
import type { ClusterStore, Store } from '../store/store.ts';

/** This daemon's host name for job pinning and the daemons table ($NIGHTSHIFT_HOST overrides it). */
export function daemonHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.NIGHTSHIFT_HOST !== undefined && env.NIGHTSHIFT_HOST !== '' ? env.NIGHTSHIFT_HOST : hostname();
}

export interface ClusterMember {
  startRefusal(): string | undefined;
  stop(): Promise<void>;
}

export async function joinCluster(opts: {
  cluster: ClusterStore;
  store: Store;
  engine: Engine;
  clock: Clock;
  host: string;
  version: string;
  log: (e: MembershipEvent | EngineEvent) => void;
  timing?: LeaseTiming;
}): Promise<ClusterMember> {
  const { engine } = opts;
  const membership = new Membership({
    cluster: opts.cluster,
    clock: opts.clock,
    host: opts.host,
    pid: process.pid,
    version: opts.version,
    ...(opts.timing ? { timing: opts.timing } : {}),
    log: opts.log,
    runsInFlight: () => engine.runsInFlight(),
    onTakenOver: async (taken) => {
      await recoverTakenOver(opts.store, opts.clock, opts.log, taken, opts.host);
      await engine.refresh();
    },
    onLeaseLost: async (takenOver) => {
      if (takenOver) await engine.stop();
      else engine.abortRunning();
    },
    onRejoined: () => engine.start(),
  });
  await membership.start();
  return {
    startRefusal: () => membership.startRefusal(),
    stop: () => membership.stop(),
  };
}
