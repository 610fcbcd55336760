/** `backup forget`: remove snapshots by a retention policy (restic semantics; docs/backup.md). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { checkForgetPolicy, forget } from '../../../app/backups.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { addRepoFlags, collect, parseGroupBy, policyFromFlags, repositoryRef } from './flags.ts';
import { localStamp, printPrune, shortId } from './print.ts';

export function registerForgetCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('forget')
      .description('remove snapshots by a retention policy (restic semantics; see docs/backup.md)')
      .option('--keep-last <n>', 'keep the n newest snapshots')
      .option('--keep-hourly <n>', 'keep the newest snapshot of each of the n newest hours that have one')
      .option('--keep-daily <n>', '… days')
      .option('--keep-weekly <n>', '… ISO weeks')
      .option('--keep-monthly <n>', '… months')
      .option('--keep-yearly <n>', '… years')
      .option('--keep-within <span>', 'keep snapshots within span of the newest one (y, m = months, w, d, h)')
      .option('--keep-within-hourly <span>', 'within span, the newest of each hour')
      .option('--keep-within-daily <span>', 'within span, the newest of each day')
      .option('--keep-within-weekly <span>', 'within span, the newest of each week')
      .option('--keep-within-monthly <span>', 'within span, the newest of each month')
      .option('--keep-within-yearly <span>', 'within span, the newest of each year')
      .option('--keep-tag <tag>', 'keep snapshots with the tag (a,b: with both; repeatable: any)', collect)
      .option('--group-by <fields>', 'judge groups separately: host,paths,tags or "" (default host,paths)')
      .option('--host <name>', 'only consider this host (repeatable)', collect)
      .option('--tag <tag>', 'only consider snapshots with the tag (repeatable)', collect)
      .option('--path <path>', 'only consider snapshots including the path (repeatable)', collect)
      .option('-n, --dry-run', 'print what would be kept and removed, and why; change nothing')
      .option('--prune', 'prune right after, to free the space'),
  ).action(async (flags, cmd) => {
    const policy = policyFromFlags(flags);
    const groupBy = parseGroupBy(flags.groupBy);
    // Before the repository is touched.
    checkForgetPolicy(policy, groupBy);
    const json = globalOptions(cmd).json;
    const r = await forget(await repositoryRef(cmd, flags), {
      policy,
      groupBy,
      filter: flags,
      dryRun: flags.dryRun === true,
      prune: flags.prune === true,
    });
    if (r.groupedWithoutPaths && !json)
      process.stderr.write(
        'note: snapshot paths are encrypted to the recipients; grouping without paths (pass --identity to group by paths)\n',
      );
    if (json) {
      printJson({
        dryRun: flags.dryRun === true,
        groups: r.plan.groups.map((g) => ({
          key: g.key,
          ...(g.hostname !== undefined ? { hostname: g.hostname } : {}),
          ...(g.paths !== undefined ? { paths: g.paths } : {}),
          ...(g.tags !== undefined ? { tags: g.tags } : {}),
          keep: g.keep.map((k) => ({ id: k.snapshot.id, time: k.snapshot.time, reasons: k.reasons })),
          remove: g.remove.map((x) => ({ id: x.snapshot.id, time: x.snapshot.time, reason: x.reason })),
        })),
        removed: r.removed,
        ...(r.prune !== undefined ? { prune: r.prune } : {}),
      });
      return;
    }
    for (const g of r.plan.groups) {
      printLine(`${g.key || 'all snapshots'}: keep ${g.keep.length}, remove ${g.remove.length}`);
      const rows = [
        ...g.keep.map((k) => ({ s: k.snapshot, line: ['keep', k.reasons.join(', ')] })),
        ...g.remove.map((x) => ({ s: x.snapshot, line: ['remove', x.reason] })),
      ].sort((a, b) => b.s.time.localeCompare(a.s.time) || a.s.id.localeCompare(b.s.id));
      for (const row of rows)
        printLine(
          `  ${row.line[0]!.padEnd(6)}  ${shortId(row.s.id)}  ${localStamp(row.s.time)}  ${row.line[1]}`,
        );
    }
    if (flags.dryRun)
      printLine(
        `dry run: ${r.removeIds.length} snapshot${r.removeIds.length === 1 ? '' : 's'} would be removed`,
      );
    else printLine(`removed ${r.removed.length} snapshot${r.removed.length === 1 ? '' : 's'}`);
    if (r.prune !== undefined) printPrune(r.prune);
  });
}
