/** `backup check`: verify the repository; exit 1 when a problem is found. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { checkRepository } from '../../../app/backups.ts';
import { EXIT, UserError } from '../../../domain/errors.ts';
import { globalOptions } from '../context.ts';
import { printJson } from '../output.ts';
import { addRepoFlags, repositoryRef } from './flags.ts';
import { printCheck } from './print.ts';

export function registerCheckCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('check')
      .description('verify the repository; exit 1 when a problem is found')
      .option('--read-data', 'also decrypt and verify every blob')
      .option('--read-data-subset <percent>', 'decrypt and verify a random sample of packs, e.g. 10%'),
  ).action(async (flags, cmd) => {
    let readData: boolean | { subsetPercent: number } = flags.readData === true;
    if (flags.readDataSubset !== undefined) {
      if (flags.readData) throw new UserError('give --read-data or --read-data-subset, not both');
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(flags.readDataSubset.trim());
      const pct = m ? Number(m[1]) : NaN;
      if (!(pct > 0 && pct <= 100))
        throw new UserError(`invalid --read-data-subset "${flags.readDataSubset}"`, {
          hint: 'pass a percentage above 0 and at most 100, e.g. --read-data-subset 10%',
        });
      readData = { subsetPercent: pct };
    }
    const report = await checkRepository(await repositoryRef(cmd, flags), readData);
    if (globalOptions(cmd).json) printJson(report);
    else printCheck(report);
    if (!report.ok)
      throw new UserError(
        `check found ${report.errors.length} problem${report.errors.length === 1 ? '' : 's'}`,
        {
          hint: 'see the list above; `nightshift backup prune` cannot repair missing or damaged data',
          exitCode: EXIT.failed,
          code: 'damaged',
        },
      );
  });
}
