/**
 * The verbs that change jobs: add|create, edit, rm|remove|delete, enable, disable. The use cases
 * are app/jobs.ts; this layer turns flags into their input and reports the result.
 */
import type { Command } from '@commander-js/extra-typings';
import type { Job } from '../../domain/job.ts';
import {
  addJob,
  editJob,
  newJob,
  removeJob,
  requireJob,
  setJobEnabled,
  type SavedJob,
} from '../../app/jobs.ts';
import { jobNextFires } from '../../app/views.ts';
import { globalOptions, withApp } from './context.ts';
import { editSelection, selectedJob, withJobSelector } from './job-selector.ts';
import { printJson, printLine } from './output.ts';
import { addJobFlags, inFlagTerms, jobInputFromFlags, jobPatchFromFlags } from './job-flags.ts';
import type { JobFlags } from './job-flags.ts';
import { isoUtc, relative } from './render.ts';
import { describeSchedule } from '../../domain/schedule.ts';
import { displayPath } from '../../app/display-path.ts';

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

/** Problems that did not stop the save, on stderr so that --json output stays one document. */
function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
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
      job = newJob(jobInputFromFlags(flags, now), now);
    } catch (err) {
      inFlagTerms(err);
    }
    await withApp(cmd, async (app) => {
      let saved: SavedJob;
      try {
        saved = await addJob(app, job);
      } catch (err) {
        inFlagTerms(err);
      }
      printSaved('added', saved.job, json);
      printWarnings(saved.warnings);
    });
  });

  const edit = cron
    .command('edit')
    .description(
      'change a job: only the flags given are changed (--name renames a job given by id or name; alone, it selects the job)',
    )
    .argument('[job]', 'job id or exact name (or --name NAME)');
  addJobFlags(edit);
  edit.action(async (positional, _opts, cmd) => {
    const given = cmd.opts() as JobFlags;
    const { ref: idOrName, rename } = editSelection(positional, given.name);
    const flags: JobFlags = { ...given };
    if (rename === undefined) delete flags.name;
    const { json } = globalOptions(cmd);
    const now = Date.now();
    await withApp(cmd, async (app) => {
      const job = await requireJob(app, idOrName);
      const patch = jobPatchFromFlags(flags, job, now);
      let saved: SavedJob;
      try {
        saved = await editJob(app, job, patch, { nowMs: now });
      } catch (err) {
        inFlagTerms(err);
      }
      printSaved('updated', saved.job, json);
      printWarnings(saved.warnings);
      if (job.source?.kind === 'file')
        process.stderr.write(
          `warning: ${job.name} is declared in ${displayPath(job.source.path)}; the next \`nightshift apply\` of that file overwrites this change (edit the file instead)\n`,
        );
    });
  });

  withJobSelector(
    cron.command('rm').aliases(['remove', 'delete']).description('delete a job and its run history'),
  )
    .option(
      '--force',
      'also remove the jobs that run after it (a chain), directly or through others; without it such a job is refused',
    )
    .action(async (positional, opts, cmd) => {
      const idOrName = selectedJob(cmd.name(), positional, opts.name);
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const { job, alsoRemoved } = await removeJob(app, idOrName, { force: opts.force === true });
        const also = alsoRemoved.map((j) => j.name);
        if (json) printJson({ ok: true, removed: true, id: job.id, name: job.name, alsoRemoved: also });
        else {
          printLine(`removed ${job.name} (id ${job.id}) and its run history`);
          if (also.length > 0) printLine(`also removed, as they ran after it: ${also.join(', ')}`);
        }
      });
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    withJobSelector(
      cron
        .command(verb)
        .description(
          enabled ? 'let a job fire again' : 'stop a job from firing (it stays, with its history)',
        ),
    ).action(async (positional, opts, cmd) => {
      const idOrName = selectedJob(cmd.name(), positional, opts.name);
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const updated = await setJobEnabled(app, idOrName, enabled);
        printSaved(enabled ? 'enabled' : 'disabled', updated, json);
      });
    });
  }
}
