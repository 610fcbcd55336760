/**
 * Importing jobs from OpenClaw (`nightshift import openclaw`): reads its jobs.json (and the
 * jobs-state.json sidecar when present), plans the import against the store (import/openclaw.ts,
 * pure) and writes it, all of it or, when anything is invalid, none of it. The CLI reads the file
 * and checks every job before it opens a store (readOpenClawImport), so a refused import leaves
 * no nightshift home database behind.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config/config.ts';
import { resolveHomeDir } from '../config/home.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import { THREAD_CHANNEL_KINDS } from '../domain/notify-validation.ts';
import { newJobId } from '../domain/job-id.ts';
import { mapOpenClawJob, parseOpenClawStore, planImport } from '../import/openclaw.ts';
import type { ImportEntry } from '../import/openclaw.ts';
import type { App } from './app.ts';
import { addJob, replaceJob } from './jobs.ts';

export interface OpenClawImportOptions {
  dryRun?: boolean;
  nowMs?: number;
}

export interface OpenClawImportReport {
  file: string;
  /** The sidecar read, or null when there was none. */
  stateFile: string | null;
  dryRun: boolean;
  entries: ImportEntry[];
  counts: Record<ImportEntry['action'], number>;
}

/** A jobs.json path, or a directory holding one (`~/.openclaw/cron` or `~/.openclaw`). */
export function locateJobsFile(path: string): string {
  const p = resolve(path);
  if (!existsSync(p)) {
    throw new UserError(`${p}: no such file or directory`, {
      hint: "give the path of OpenClaw's jobs.json, usually ~/.openclaw/cron/jobs.json",
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  }
  if (!statSync(p).isDirectory()) return p;
  for (const candidate of [join(p, 'jobs.json'), join(p, 'cron', 'jobs.json')])
    if (existsSync(candidate)) return candidate;
  throw new UserError(`${p}: no jobs.json in this directory (nor in its cron/)`, {
    hint: "give the path of OpenClaw's jobs.json, usually ~/.openclaw/cron/jobs.json",
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`, {
      hint: 'check the path and its permissions',
    });
  }
}

/** An OpenClaw store read from disk. */
export interface OpenClawSource {
  file: string;
  stateFile: string | null;
  jobs: Array<Record<string, unknown>>;
}

/** Reads the OpenClaw store at `path` (jobs.json, or a directory holding it) and its sidecar. */
export function readOpenClawFile(path: string): OpenClawSource {
  const file = locateJobsFile(path);
  const sidecar = join(dirname(file), 'jobs-state.json');
  const stateFile = existsSync(sidecar) ? sidecar : null;
  const jobs = parseOpenClawStore(
    readText(file),
    file,
    stateFile === null ? undefined : readText(stateFile),
    stateFile ?? undefined,
  );
  return { file, stateFile, jobs };
}

/** The configured channel names the import maps to, and those whose kind has threads. */
function channelNames(configured: ReadonlyArray<{ name: string; kind: string }>): {
  channels: string[];
  threadChannels: string[];
} {
  return {
    channels: configured.map((c) => c.name),
    threadChannels: configured.filter((c) => THREAD_CHANNEL_KINDS.includes(c.kind)).map((c) => c.name),
  };
}

/**
 * Reads the OpenClaw store at `path` and checks every job against the configuration of the home
 * `homeFlag` names, without opening (or creating) that home's database: whatever would refuse the
 * import refuses it here.
 */
export function readOpenClawImport(
  path: string,
  homeFlag?: string,
  env: NodeJS.ProcessEnv = process.env,
  nowMs = Date.now(),
): OpenClawSource {
  const source = readOpenClawFile(path);
  const { channels, threadChannels } = channelNames(loadConfig(resolveHomeDir(homeFlag, env), env).channels);
  // Planned against no stored jobs: the job checks are the same; names are settled later.
  planImport(
    source.jobs.map((j) => mapOpenClawJob(j, { nowMs, channels, threadChannels })),
    [],
    nowMs,
    () => 'unsaved',
  );
  return source;
}

export async function importOpenClaw(
  app: App,
  source: string | OpenClawSource,
  opts: OpenClawImportOptions = {},
): Promise<OpenClawImportReport> {
  const { file, stateFile, jobs: raw } = typeof source === 'string' ? readOpenClawFile(source) : source;
  const nowMs = opts.nowMs ?? Date.now();
  const { channels, threadChannels } = channelNames(app.config().channels);
  const mapped = raw.map((j) => mapOpenClawJob(j, { nowMs, channels, threadChannels }));
  const plan = planImport(mapped, await app.store.listJobs(), nowMs, newJobId);
  const dryRun = opts.dryRun === true;
  if (!dryRun) {
    try {
      for (const job of plan.updates) await replaceJob(app, job);
      for (const job of plan.inserts) await addJob(app, job, { checkReferences: false });
    } catch (err) {
      // Only a concurrent edit between planning and writing gets here.
      if (err instanceof UserError && err.code === 'name_taken')
        throw new UserError(`import interrupted: ${err.message}`, {
          hint: 'a job was added or renamed meanwhile; re-run the import (it picks up where it stopped)',
          exitCode: EXIT.conflict,
          code: 'conflict',
        });
      throw err;
    }
  }
  const counts = { created: 0, updated: 0, unchanged: 0, skipped: 0 };
  for (const e of plan.entries) counts[e.action]++;
  return { file, stateFile, dryRun, entries: plan.entries, counts };
}
