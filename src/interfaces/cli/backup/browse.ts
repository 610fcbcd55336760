/** `backup ls` (a snapshot's files) and `backup diff` (what changed between two snapshots). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { diffSnapshots, listFiles } from '../../../app/backups.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { addRepoFlags, repositoryRef } from './flags.ts';
import { localStamp } from './print.ts';

export function registerBrowseCommands(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('ls')
      .description("list a snapshot's files (under PATH)")
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('[path]', 'path inside the snapshot', '/')
      .option('--no-recursive', 'list only the entries directly under PATH'),
  ).action(async (snap, path, flags, cmd) => {
    const { snapshot, entries } = await listFiles(await repositoryRef(cmd, flags), snap, path, {
      recursive: flags.recursive !== false,
    });
    if (globalOptions(cmd).json) {
      printJson({ snapshotId: snapshot.id, path, entries });
      return;
    }
    for (const e of entries)
      printLine(
        `${e.permissions} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.size).padStart(12)}  ${localStamp(e.mtime)}  ${e.path}${e.linkTarget !== undefined ? ` -> ${e.linkTarget}` : ''}`,
      );
  });

  addRepoFlags(
    group
      .command('diff')
      .description('what changed between two snapshots')
      .argument('<a>', 'older snapshot')
      .argument('<b>', 'newer snapshot'),
  ).action(async (a, b, flags, cmd) => {
    const d = await diffSnapshots(await repositoryRef(cmd, flags), a, b);
    const { changes, summary } = d;
    if (globalOptions(cmd).json) {
      printJson({ a: d.a.id, b: d.b.id, changes, summary });
      return;
    }
    const sign: Record<string, string> = { added: '+', removed: '-', modified: 'M', metadata: 'U' };
    for (const c of changes)
      printLine(
        `${sign[c.change] ?? '?'}  ${c.path}${c.type === 'dir' ? '/' : ''}${c.fields?.length ? `  (${c.fields.join(', ')})` : ''}`,
      );
    printLine(
      `${summary.added} added, ${summary.removed} removed, ${summary.modified} modified, ${summary.metadata} metadata only`,
    );
  });
}
