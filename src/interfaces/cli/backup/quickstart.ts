/**
 * `backup quickstart`: from nothing to a scheduled, encrypted daily backup whose first run and
 * restore drill ran and proved themselves; exit 1 (keeping what was set up) when either failed.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { quickstart } from '../../../app/backup-profiles.ts';
import { proveFirstBackup, type FirstBackupProof } from '../../../app/first-backup.ts';
import { formatBytes } from '../../../domain/bytes.ts';
import { EXIT, UserError } from '../../../domain/errors.ts';
import { describeRetention } from '../../../domain/retention.ts';
import { globalOptions, withApp } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { drillLines, seconds } from './drill.ts';
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

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** What the first backup proved: snapshot, files, bytes, time. */
function backupLine(proof: FirstBackupProof): string {
  const b = proof.backup;
  const files = (b?.filesNew ?? 0) + (b?.filesChanged ?? 0) + (b?.filesUnmodified ?? 0);
  const took = proof.run?.durationMs ?? b?.durationMs;
  return (
    `first backup (run ${proof.run?.runId ?? '?'}): snapshot ${b?.snapshotId?.slice(0, 8) ?? '?'}, ` +
    `${plural(files, 'file')}, ${formatBytes(b?.bytesRead ?? 0)} read, ${formatBytes(b?.bytesAdded ?? 0)} stored` +
    (took !== undefined ? ` in ${seconds(took)}` : '') +
    (b?.verified ? `; verify ${b.verified.ok ? 'ok' : 'FAILED'}` : '')
  );
}

export function registerQuickstartCommand(backupCommand: CommandUnknownOpts): void {
  backupCommand
    .command('quickstart')
    .description(
      'one command to a proven backup: a recipients repository, a profile and a daily job, then the first backup and a restore drill of it, run now (--no-run: set up only)',
    )
    .requiredOption('--path <dir>', 'what to back up (repeatable)', collect)
    .option('-r, --repo <path>', 'repository directory (default: <home>/repository)')
    .option('--at <HH:MM>', 'time of day of the backup, host time zone', '03:00')
    .option('--name <name>', 'name of the profile and the job', 'daily-backup')
    .option('--identity-out <file>', 'where to write the age identity (default: <home>/<name>-identity.txt)')
    .option('--keep-last <n>', 'snapshots kept', '7')
    .option('--no-run', 'set up only: no first backup and no drill now')
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
        const proof = flags.run ? await proveFirstBackup(app, q) : undefined;
        if (proof && !proof.ok) process.exitCode = EXIT.failed;
        const { name, schedule } = q.job;
        const drillCmd = `nightshift backup drill --repo ${quoteArg(q.repository)} --identity-ref ${quoteArg(`file:${q.identityFile}`)}`;
        const retryCmd = `nightshift cron run ${quoteArg(name)} --wait`;
        if (json) {
          printJson({
            ok: proof ? proof.ok : true,
            repository: q.repository,
            repositoryId: q.repositoryId,
            recipient: q.recipient,
            identityFile: q.identityFile,
            writerKey: q.writerKey,
            profile: q.profile,
            job: { id: q.job.id, name, schedule, nextRunAtMs: q.nextRunAtMs ?? null },
            ...(proof
              ? {
                  firstBackup: {
                    runId: proof.run?.runId ?? null,
                    status: proof.run?.status ?? null,
                    ...(proof.backup ? { details: proof.backup } : {}),
                  },
                  drill: proof.drill ?? null,
                  ...(proof.failed ? { failed: proof.failed, retry: [retryCmd, drillCmd] } : {}),
                }
              : {}),
          });
          return;
        }
        printLine(`created a recipients repository at ${q.repository} (id ${q.repositoryId.slice(0, 8)})`);
        printLine(`  writer key (backs up, cannot read): ${q.writerKey}`);
        printLine(`age identity (reads the backups): ${q.identityFile} (0600)`);
        printLine(
          `profile ${name}: ${q.profile.paths.join(', ')}; ${describeRetention(q.profile.retention)}; verify 5% after each backup; prune weekly`,
        );
        printLine(
          `job ${name}: daily at ${String(at.hh).padStart(2, '0')}:${String(at.mm).padStart(2, '0')} (${q.timeZone})` +
            (q.nextRunAtMs !== undefined ? `, next ${new Date(q.nextRunAtMs).toISOString()}` : ''),
        );
        printLine('');
        if (proof) {
          if (proof.run || proof.backup) printLine(backupLine(proof));
          if (proof.drill) for (const l of drillLines(proof.drill)) printLine(l);
          if (!proof.ok) {
            const f = proof.failed!;
            printLine(
              `${f.step === 'backup' ? 'the first backup' : 'the restore drill'} FAILED: ${f.problem}`,
            );
            for (const l of (proof.run?.outputTail ?? '').trimEnd().split('\n').slice(-10))
              if (f.step === 'backup' && l !== '') printLine(`  | ${l}`);
            printLine(
              `kept what was set up: the repository, the identity, profile ${name} and job ${name} (it runs on its schedule)`,
            );
            printLine('fix the cause, then retry:');
            if (f.step === 'backup') printLine(`  ${retryCmd}`);
            printLine(`  ${drillCmd}`);
            printLine('keep the identity on this machine until a drill has passed.');
            return;
          }
          printLine('proven: the backup restores byte-exact.');
          printLine('');
        }
        printLine(
          'now MOVE THE IDENTITY OFF THIS MACHINE (password manager, offline disk) and delete it here:',
        );
        printLine('  whoever holds it can read every backup; without it no backup can be restored.');
        printLine(
          '  without it this host still backs up and its verify checks the pack hashes over the ciphertext (damaged or missing packs),',
        );
        printLine('  but cannot decrypt or restore; run drills where the identity lives:');
        printLine(`  ${drillCmd.replace(quoteArg(`file:${q.identityFile}`), 'file:/path/to/identity.txt')}`);
        printLine('');
        printLine('next steps:');
        const steps: [string, string][] = [
          ['nightshift daemon', 'runs the schedule (or install it as a service)'],
          ...(proof
            ? []
            : ([[`nightshift cron run ${name} --wait`, 'a first backup now']] as [string, string][])),
          [`nightshift cron runs ${name}`, 'results, with the evidence of each run'],
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
