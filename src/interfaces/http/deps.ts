/**
 * What the API's routes are given by the daemon: the opened app, its clock, and the engine's
 * manual-run and reload entry points (so a run asked for over HTTP starts at once, and a job
 * changed over HTTP is picked up without waiting for the change poll).
 */
import type { App } from '../../app/app.ts';
import type { Clock } from '../../domain/clock.ts';
import type { RunRequestResult } from '../../scheduler/engine.ts';
import type { Job } from '../../domain/job.ts';
import type { LiveOutput } from '../../payloads/live-output.ts';

export interface ApiDeps {
  app: App;
  clock: Clock;
  requestRun(jobIdOrName: string, opts: { due?: boolean }): Promise<RunRequestResult>;
  jobsChanged(): Promise<void>;
  /** The engine's in-memory jobs (no store read), for views over all jobs. */
  jobs(): Job[];
  /** The output of the daemon's running runs (absent: only stored output is shown). */
  liveOutput?: LiveOutput;
}
