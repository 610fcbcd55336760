/**
 * `nightshift store migrate --from sqlite:PATH --to postgres://...`: moves a home's jobs, runs,
 * backup profiles and sessions to PostgreSQL in one transaction, and prints what was copied
 * (src/app/store-migrate.ts).
 */
import type { Command } from '@commander-js/extra-typings';
import { openHome } from '../../config/home.ts';
import { migrateStore } from '../../app/store-migrate.ts';
import type { StoreCounts } from '../../app/store-migrate.ts';
import { globalOptions } from './context.ts';
import { renderTable } from './render.ts';
import { printJson, printLine } from './output.ts';

const LABELS: Record<keyof StoreCounts, string> = {
  jobs: 'jobs',
  runs: 'runs',
  backupProfiles: 'backup profiles',
  sessions: 'sessions',
  sessionMessages: 'session messages',
  inbox: 'inbox items',
  alertState: 'alert states',
};

export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('the store itself: move a home to PostgreSQL');
  store
    .command('migrate')
    .description(
      'copy everything a SQLite home holds (jobs, runs, backup profiles, sessions) into PostgreSQL, in one transaction, and verify the counts',
    )
    .requiredOption('--from <store>', "the source: sqlite:PATH (a home's nightshift.db)")
    .requiredOption('--to <url>', 'the target: postgres://USER@HOST:PORT/DATABASE[?schema=NAME]')
    .option('--replace', 'delete what the target already holds (refused otherwise)')
    .addHelpText(
      'after',
      "\nStop the home's daemon first. The target's schema is created if needed; a target with rows is\n" +
        'refused unless --replace, one with a running daemon always. Runs still `running` in the\n' +
        'source arrive `interrupted`. Afterwards start daemons with --store URL (docs/cluster.md).',
    )
    .action(async (opts, cmd) => {
      const { json, home } = globalOptions(cmd);
      const result = await migrateStore({
        from: opts.from,
        to: opts.to,
        replace: opts.replace === true,
        home: openHome(home, process.env),
        env: process.env,
        nowMs: Date.now(),
      });
      if (json) {
        printJson(result);
        return;
      }
      printLine(
        `copied ${result.from} to ${result.to}${result.replaced ? ' (its previous rows deleted)' : ''}:`,
      );
      printLine(
        renderTable(
          ['WHAT', 'SOURCE', 'TARGET'],
          (Object.keys(LABELS) as Array<keyof StoreCounts>).map((k) => [
            LABELS[k],
            String(result.source[k]),
            String(result.target[k]),
          ]),
        ),
      );
      if (result.interrupted > 0)
        printLine(`${result.interrupted} run(s) still running in the source were recorded interrupted`);
      printLine(`counts verified; start the daemons with --store ${result.to}`);
    });
}
