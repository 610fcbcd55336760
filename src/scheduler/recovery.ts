/**
 * Crash recovery at start: a run still `running` in the store was left by a daemon (or CLI) that
 * died mid-run. It can never report, so it is finished as `interrupted`; if its processes outlived
 * the daemon they are terminated first (SIGTERM, then SIGKILL), so a restarted daemon never runs a
 * slot beside a leftover copy of itself. Queued runs are left alone: they run when due.
 *
 * With several daemons on one store, a daemon's runs are recovered by another one once its lease
 * expires (recoverTakenOver): the store has already recorded them `interrupted`; leftovers are
 * ended when they ran on this host, and a failed slot is retried under the job's retry policy.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Clock } from '../domain/clock.ts';
import type { Job, Run } from '../domain/job.ts';
import type { Store } from '../store/store.ts';
import { collectPayloadProcesses, readProc, terminateProcesses } from '../payloads/process-tree.ts';
import type { EngineLog } from './events.ts';
import { applyStatePatch } from './job-state.ts';
import { retryDelayMs } from './retry.ts';
import { newRunId } from './run-id.ts';

/** How long leftover processes get between SIGTERM and SIGKILL. */
const LEFTOVER_GRACE_MS = 3_000;

export interface RecoveryResult {
  interrupted: Run[];
}

export async function recoverInterrupted(
  store: Store,
  clock: Clock,
  log: EngineLog,
): Promise<RecoveryResult> {
  const leftovers = (await store.unfinishedRuns()).filter((r) => r.status === 'running');
  const jobs = new Map<string, Job | undefined>();
  for (const run of leftovers) {
    const left = await endLeftoverProcesses(run.pid, run.runId);
    const pid = run.pid ?? left.pid;
    // A run claimed ahead of its slot has no start on record until it starts; if nothing of it
    // is left either, it may not have started at all.
    const reason =
      run.startedAtMs === undefined && pid === undefined
        ? "daemon stopped before the run's start was recorded"
        : pid !== undefined
          ? `daemon stopped while running (pid ${pid})`
          : 'daemon stopped while running';
    const killed = left.signalled;
    const finishedAtMs = clock.now();
    await store.finishRun(run.runId, { status: 'interrupted', error: reason, finishedAtMs });
    log({
      event: 'run.interrupted',
      jobId: run.jobId,
      runId: run.runId,
      ...(pid ? { pid } : {}),
      killed,
    });

    if (!jobs.has(run.jobId)) jobs.set(run.jobId, await store.findJob(run.jobId));
    const job = jobs.get(run.jobId);
    if (job) {
      const patch = {
        runningAtMs: undefined,
        lastRunAtMs: run.startedAtMs ?? run.slotMs,
        lastRunStatus: 'interrupted' as const,
        lastError: reason,
      };
      await store.patchJobState(job.id, patch);
      job.state = applyStatePatch(job.state, patch);
    }
  }
  return { interrupted: leftovers };
}

/**
 * Runs of an expired daemon that the store just finished `interrupted` (ClusterStore.takeOver):
 * their processes are ended when they ran on `host`, their jobs' state says so, and a scheduled
 * run with retries left gets its next attempt queued (as a failed run would). Returns the retries queued.
 */
export async function recoverTakenOver(
  store: Store,
  clock: Clock,
  log: EngineLog,
  taken: Array<{ run: Run; host: string }>,
  host: string,
  random: () => number = Math.random,
): Promise<Run[]> {
  const retries: Run[] = [];
  for (const { run, host: ranOn } of taken) {
    const left = ranOn === host ? await endLeftoverProcesses(run.pid, run.runId) : { signalled: false };
    log({
      event: 'run.interrupted',
      jobId: run.jobId,
      runId: run.runId,
      ...(run.pid ? { pid: run.pid } : {}),
      killed: left.signalled,
    });
    const job = await store.findJob(run.jobId);
    if (!job) continue;
    await store
      .patchJobState(job.id, {
        runningAtMs: undefined,
        lastRunAtMs: run.startedAtMs ?? run.slotMs,
        lastRunStatus: 'interrupted',
        lastError: run.error,
      })
      .catch(() => undefined);
    if (run.trigger === 'manual' || run.attempt > job.policy.retries || !job.enabled) continue;
    const now = clock.now();
    const retry: Run = {
      runId: newRunId(),
      jobId: job.id,
      slotMs: run.slotMs,
      attempt: run.attempt + 1,
      trigger: 'retry',
      status: 'queued',
      notBeforeMs: now + retryDelayMs(job.policy.retryBackoffMs, run.attempt, random),
    };
    if (await store.claimRun(retry)) retries.push(retry);
  }
  return retries;
}

/**
 * Terminates what is left of a run's processes. With /proc, only processes that carry the run's
 * marker (NIGHTSHIFT_RUN_ID) or belong to a group such a process leads are touched: after a reboot
 * the pid may belong to someone else. Without a pid on record (the daemon died before writing it)
 * the marker alone finds them. Returns whether anything was signalled, and the payload's pid.
 */
async function endLeftoverProcesses(
  pid: number | undefined,
  runId: string,
): Promise<{ signalled: boolean; pid?: number }> {
  const known = pid !== undefined && pid > 0 ? pid : undefined;
  const marker = `NIGHTSHIFT_RUN_ID=${runId}`;
  const hasProc = existsSync('/proc/self/stat');
  if (known === undefined && !hasProc) return { signalled: false };
  const found = collectPayloadProcesses(known, marker);
  // The payload was spawned as a group leader: its group is the one a marked process leads.
  const root = known ?? [...found].find((p) => readProc(p)?.pgrp === p && hasMarker(p, marker));
  if (root === undefined) return { signalled: false };
  if (found.size === 0 && !groupExists(root)) return { signalled: false, pid: root };
  if (hasProc && ![...found].some((p) => hasMarker(p, marker))) return { signalled: false, pid: root };
  const collect = (): Set<number> => collectPayloadProcesses(root, marker);
  await terminateProcesses({ pgid: root, collect, graceMs: LEFTOVER_GRACE_MS });
  return { signalled: true, pid: root };
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function hasMarker(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
  } catch {
    return false;
  }
}
