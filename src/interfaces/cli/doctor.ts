/**
 * `nightshift doctor [--json] [--fix] [--job NAME] [--quiet] [--send-test] [--create-dirs]`: one
 * line per finding (ok, warn, fail) with the command that fixes it; exit 0 when nothing fails, 1
 * when something does, 2 on bad usage (docs/doctor.md).
 */
import type { Command } from '@commander-js/extra-typings';
import { SystemClock } from '../../domain/clock.ts';
import { runDoctor } from '../../app/doctor/doctor.ts';
import type { DoctorReport } from '../../app/doctor/doctor.ts';
import { EXIT } from '../../domain/errors.ts';
import { requireJob } from '../../app/jobs.ts';
import { globalOptions, withApp } from './context.ts';
import { printJson, printLine } from './output.ts';

function render(report: DoctorReport, quiet: boolean): string[] {
  const lines: string[] = [];
  for (const f of report.findings) {
    if (quiet && f.level === 'ok') continue;
    lines.push(`${f.level.padEnd(4)}  ${f.check.padEnd(8)}  ${f.message}`);
    if (f.fixed !== undefined) lines.push(`${''.padEnd(16)}fixed: ${f.fixed}`);
    else if (f.fix !== undefined && f.level !== 'ok')
      lines.push(`${''.padEnd(16)}fix: ${f.fix}${f.fixable ? '  (or: nightshift doctor --fix)' : ''}`);
  }
  const { ok, warn, fail } = report.counts;
  if (!quiet || warn + fail > 0) lines.push(`${ok} ok, ${warn} warn, ${fail} fail`);
  return lines;
}

export function registerDoctorCommand(program: Command, version: string): void {
  program
    .command('doctor')
    .description(
      'check this home (daemon, jobs, channels, secrets, backups) and say how to fix what is wrong',
    )
    .option(
      '--fix',
      'apply the fixes that cannot lose anything (stale locks, daemon config reload) and list them',
    )
    .option('--job <name>', 'only this job and what it uses (its channels, secrets, backup profile)')
    .option('--quiet', 'print only warnings and failures')
    .option('--send-test', 'send a real test message through each channel instead of a dry request')
    .option('--create-dirs', 'with --fix: also create missing evidence directories')
    .action(async (opts, cmd) => {
      const { json } = globalOptions(cmd);
      await withApp(cmd, async (app) => {
        const job = opts.job === undefined ? undefined : await requireJob(app, opts.job);
        const report = await runDoctor(
          {
            app,
            clock: new SystemClock(),
            env: process.env,
            version,
            ...(job && { job }),
            sendTest: opts.sendTest === true,
            createDirs: opts.createDirs === true,
          },
          { fix: opts.fix === true },
        );
        if (json) printJson(report);
        else for (const line of render(report, opts.quiet === true)) printLine(line);
        if (report.exitCode !== EXIT.ok) process.exitCode = EXIT.failed;
      });
    });
}
