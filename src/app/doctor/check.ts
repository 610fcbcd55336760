/**
 * What one doctor check is: a small module that looks at one part of a home (the store, the
 * daemon, jobs, channels, secrets, repositories, OpenClaw leftovers) and says what it found, one
 * finding per line, each with the command that fixes it. Checks only read; a fix that cannot lose
 * anything is offered separately (`fix`), and only `doctor --fix` applies it.
 */
import type { App } from '../app.ts';
import type { Clock } from '../../domain/clock.ts';
import type { Job } from '../../domain/job.ts';
import { resolveHomeDir } from '../../config/home.ts';

export type DoctorLevel = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** The check's id (`home`, `daemon`, `jobs`, ...). */
  check: string;
  level: DoctorLevel;
  /** What was found, in one line. */
  message: string;
  /** The command (or edit) that fixes it, to copy. */
  fix?: string;
  /** The job it is about, when it is about one. */
  job?: string;
  /** Set when `doctor --fix` can repair it without losing anything (the check's `repair` does). */
  repair?: () => Promise<string>;
}

export interface DoctorContext {
  app: App;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  /** The version of this nightshift (compared with the daemon's). */
  version: string;
  /** Only this job (and what it uses), when given. */
  job?: Job;
  /** Send a real test message to each channel instead of a dry request. */
  sendTest: boolean;
  /** `--fix` may create missing evidence directories. */
  createDirs: boolean;
  /** Injected for tests (channel probes). */
  fetch?: typeof fetch;
}

export interface DoctorCheck {
  id: string;
  /** One line: what the check looks at. */
  title: string;
  run(ctx: DoctorContext): Promise<Finding[]>;
}

/** The jobs a check looks at: the one asked for, or every job. */
export async function jobsInScope(ctx: DoctorContext): Promise<Job[]> {
  return ctx.job ? [ctx.job] : ctx.app.store.listJobs();
}

/** A command line to copy: `nightshift ARGS`, with `--home` when this home is not the default one. */
export function nightshiftCommand(ctx: DoctorContext, args: string): string {
  const dflt = resolveHomeDir(undefined, { ...ctx.env, NIGHTSHIFT_HOME: undefined });
  const envHome = ctx.env.NIGHTSHIFT_HOME === undefined ? undefined : resolveHomeDir(ctx.env.NIGHTSHIFT_HOME);
  const home = ctx.app.home.dir;
  return home === dflt || home === envHome ? `nightshift ${args}` : `nightshift --home ${home} ${args}`;
}
