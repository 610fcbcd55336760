/** `backup run`: back up files and directories, or standard input, into a new snapshot. */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { BackupWarning } from '../../../backup/archiver.ts';
import { runBackup, type BackupNowInput, type BackupNowResult } from '../../../app/backups.ts';
import { EXIT, UserError } from '../../../domain/errors.ts';
import { isRemoteLocation } from '../../../domain/repository-location.ts';
import { parseRate } from '../../../domain/size.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';
import { addRepoFlags, collect, repositoryRef } from './flags.ts';
import { interruptible, reporting } from './long-work.ts';
import { shortId } from './print.ts';

export function registerRunCommand(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('run')
      .description('back up files and directories (or --stdin) into a new snapshot')
      .argument('[paths...]', 'files and directories to back up')
      .option('-e, --exclude <glob>', 'leave out matching paths (repeatable)', collect)
      .option('--exclude-file <file>', 'read exclude patterns from a file, one a line (repeatable)', collect)
      .option(
        '--exclude-if-present <name>',
        'leave out directories holding a file of this name (repeatable)',
        collect,
      )
      .option('-x, --one-file-system', 'do not cross into other filesystems')
      .option('--tag <tag>', 'tag the snapshot (repeatable)', collect)
      .option('--host <name>', 'host name recorded on the snapshot (default: this host)')
      .option('--stdin', 'back up standard input as one file')
      .option('--stdin-name <name>', 'file name for --stdin')
      .option(
        '--limit-upload <rate>',
        'at most this many bytes per second to a remote repository (2MiB/s, 500K)',
      ),
  ).action(async (paths, flags, cmd) => {
    if (flags.stdin && paths.length > 0)
      throw new UserError('give either paths or --stdin, not both', {
        hint: 'e.g. `pg_dump db | nightshift backup run --stdin --stdin-name db.sql`',
      });
    if (!flags.stdin && paths.length === 0)
      throw new UserError('no paths to back up', {
        hint: 'name files or directories, or pass --stdin --stdin-name NAME',
      });
    if (flags.stdin && !flags.stdinName)
      throw new UserError('--stdin needs --stdin-name NAME', {
        hint: 'the name the stream gets in the snapshot, e.g. db.sql',
      });
    if (!flags.stdin && flags.stdinName) throw new UserError('--stdin-name only goes with --stdin');
    for (const f of flags.excludeFile ?? [])
      if (!existsSync(f))
        throw new UserError(`exclude file ${f} does not exist`, { hint: 'check the --exclude-file path' });
    if (flags.host !== undefined && flags.host.trim() === '') throw new UserError('--host must not be empty');
    for (const t of flags.tag ?? [])
      if (t.trim() === '' || t.includes(','))
        throw new UserError(`invalid --tag "${t}"`, { hint: 'tags are non-empty and have no commas' });

    const ref = await repositoryRef(cmd, flags);
    if (flags.limitUpload !== undefined) {
      const rate = parseRate(flags.limitUpload, '--limit-upload');
      if (!isRemoteLocation(ref.location))
        throw new UserError('--limit-upload applies to remote repositories only', {
          hint: `${ref.location} is a local directory; drop --limit-upload, or back up to s3:... or sftp:...`,
        });
      ref.remote = { ...ref.remote, limitUploadBytesPerSec: rate };
    }
    const json = globalOptions(cmd).json;
    const { progress, warnings, onProgress, onWarning } = reporting<BackupWarning>(json);
    const input: BackupNowInput = {
      host: flags.host ?? hostname(),
      tags: flags.tag ?? [],
      onProgress,
      onWarning,
    };
    if (flags.stdin) input.stdin = { stream: process.stdin, name: flags.stdinName! };
    else {
      input.paths = paths;
      if (flags.exclude) input.excludes = flags.exclude;
      if (flags.excludeFile) input.excludeFiles = flags.excludeFile;
      if (flags.excludeIfPresent) input.excludeIfPresent = flags.excludeIfPresent;
      if (flags.oneFileSystem) input.oneFileSystem = true;
    }
    let result: BackupNowResult;
    try {
      result = await interruptible(
        (signal) => runBackup(ref, { ...input, signal }),
        'backup interrupted: no snapshot was written',
        'run it again; data already stored is reused',
      );
    } finally {
      progress.done();
    }
    const { snapshot, stats, parent } = result;
    if (json) {
      printJson({
        snapshotId: snapshot.id,
        time: snapshot.time,
        hostname: snapshot.hostname,
        paths: snapshot.paths,
        tags: snapshot.tags,
        ...(parent ? { parent: parent.id } : {}),
        stats,
        warnings: warnings.map((w) => ({ path: w.path, message: w.message, kind: w.kind })),
      });
    } else {
      printLine(
        `snapshot ${shortId(snapshot.id)} saved: ${stats.files} files, ${stats.dirs} dirs, ` +
          `${formatBytes(stats.bytesTotal ?? stats.bytesRead)} (${formatBytes(stats.bytesRead)} read, ` +
          `${formatBytes(stats.bytesNew)} new, ${formatBytes(stats.bytesStored ?? 0)} stored) in ${(stats.durationMs / 1000).toFixed(1)}s`,
      );
    }
    const skipped = warnings.filter((w) => w.kind === 'error').length;
    if (skipped > 0)
      throw new UserError(
        `${skipped} path${skipped === 1 ? '' : 's'} could not be read and ${skipped === 1 ? 'is' : 'are'} missing from snapshot ${shortId(snapshot.id)}`,
        {
          hint: 'see the warnings above; fix permissions or exclude the paths',
          exitCode: EXIT.failed,
          code: 'incomplete',
        },
      );
  });
}
