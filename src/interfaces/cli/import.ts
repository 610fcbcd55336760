/**
 * `nightshift import openclaw PATH [--dry-run]`: brings OpenClaw cron jobs over (docs/openclaw.md).
 * Prints what happened to each job (created, updated, unchanged, skipped with the reason) and every
 * field that could not be carried over.
 */
import type { Command } from '@commander-js/extra-typings';
import type { OpenClawImportReport } from '../../app/import.ts';
import { globalOptions, withApp } from './context.ts';
import { printJson, printLine } from './output.ts';

export function registerImportCommands(program: Command): void {
  const group = program
    .command('import')
    .description('import jobs from another scheduler')
    .showHelpAfterError(true);
  group
    .command('openclaw')
    .description(
      'import OpenClaw cron jobs (jobs.json, with its jobs-state.json when present); safe to re-run',
    )
    .argument('<path>', "OpenClaw's jobs.json, or the directory holding it (e.g. ~/.openclaw/cron)")
    .option('--dry-run', 'show what would change, write nothing')
    .action(async (path, opts, cmd) => {
      const { json } = globalOptions(cmd);
      const { importOpenClaw, readOpenClawImport } = await import('../../app/import.ts');
      // Read and checked before the store is opened: a refused import leaves no database behind.
      const source = readOpenClawImport(path, globalOptions(cmd).home);
      const report = await withApp(cmd, (app) =>
        importOpenClaw(app, source, { dryRun: opts.dryRun === true }),
      );
      if (json) printJson(report);
      else for (const line of formatImportReport(report)) printLine(line);
    });
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The table the command prints: one row per job, its unmapped fields indented under it. */
export function formatImportReport(report: OpenClawImportReport): string[] {
  const lines: string[] = [];
  lines.push(
    `${report.dryRun ? 'Would import' : 'Imported'} from ${report.file}${report.stateFile ? ` (state: ${report.stateFile})` : ''}`,
  );
  if (report.entries.length === 0) {
    lines.push('No jobs in the file.');
    return lines;
  }
  const nameW = Math.min(40, Math.max(4, ...report.entries.map((e) => e.name.length)));
  const idW = Math.min(40, Math.max(11, ...report.entries.map((e) => e.openclawId.length)));
  lines.push(`${pad('ACTION', 10)} ${pad('NAME', nameW)} ${pad('OPENCLAW ID', idW)} NIGHTSHIFT ID / REASON`);
  for (const e of report.entries) {
    const tail = e.action === 'skipped' ? (e.reason ?? '') : (e.jobId ?? '');
    lines.push(`${pad(e.action, 10)} ${pad(e.name, nameW)} ${pad(e.openclawId, idW)} ${tail}`);
    for (const u of e.unmapped) lines.push(`${' '.repeat(11)}not mapped: ${u.field}: ${u.reason}`);
  }
  const c = report.counts;
  lines.push('');
  lines.push(
    `${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.skipped} skipped` +
      (report.dryRun ? ' (dry run: nothing was written)' : ''),
  );
  return lines;
}
