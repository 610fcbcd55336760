/** `backup unlock`: remove stale locks. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { unlockRepository } from '../../../app/backups.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { addRepoFlags, repositoryLocation } from './flags.ts';

export function registerUnlockCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('unlock')
      .description('remove stale locks (of dead processes, or not refreshed for 30 minutes)')
      .option(
        '--remove-all',
        'remove every lock: only when you know no nightshift process uses the repository',
      ),
  ).action(async (flags, cmd) => {
    const g = globalOptions(cmd);
    const res = await unlockRepository(await repositoryLocation(cmd, flags), {
      removeAll: flags.removeAll === true,
    });
    if (g.json) {
      printJson(res);
      return;
    }
    for (const l of res.removed)
      printLine(
        `removed lock ${l.id.slice(0, 8)} (pid ${l.pid} on ${l.hostname}${l.staleReason ? `, ${l.staleReason}` : ''})`,
      );
    for (const l of res.kept) printLine(`kept live lock ${l.id.slice(0, 8)} (pid ${l.pid} on ${l.hostname})`);
    if (res.removed.length === 0) printLine('no stale locks');
  });
}
