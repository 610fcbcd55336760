/**
 * The verbs that change jobs: add|create, edit, rm|remove|delete, enable, disable. Validation is
 * the domain's (job-validation.ts); this layer turns flags into its input and reports the result.
 */
import type { Command } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../../domain/errors.ts';
import type { Job } from '../../domain/job.ts';
import { StoreConflictError } from '../../store/store.ts';
import { newJobId } from '../../app/app.ts';
import type { App } from '../../app/app.ts';
import { globalOptions, requireJob, withApp } from './context.ts';
import { printJson, printLine } from './output.ts';
import { addJobFlags, inFlagTerms, jobInputFromFlags, jobPatchFromFlags } from './job-flags.ts';
import type { JobFlags } from './job-flags.ts';
import { buildJob, applyJobPatch } from '../../domain/job-validation.ts';
import { jobNextFires } from './views.ts';
import { isoUtc, relative } from './format.ts';
import { describeSchedule } from '../../domain/schedule.ts';

function nameTaken(name: string): UserError {
  return new UserError(`a job named "${name}" already exists`, {
    hint: 'pick another --name, or change the existing job with `nightshift cron edit`',
    exitCode: EXIT.conflict,
    code: 'name_taken',
  });
}

async function saveNew(app: App, job: Job): Promise<void> {
  try {
    await app.store.insertJob(job);
  } catch (err) {
    if (err instanceof StoreConflictError) throw nameTaken(job.name);
    throw err;
  }
}

function printSaved(verb: string, job: Job, json: boolean): void {
  if (json) {
    printJson(job);
    return;
  }
  const now = Date.now();
  const next = jobNextFires(job, now, 1)[0];
  printLine(`${verb} ${job.name} (id ${job.id}): ${describeSchedule(job.schedule)}`);
  printLine(
    !job.enabled
      ? 'disabled: it will not fire until `nightshift cron enable`'
      : next === undefined
        ? 'it has no future fire time'
        : `next run: ${isoUtc(next)} (${relative(next, now)})`,
  );
  if (job.payload.kind === 'systemEvent')
    printLine(
      `note: this job executes nothing; each run puts its text into session ${job.payload.session}'s inbox and is recorded \`delivered\``,
    );
  printLine(`details: nightshift cron show ${job.id}`);
}

export function registerJobEditCommands(cron: Command): void {
  const add = cron
    .command('add')
    .alias('create')
    .description(
      'add a job: a name, one schedule (--cron, --every or --at) and what it does (--command, --backup, --drill, --message or --system-event)',
    );
  addJobFlags(add);
  add.action(async (_opts, cmd) => {
    // commander's typed options do not include the shared flags added by addJobFlags.
    const flags = cmd.opts() as JobFlags;
    const { json } = globalOptions(cmd);
    const now = Date.now();
    // Everything is validated before the home is touched: a bad flag writes nothing.
    let job: Job;
    try {
      job = buildJob(jobInputFromFlags(flags, now), now, newJobId);
    } catch (err) {
      inFlagTerms(err);
    }
    await withApp(cmd, async (app) => {
      await saveNew(app, job);
      printSaved('added', job, json);
    });
  });

  const edit = cron
    .command('edit')
    .description('change a job: only the flags given are changed')
    .argument('<job>', 'job id or exact name');
  addJobFlags(edit);
  edit.action(async (idOrName, _opts, cmd) => {
    const flags = cmd.opts() as JobFlags;
    const { json } = globalOptions(cmd);
    const now = Date.now();
    await withApp(cmd, async (app) => {
      const job = await requireJob(app, idOrName);
      const patch = jobPatchFromFlags(flags, job, now);
      if (Object.keys(patch).length === 0) {
        throw new UserError('nothing to change: give at least one flag', {
          hint: `see \`nightshift cron edit --help\`; the job stays as \`nightshift cron get ${job.id}\` shows`,
        });
      }
      let updated: Job;
      try {
        updated = applyJobPatch(job, patch, now);
      } catch (err) {
        inFlagTerms(err);
      }
      try {
        await app.store.updateJob(updated);
      } catch (err) {
        if (err instanceof StoreConflictError) throw nameTaken(updated.name);
        throw err;
      }
      printSaved('updated', updated, json);
    });
  });

  cron
    .command('rm')
    .aliases(['remove', 'delete'])
    .description('delete a job and its run history')
    .argument('<job>', 'job id or exact name')
    .action(async (idOrName, _opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const job = await requireJob(app, idOrName);
        await app.store.deleteJob(job.id);
        if (json) printJson({ ok: true, removed: true, id: job.id, name: job.name });
        else printLine(`removed ${job.name} (id ${job.id}) and its run history`);
      });
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    cron
      .command(verb)
      .description(enabled ? 'let a job fire again' : 'stop a job from firing (it stays, with its history)')
      .argument('<job>', 'job id or exact name')
      .action(async (idOrName, _opts, cmd) => {
        const { json } = globalOptions(cmd);
        await withApp(cmd, async (app) => {
          const job = await requireJob(app, idOrName);
          const updated = job.enabled === enabled ? job : applyJobPatch(job, { enabled }, Date.now());
          if (updated !== job) await app.store.updateJob(updated);
          printSaved(enabled ? 'enabled' : 'disabled', updated, json);
        });
      });
  }
}
