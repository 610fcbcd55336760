/** `backup prune`: delete data no snapshot refers to; repack partly used packs. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { pruneRepository } from '../../../app/backups.ts';
import { UserError } from '../../../domain/errors.ts';
import { globalOptions } from '../context.ts';
import { printJson } from '../output.ts';
import { addRepoFlags, repositoryRef } from './flags.ts';
import { printPrune } from './print.ts';

export function registerPruneCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('prune')
      .description('delete data no snapshot refers to; repack partly used packs')
      .option('-n, --dry-run', 'report what would be freed; change nothing')
      .option(
        '--repack-threshold <percent>',
        'repack a pack when more than this share of it is unused (default 20%)',
      ),
  ).action(async (flags, cmd) => {
    let threshold: number | undefined;
    if (flags.repackThreshold !== undefined) {
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(flags.repackThreshold.trim());
      const pct = m ? Number(m[1]) : NaN;
      if (!(pct >= 0 && pct <= 100))
        throw new UserError(`invalid --repack-threshold "${flags.repackThreshold}"`, {
          hint: 'a percentage from 0 to 100, e.g. 20%',
        });
      threshold = pct / 100;
    }
    const report = await pruneRepository(await repositoryRef(cmd, flags), {
      dryRun: flags.dryRun === true,
      ...(threshold !== undefined ? { repackThreshold: threshold } : {}),
    });
    if (globalOptions(cmd).json) printJson(report);
    else printPrune(report);
  });
}
