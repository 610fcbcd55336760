/** `backup stats`: what the repository holds and what it costs on disk. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { repositoryStats } from '../../../app/backups.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';
import { addRepoFlags, repositoryRef } from './flags.ts';

export function registerStatsCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group.command('stats').description('what the repository holds and what it costs on disk'),
  ).action(async (flags, cmd) => {
    const st = await repositoryStats(await repositoryRef(cmd, flags));
    if (globalOptions(cmd).json) {
      printJson(st);
      return;
    }
    printLine(`snapshots:          ${st.snapshots}`);
    printLine(`data read by them:  ${formatBytes(st.snapshotBytes)}`);
    printLine(
      `unique data:        ${formatBytes(st.uniqueBytes)} in ${st.blobs} blobs (${st.dataBlobs} data, ${st.treeBlobs} tree)`,
    );
    printLine(
      `stored:             ${formatBytes(st.storedBytes)} (compression ${st.compressionRatio.toFixed(2)}x)`,
    );
    printLine(
      `repository files:   ${formatBytes(st.totalFileBytes)} (${st.packs} packs, ${st.indexFiles} index files)`,
    );
  });
}
