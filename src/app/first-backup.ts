/**
 * The proof quickstart ends with: the new job's first backup, run now and recorded in its history,
 * then a restore drill of that snapshot with the identity while it is still on this host. A
 * failure is returned (with what was set up left in place), never thrown, so the caller can say
 * what is there and how to retry.
 */
import { profileTag } from '../backup-jobs/profile-repository.ts';
import type { BackupRunDetails, DrillRunDetails, Run } from '../domain/job.ts';
import type { App } from './app.ts';
import type { QuickstartResult } from './backup-profiles.ts';
import { drillPassed, drillRepository } from './drills.ts';

export interface FirstBackupProof {
  ok: boolean;
  /** The job's first run, when it ran (its history keeps it: `cron runs NAME`). */
  run?: Run;
  backup?: BackupRunDetails;
  drill?: DrillRunDetails;
  /** Which step failed and why, when not ok. */
  failed?: { step: 'backup' | 'drill'; problem: string };
  /** The identity reference the drill used: where drills of this repository can run. */
  identityRef: string;
}

export interface FirstBackupOptions {
  /** Files the drill restores (default 20). */
  sampleFiles?: number;
  signal?: AbortSignal;
}

/** Runs the quickstart job once and drills its snapshot with the identity quickstart wrote. */
export async function proveFirstBackup(
  app: App,
  setup: QuickstartResult,
  opts: FirstBackupOptions = {},
): Promise<FirstBackupProof> {
  const identityRef = `file:${setup.identityFile}`;
  // Loaded here: the engine and executors are only needed for this run.
  const { requestManualRun, waitForRun } = await import('./run-now.ts');
  let run: Run | undefined;
  try {
    const outcome = await requestManualRun(app, setup.job.id, opts.signal ? { signal: opts.signal } : {});
    run = outcome.run;
    if (!outcome.result.enqueued || outcome.result.runId === undefined)
      return {
        ok: false,
        identityRef,
        failed: { step: 'backup', problem: outcome.result.reason ?? 'the run was not started' },
      };
    // A daemon holding the home runs it; wait for its record.
    run ??= await waitForRun(app, outcome.result.runId, undefined);
  } catch (err) {
    return { ok: false, identityRef, failed: { step: 'backup', problem: (err as Error).message } };
  }
  const backup = run?.details?.backup;
  if (!run || run.status !== 'ok')
    return {
      ok: false,
      identityRef,
      ...(run ? { run } : {}),
      ...(backup ? { backup } : {}),
      failed: {
        step: 'backup',
        problem: run
          ? `it ended ${run.status}: ${run.error ?? 'no reason recorded'}`
          : 'its run record is gone',
      },
    };
  let drill: DrillRunDetails;
  try {
    drill = await drillRepository(
      app,
      { repository: setup.repository, identityRef, tag: profileTag(setup.profile.name) },
      { sampleFiles: opts.sampleFiles ?? 20, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
  } catch (err) {
    return {
      ok: false,
      identityRef,
      run,
      ...(backup ? { backup } : {}),
      failed: { step: 'drill', problem: (err as Error).message },
    };
  }
  const ok = drillPassed(drill);
  return {
    ok,
    identityRef,
    run,
    ...(backup ? { backup } : {}),
    drill,
    ...(ok
      ? {}
      : {
          failed: {
            step: 'drill' as const,
            problem:
              drill.failures.length > 0
                ? `${drill.failures.length} of ${drill.sampled} sampled files failed: ${drill.failures
                    .slice(0, 3)
                    .map((f) => `${f.path}: ${f.problem}`)
                    .join('; ')}`
                : 'the snapshot holds no regular file to restore',
          },
        }),
  };
}
