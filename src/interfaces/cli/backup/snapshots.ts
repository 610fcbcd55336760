/** `backup snapshots`: list snapshots, oldest first. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { listSnapshots } from '../../../app/backups.ts';
import { globalOptions } from '../context.ts';
import { renderTable } from '../render.ts';
import { printJson, printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';
import { addRepoFlags, collect, repositoryRef } from './flags.ts';
import { localStamp, pathsText, shortId } from './print.ts';

export function registerSnapshotsCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('snapshots')
      .description('list snapshots, oldest first')
      .option('--host <name>', 'only this host (repeatable)', collect)
      .option('--tag <tag>', 'only snapshots with the tag (a,b: with both; repeatable: any)', collect)
      .option('--path <path>', 'only snapshots including the path (repeatable)', collect),
  ).action(async (flags, cmd) => {
    const list = await listSnapshots(await repositoryRef(cmd, flags), flags);
    if (globalOptions(cmd).json) {
      printJson(list);
      return;
    }
    if (list.length === 0) {
      printLine('no snapshots');
      return;
    }
    printLine(
      renderTable(
        ['ID', 'TIME', 'HOST', 'TAGS', 'SIZE', 'PATHS'],
        list.map((s) => [
          shortId(s.id),
          localStamp(s.time),
          s.hostname,
          s.tags.join(','),
          s.summary ? formatBytes(s.summary.bytesTotal ?? s.summary.bytesRead) : '',
          pathsText(s),
        ]),
      ),
    );
    printLine(`${list.length} snapshot${list.length === 1 ? '' : 's'}`);
  });
}
