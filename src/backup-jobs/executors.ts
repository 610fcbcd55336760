/**
 * The executors of `backup` and `drill` jobs. A backup run is `ok` only with evidence (the new
 * snapshot is listed, its index entries exist, retention left what the policy keeps, and the
 * verification passed when configured); a drill is `ok` only when every sampled file restored,
 * verified and matched its live copy where that is unchanged.
 */
import type { Clock } from '../domain/clock.ts';
import { UserError } from '../domain/errors.ts';
import type { BackupPayload, BackupRunDetails, DrillPayload, DrillRunDetails, Run } from '../domain/job.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../payloads/executor.ts';
import type { BackupContext } from './context.ts';
import { fmtBytes, precheckSpace } from './disk-space.ts';
import { runDrill, runRepositoryDrill } from './drill.ts';
import { InterruptedError } from './interrupted.ts';
import { runProfileBackup, type ProfileBackupOptions } from './profile-backup.ts';
import { getProfile } from './profile-repository.ts';

export interface BackupExecutorDeps {
  /** The application's parts the backups use (its `App` has them). */
  app: BackupContext;
  clock: Clock;
}

/** How many recent runs of the job the disk-space estimate looks at. */
const RECENT_RUNS = 20;

/** An error outcome from anything thrown, in words: a UserError's message and hint, never a stack. */
function failure(err: unknown): Pick<ExecutionOutcome, 'status' | 'error'> {
  if (err instanceof InterruptedError) return { status: 'interrupted', error: 'stopped before the end' };
  if (err instanceof UserError)
    return { status: 'error', error: err.hint ? `${err.message} (${err.hint})` : err.message };
  return { status: 'error', error: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs `work` with a signal that aborts on the context's signal or after `timeoutSeconds`
 * (0/absent: no limit); says which one stopped it.
 */
async function bounded<T>(
  ctx: ExecutionContext,
  timeoutSeconds: number | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value?: T; error?: unknown; timedOut: boolean }> {
  const ac = new AbortController();
  let timedOut = false;
  const onAbort = (): void => ac.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal.aborted) ac.abort();
  // The backup engine is real I/O with no clock of its own: a wall-clock limit, like the command executor's.
  const timer =
    timeoutSeconds && timeoutSeconds > 0
      ? setTimeout(() => {
          timedOut = true;
          ac.abort();
        }, timeoutSeconds * 1000)
      : undefined;
  try {
    return { value: await work(ac.signal), timedOut };
  } catch (error) {
    return { error, timedOut };
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

export class BackupExecutor implements Executor<BackupPayload> {
  readonly kind = 'backup' as const;
  constructor(private readonly deps: BackupExecutorDeps) {}

  async execute(payload: BackupPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    const { app } = this.deps;
    let profile;
    try {
      profile = await getProfile(app, payload.profile);
    } catch (err) {
      return failure(err);
    }
    const base: BackupRunDetails = { profile: profile.name, repository: profile.repository };
    const recent = (await app.store.listRuns({ jobId: ctx.job.id, limit: RECENT_RUNS })).entries;
    const opts: ProfileBackupOptions = { clock: this.deps.clock, runId: ctx.runId };
    const lastPrune = lastPruneAt(recent);
    if (lastPrune !== undefined) opts.lastPruneAtMs = lastPrune;

    // Local repositories only (a path); remote backends report their own space.
    if (profile.repository.startsWith('/')) {
      const added = recent.flatMap((r) =>
        r.status === 'ok' && r.details?.backup?.bytesAdded !== undefined ? [r.details.backup.bytesAdded] : [],
      );
      try {
        const space = await precheckSpace(profile, added);
        base.freeBytesBefore = space.freeBytes;
        opts.freeBytesBefore = space.freeBytes;
        if (!space.ok)
          return {
            status: 'error',
            error: space.reason!,
            evidence: [
              {
                check: 'disk space',
                ok: false,
                detail: `${fmtBytes(space.freeBytes)} free, ${fmtBytes(space.neededBytes)} needed`,
              },
            ],
            details: { backup: base },
          };
      } catch (err) {
        return { ...failure(err), details: { backup: base } };
      }
    }

    const r = await bounded(ctx, payload.timeoutSeconds, (signal) =>
      runProfileBackup(app, profile, { ...opts, signal }),
    );
    if (r.value === undefined) {
      if (r.timedOut)
        return {
          status: 'timeout',
          error: `timed out after ${payload.timeoutSeconds}s; the backup was stopped and its lock released`,
          details: { backup: base },
        };
      return { ...failure(r.error), details: { backup: base } };
    }
    const { details, evidence } = r.value;
    const failed = evidence.filter((e) => !e.ok);
    const outputTail = [
      `snapshot ${details.snapshotId?.slice(0, 8)} of profile ${profile.name}: ${fmtBytes(details.bytesRead ?? 0)} read, ${fmtBytes(details.bytesAdded ?? 0)} added; repository ${fmtBytes(details.repoBytes ?? 0)}`,
      ...evidence.map((e) => `${e.ok ? 'ok  ' : 'FAIL'} ${e.check}: ${e.detail}`),
    ].join('\n');
    if (failed.length > 0)
      return {
        status: 'error',
        error: failed.map((e) => `${e.check}: ${e.detail}`).join('; '),
        evidence,
        details: { backup: details },
        outputTail,
      };
    return { status: 'ok', evidence, details: { backup: details }, outputTail };
  }
}

/** When this job last pruned (its runs record it), so prune runs at most every profile.pruneEveryMs. */
function lastPruneAt(runs: Run[]): number | undefined {
  for (const r of runs) if (r.details?.backup?.pruned) return r.finishedAtMs ?? r.startedAtMs;
  return undefined;
}

export class DrillExecutor implements Executor<DrillPayload> {
  readonly kind = 'drill' as const;
  constructor(private readonly deps: BackupExecutorDeps) {}

  async execute(payload: DrillPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    const r = await bounded(ctx, payload.timeoutSeconds, (signal) => {
      const opts = {
        signal,
        ...(payload.samplePercent !== undefined
          ? { samplePercent: payload.samplePercent }
          : { sampleFiles: payload.sampleFiles ?? 20 }),
      };
      return payload.profile !== undefined
        ? runDrill(this.deps.app, payload.profile, opts)
        : runRepositoryDrill(
            this.deps.app,
            { repository: payload.repository ?? '', identityRef: payload.identityRef ?? '' },
            opts,
          );
    });
    if (r.value === undefined) {
      if (r.timedOut)
        return {
          status: 'timeout',
          error: `timed out after ${payload.timeoutSeconds}s; the drill was stopped`,
        };
      return failure(r.error);
    }
    const d = r.value;
    const evidence = [
      {
        check: 'restored and verified',
        ok: d.sampled > 0 && d.verified === d.sampled,
        detail: `${d.verified} of ${d.sampled} sampled files of snapshot ${d.snapshotId.slice(0, 8)} restored with matching content ids`,
      },
      {
        check: 'matches live files',
        ok: d.failures.every((f) => !f.problem.includes('live file')),
        detail: `${d.matchedLive} match their live copy; ${d.skippedChanged} changed since the snapshot (not compared)`,
      },
      ...(d.databases ?? []).map((db) => ({
        check: `database ${db.source}`,
        ok: db.ok,
        detail: db.ok
          ? `restored into scratch database ${db.scratch} (dropped after); ${JSON.stringify(db.query)} returned ${db.rows} row${db.rows === 1 ? '' : 's'}`
          : (db.problem ?? 'failed'),
      })),
    ];
    const outputTail = [
      `drill of ${drilled(d)}, snapshot ${d.snapshotId.slice(0, 8)}: ${d.sampled} sampled, ${d.verified} verified, ${d.matchedLive} matched live, ${d.skippedChanged} changed since`,
      ...d.failures.map((f) => `FAIL ${f.path}: ${f.problem}`),
    ].join('\n');
    if (d.failures.length > 0 || d.sampled === 0)
      return {
        status: 'error',
        error:
          d.failures.length === 0
            ? `the latest snapshot of ${drilled(d)} holds no regular file to drill`
            : `${d.sampled === 0 ? 'the drill failed' : `${d.failures.length} of ${d.sampled} sampled files failed`}: ${d.failures
                .slice(0, 3)
                .map((f) => `${f.path}: ${f.problem}`)
                .join('; ')}`,
        evidence,
        details: { drill: d },
        outputTail,
      };
    return { status: 'ok', evidence, details: { drill: d }, outputTail };
  }
}

/** "profile NAME" or "repository LOCATION", as a drill names what it drilled. */
export function drilled(d: DrillRunDetails): string {
  return d.profile !== undefined ? `profile ${d.profile}` : `repository ${d.repository ?? '?'}`;
}

/** Both executors, for src/app/executors.ts. */
export function createBackupExecutors(deps: BackupExecutorDeps): Executor[] {
  return [new BackupExecutor(deps) as Executor, new DrillExecutor(deps) as Executor];
}
