/** `backup quickstart`: from nothing to a scheduled, encrypted, verified daily backup. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { quickstart } from '../../../app/backup-profiles.ts';
import { UserError } from '../../../domain/errors.ts';
import { describeRetention } from '../../../domain/retention.ts';
import { globalOptions, withApp } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { collect, policyFromFlags } from './flags.ts';

/** `03:00` -> hour and minute. */
function dailyAt(text: string): { hh: number; mm: number } {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  const hh = m ? Number(m[1]) : NaN;
  const mm = m ? Number(m[2]) : NaN;
  if (!(hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59))
    throw new UserError(`--at: cannot read ${JSON.stringify(text)} as a time of day`, {
      hint: 'e.g. --at 03:00',
    });
  return { hh, mm };
}

export function registerQuickstartCommand(backupCommand: CommandUnknownOpts): void {
  backupCommand
    .command('quickstart')
    .description(
      'one command to a scheduled, encrypted, verified daily backup (recipients repository + profile + job)',
    )
    .requiredOption('--path <dir>', 'what to back up (repeatable)', collect)
    .option('-r, --repo <path>', 'repository directory (default: <home>/repository)')
    .option('--at <HH:MM>', 'time of day of the backup, host time zone', '03:00')
    .option('--name <name>', 'name of the profile and the job', 'daily-backup')
    .option('--identity-out <file>', 'where to write the age identity (default: <home>/<name>-identity.txt)')
    .option('--keep-last <n>', 'snapshots kept', '7')
    .action(async (flags, cmd) => {
      const json = globalOptions(cmd).json;
      const at = dailyAt(flags.at);
      const retention = policyFromFlags({ keepLast: flags.keepLast });
      await withApp(cmd, async (app) => {
        const q = await quickstart(app, {
          name: flags.name,
          paths: flags.path,
          ...(flags.repo !== undefined ? { repository: flags.repo } : {}),
          ...(flags.identityOut !== undefined ? { identityFile: flags.identityOut } : {}),
          dailyAt: at,
          retention,
        });
        const { name, schedule } = q.job;
        if (json) {
          printJson({
            repository: q.repository,
            repositoryId: q.repositoryId,
            recipient: q.recipient,
            identityFile: q.identityFile,
            writerKey: q.writerKey,
            profile: q.profile,
            job: { id: q.job.id, name, schedule, nextRunAtMs: q.nextRunAtMs ?? null },
          });
          return;
        }
        printLine(`created a recipients repository at ${q.repository}`);
        printLine(`  writer key (backs up, cannot read): ${q.writerKey}`);
        printLine(`age identity (reads the backups): ${q.identityFile} (0600)`);
        printLine('  MOVE IT OFF THIS MACHINE (password manager, offline disk) and delete it here:');
        printLine('  whoever holds it can read every backup; without it no backup can be restored.');
        printLine(
          `profile ${name}: ${q.profile.paths.join(', ')}; ${describeRetention(q.profile.retention)}; verify 5% after each backup; prune weekly`,
        );
        printLine(
          `job ${name}: daily at ${String(at.hh).padStart(2, '0')}:${String(at.mm).padStart(2, '0')} (${q.timeZone})` +
            (q.nextRunAtMs !== undefined ? `, next ${new Date(q.nextRunAtMs).toISOString()}` : ''),
        );
        printLine('');
        printLine('next steps:');
        const steps: [string, string][] = [
          ['nightshift daemon', 'runs the schedule (or install it as a service)'],
          [`nightshift cron run ${name}`, 'a first backup now'],
          [`nightshift cron runs --id ${name}`, 'results, with the evidence of each run'],
        ];
        const width = Math.max(...steps.map(([c]) => c.length));
        for (const [c, why] of steps) printLine(`  ${c.padEnd(width)}  # ${why}`);
        printLine('restore (on a machine holding the identity):');
        printLine(
          `  nightshift backup restore latest --repo ${q.repository} --identity ${q.identityFile} --target /tmp/restore`,
        );
      });
    });
}
