/** `backup restore` (into a directory) and `backup dump` (a tar stream on stdout). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { dumpSnapshot, restoreSnapshot } from '../../../app/backups.ts';
import { keptReason } from '../../../backup/restorer.ts';
import { EXIT, UserError } from '../../../domain/errors.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';
import { addRepoFlags, collect, repositoryRef } from './flags.ts';
import { interruptible, reporting } from './long-work.ts';
import { shortId } from './print.ts';

export function registerRestoreCommands(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('restore')
      .description('restore a snapshot into a directory (never writes outside it)')
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .option('-t, --target <dir>', 'directory to restore into (created if missing)')
      .option('--include <glob>', 'restore only matching paths (repeatable)', collect)
      .option('--exclude <glob>', 'leave out matching paths (repeatable)', collect)
      .option('--verify', 'read the restored files back and compare them with the snapshot')
      .option('--overwrite <policy>', 'existing files: always, if-changed (default) or never'),
  ).action(async (snap, flags, cmd) => {
    if (!flags.target)
      throw new UserError('restore needs --target DIR', { hint: 'e.g. --target /tmp/restore' });
    const overwrite = flags.overwrite ?? 'if-changed';
    if (overwrite !== 'always' && overwrite !== 'if-changed' && overwrite !== 'never')
      throw new UserError(`invalid --overwrite "${overwrite}"`, { hint: 'use always, if-changed or never' });
    const ref = await repositoryRef(cmd, flags);
    const json = globalOptions(cmd).json;
    const { progress, warnings, onProgress, onWarning } = reporting(json);
    let result;
    try {
      result = await interruptible(
        (signal) =>
          restoreSnapshot(ref, snap, {
            target: flags.target!,
            ...(flags.include ? { include: flags.include } : {}),
            ...(flags.exclude ? { exclude: flags.exclude } : {}),
            verify: flags.verify === true,
            overwrite,
            signal,
            onProgress,
            onWarning,
          }),
        'restore interrupted: the target holds a partial restore',
        'run it again; files already restored are skipped',
      );
    } finally {
      progress.done();
    }
    const { snapshot, target, stats } = result;
    // Files kept by the overwrite policy are counted apart from those written, with the reason.
    const kept = stats.skipped > 0 ? { count: stats.skipped, reason: keptReason(overwrite) } : undefined;
    if (json)
      printJson({
        snapshotId: snapshot.id,
        target,
        written: stats.filesWritten,
        skipped: kept ?? { count: 0 },
        stats,
        warnings,
      });
    else
      printLine(
        `restored snapshot ${shortId(snapshot.id)} to ${target}: ${stats.filesWritten} file${stats.filesWritten === 1 ? '' : 's'} written` +
          (kept ? `, ${kept.count} kept (${kept.reason})` : '') +
          `, ${stats.dirs} dirs, ${formatBytes(stats.bytesTotal)}` +
          (flags.verify ? `, ${stats.verified} verified` : '') +
          ` in ${(stats.durationMs / 1000).toFixed(1)}s`,
      );
    if (warnings.length > 0)
      throw new UserError(
        `${warnings.length} entr${warnings.length === 1 ? 'y' : 'ies'} could not be restored`,
        {
          hint: 'see the warnings above',
          exitCode: EXIT.failed,
          code: 'incomplete',
        },
      );
  });

  addRepoFlags(
    group
      .command('dump')
      .description('write a snapshot (or a path in it) to stdout as a tar stream')
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('[path]', 'path inside the snapshot'),
  ).action(async (snap, path, flags, cmd) => {
    if (process.stdout.isTTY)
      throw new UserError('dump writes a tar stream; refusing to write it to a terminal', {
        hint: 'redirect it: `nightshift backup dump latest > backup.tar` or pipe it into `tar -x`',
      });
    await dumpSnapshot(await repositoryRef(cmd, flags), snap, path, process.stdout, (w) =>
      process.stderr.write(`warning: ${w.path}: ${w.message}\n`),
    );
  });
}
