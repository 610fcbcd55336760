/**
 * Restore drills on demand: restore a sample of the latest snapshot into a temporary directory,
 * verify every file and compare it with the live one (backup-jobs/drill.ts). Of a profile, or of
 * a repository named with a reference to its age identity (where the identity lives, no profile
 * needed). Drill jobs run the same drills on their schedule.
 */
import {
  runDrill,
  runRepositoryDrill,
  type DrillOptions,
  type RepositoryDrillTarget,
} from '../backup-jobs/drill.ts';
import { looksLikeSecretRef } from '../domain/backup-profile.ts';
import { UserError } from '../domain/errors.ts';
import type { DrillRunDetails } from '../domain/job.ts';
import { parseRepositoryLocation } from '../domain/repository-location.ts';
import type { App } from './app.ts';

export type { RepositoryDrillTarget } from '../backup-jobs/drill.ts';

/** Drills the profile now; failures are in the result, a repository that cannot be read throws. */
export function drillProfile(app: App, name: string, opts: DrillOptions = {}): Promise<DrillRunDetails> {
  return runDrill(app, name, opts);
}

/**
 * Drills a repository with the identity its reference resolves to (never stored, never shown).
 * The reference is checked for shape before anything is opened.
 */
export function drillRepository(
  app: App,
  target: RepositoryDrillTarget,
  opts: DrillOptions = {},
): Promise<DrillRunDetails> {
  checkDrillTarget(target);
  return runRepositoryDrill(app, target, opts);
}

/** Refuses a malformed repository location or an identity given literally (never echoed). */
export function checkDrillTarget(target: RepositoryDrillTarget): void {
  parseRepositoryLocation(target.repository);
  if (!looksLikeSecretRef(target.identityRef))
    throw new UserError(
      '--identity-ref: is not a secret reference (an identity is never taken literally; the value is not shown)',
      {
        hint: 'give where the identity lives: file:/path/identity.txt (mode 0600), env:NAME, cmd:..., vault:mount/path#field',
      },
    );
}

/** Whether the drill proved what it restored: something sampled, and nothing failed. */
export function drillPassed(d: DrillRunDetails): boolean {
  return d.sampled > 0 && d.failures.length === 0;
}
