/**
 * Jobs as code: `apply` (with --check, --dry-run, --prune), `render`, `export` and
 * `schema jobs`. The work is in src/app (apply-jobs.ts, export-jobs.ts, job-files.ts); this file
 * reads flags, asks for confirmation, and prints.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from '@commander-js/extra-typings';
import { stringify } from 'yaml';
import { EXIT } from '../../domain/errors.ts';
import { describeDrift } from '../../domain/job-drift.ts';
import { jobFileJsonSchema } from '../../domain/profile-file.ts';
import { applyJobFiles, where } from '../../app/apply-jobs.ts';
import type { ApplyReport, Orphan } from '../../app/apply-jobs.ts';
import { exportJobs, fileNameFor } from '../../app/export-jobs.ts';
import { displayPath } from '../../app/display-path.ts';
import { renderDocuments } from '../../app/job-files.ts';
import { newJobId } from '../../domain/job-id.ts';
import { globalOptions, withApp } from './context.ts';
import { printJson, printLine } from './output.ts';

async function askToPrune(orphans: Orphan[]): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const jobs = orphans.filter((o) => o.kind === 'job');
    const profiles = orphans.filter((o) => o.kind === 'backup-profile');
    const parts = [
      jobs.length > 0
        ? `${jobs.length === 1 ? 'this job' : `these ${jobs.length} jobs`} and ${jobs.length === 1 ? 'its' : 'their'} run history: ${jobs.map((o) => o.name).join(', ')}`
        : '',
      profiles.length > 0
        ? `${profiles.length === 1 ? 'this backup profile' : `these ${profiles.length} backup profiles`} (not ${profiles.length === 1 ? 'its repository' : 'their repositories'}): ${profiles.map((o) => o.name).join(', ')}`
        : '',
    ].filter((p) => p !== '');
    const answer = await rl.question(`remove ${parts.join('; and ')}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** `nightly-reset`, or `backup profile nightly` for a profile. */
function label(e: { kind?: string; name: string }): string {
  return e.kind === 'backup-profile' ? `backup profile ${e.name}` : e.name;
}

/** `4 jobs`, or `4 jobs and 1 backup profile` when files declare profiles. */
function inSyncCount(r: ApplyReport): string {
  const profiles = r.unchangedProfiles.length + r.relinked.filter((l) => l.kind === 'backup-profile').length;
  const jobs = r.unchanged.length + r.relinked.length - profiles;
  const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
  return plural(jobs, 'job') + (profiles > 0 ? ` and ${plural(profiles, 'backup profile')}` : '');
}

function printReport(r: ApplyReport): void {
  const check = r.mode === 'check';
  const verb = (done: string, would: string): string => (r.mode === 'apply' ? done : would);
  for (const u of r.updated) {
    if (!check) printLine(`${verb('updated', 'would update')} ${label(u)} (${where(u.file, u.line)})`);
    for (const d of u.drift ?? []) printLine(`${check ? '' : '  '}${describeDrift(label(u), d)}`);
  }
  for (const c of r.created)
    printLine(
      check
        ? `only in files: ${label(c)} (${where(c.file, c.line)})`
        : `${verb('created', 'would create')} ${label(c)} (${where(c.file, c.line)})`,
    );
  for (const l of r.relinked)
    printLine(
      `${verb('linked', 'would link')} ${label(l)} to ${where(l.file, l.line)}` +
        (l.movedFrom ? ` (was ${displayPath(l.movedFrom)})` : ' (made elsewhere, same definition)'),
    );
  for (const o of r.orphans) {
    if (r.removed.includes(o.name)) printLine(`removed ${label(o)} (was declared in ${displayPath(o.file)})`);
    else
      printLine(
        `orphan: ${label(o)} (made from ${displayPath(o.file)}, no longer declared there; --prune removes it)`,
      );
  }
  const n = r.updated.length + r.created.length + (r.removed.length > 0 ? 0 : r.orphans.length);
  if (check)
    printLine(
      r.inSync
        ? `in sync: ${inSyncCount(r)} in ${r.files.length} files match the store`
        : `drift: ${r.updated.length} changed, ${r.created.length} only in files, ${r.orphans.length} orphaned`,
    );
  else
    printLine(
      `${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged, ${r.removed.length} removed` +
        (r.mode === 'dry-run' ? ' (dry run: nothing was written)' : '') +
        (n === 0 && r.mode === 'apply' ? '; the store matches the files' : ''),
    );
}

export function registerJobFileCommands(program: Command): void {
  program
    .command('apply')
    .description(
      'create and update jobs and backup profiles from job files (YAML/JSON, directories read recursively)',
    )
    .argument('<paths...>', 'job files or directories of them (*.yaml, *.yml, *.json)')
    .option('--values <file>', 'template values (YAML or JSON) for {{...}} in the files')
    .option('--dry-run', 'show what would change, write nothing')
    .option(
      '--check',
      'write nothing; print the drift field by field; exit 0 in sync, 1 on drift, 2 on invalid files',
    )
    .option(
      '--prune',
      'also remove jobs and backup profiles made from these files that they no longer declare (asks first)',
    )
    .option('--yes', 'with --prune: do not ask')
    .option(
      '--adopt',
      'take over jobs and profiles of the same name that were not made from files (the file wins)',
    )
    .action(async (paths, opts, cmd) => {
      const { json } = globalOptions(cmd);
      const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true && !json;
      const report = await withApp(cmd, (app) =>
        applyJobFiles(app, paths, {
          valuesFile: opts.values,
          dryRun: opts.dryRun === true,
          check: opts.check === true,
          prune: opts.prune === true,
          adopt: opts.adopt === true,
          confirm: opts.yes ? async () => true : interactive ? askToPrune : undefined,
        }),
      );
      if (json) printJson(report);
      else printReport(report);
      if (report.mode === 'check' && !report.inSync) process.exitCode = EXIT.failed;
    });

  program
    .command('render')
    .description('print job files with their templates filled in (validated, nothing written)')
    .argument('<paths...>', 'job files or directories of them')
    .option('--values <file>', 'template values (YAML or JSON)')
    .action((paths, opts, cmd) => {
      const { json } = globalOptions(cmd);
      const jobs = renderDocuments(paths, { valuesFile: opts.values, nowMs: Date.now(), newId: newJobId });
      if (json) {
        printJson(
          jobs.map((j) => ({
            file: j.file,
            line: j.line,
            [j.doc.kind === 'backup-profile' ? 'profile' : 'job']: j.doc,
          })),
        );
        return;
      }
      process.stdout.write(
        jobs.map((j) => `# ${where(j.file, j.line)}\n${stringify(j.doc, { lineWidth: 0 })}`).join('---\n'),
      );
    });

  program
    .command('export')
    .description('write jobs and backup profiles as job files; `apply --check` on them reports no drift')
    .option(
      '--dir <dir>',
      'one file per job (NAME.yaml) and per profile (NAME.profile.yaml) in this directory',
    )
    .option('-o, --output <file>', 'everything in one file, one YAML document each')
    .option('--job <name...>', 'only these jobs (id or name; default: all jobs and profiles)')
    .option('--profile <name...>', 'only these backup profiles (default: all jobs and profiles)')
    .action(async (opts, cmd) => {
      const { json } = globalOptions(cmd);
      if (opts.dir !== undefined && opts.output !== undefined) {
        const { UserError } = await import('../../domain/errors.ts');
        throw new UserError('give either --dir or -o, not both', {
          hint: '--dir writes one file per job, -o one file with all of them',
        });
      }
      const exported = await withApp(cmd, (app) =>
        exportJobs(app, { jobs: opts.job ?? [], profiles: opts.profile ?? [] }),
      );
      const written: string[] = [];
      if (opts.dir !== undefined) {
        const dir = resolve(opts.dir);
        mkdirSync(dir, { recursive: true });
        for (const e of exported) {
          const file = join(dir, fileNameFor(e.name, e.kind));
          writeFileSync(file, e.yaml);
          written.push(file);
        }
      } else if (opts.output !== undefined) {
        const file = resolve(opts.output);
        writeFileSync(file, exported.map((e) => e.yaml).join('---\n'));
        written.push(file);
      } else if (!json) {
        process.stdout.write(exported.map((e) => e.yaml).join('---\n'));
        return;
      }
      if (json)
        printJson({
          jobs: exported.filter((e) => e.kind === undefined).map((e) => e.name),
          profiles: exported.filter((e) => e.kind !== undefined).map((e) => e.name),
          files: written,
          ...(written.length === 0 ? { documents: exported } : {}),
        });
      else
        printLine(`exported ${exported.length} jobs and profiles to ${written.map(displayPath).join(', ')}`);
    });

  const schema = program.command('schema').description('print the JSON Schema of a file format');
  schema
    .command('jobs')
    .description(
      'the job file format (jobs and backup profiles), for editors: nightshift schema jobs > jobs.schema.json',
    )
    .action(() => printJson(jobFileJsonSchema()));
}
