/**
 * Restore drills on demand: restore a sample of a profile's latest snapshot into a temporary
 * directory, verify every file and compare it with the live one (backup-jobs/drill.ts). Drill
 * jobs run the same drill on their schedule.
 */
import { runDrill, type DrillOptions } from '../backup-jobs/drill.ts';
import type { DrillRunDetails } from '../domain/job.ts';
import type { App } from './app.ts';

/** Drills the profile now; failures are in the result, a repository that cannot be read throws. */
export function drillProfile(app: App, name: string, opts: DrillOptions = {}): Promise<DrillRunDetails> {
  return runDrill(app, name, opts);
}
