/** `backup restore-source` (a database, git or command source of a snapshot) and `backup copy`. */
import { readFileSync } from 'node:fs';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { copyBetween, restoreSourceOf } from '../../../app/backups.ts';
import { readIdentityFile } from '../../../backup/keys.ts';
import { UserError } from '../../../domain/errors.ts';
import { parseRate } from '../../../domain/size.ts';
import { openHome } from '../../../config/home.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { formatBytes } from '../progress.ts';
import { addRepoFlags, collect, readPassword, repositoryRef } from './flags.ts';
import { shortId } from './print.ts';

export function registerSourceCommands(group: CommandUnknownOpts): void {
  addRepoFlags(
    group
      .command('restore-source')
      .description(
        'restore a database, git or command source of a snapshot (pg_restore, mariadb, git clone, a file), or write it to stdout',
      )
      .argument('<snapshot>', 'snapshot id, unique prefix, or latest')
      .argument('<name>', 'the source name (see `backup ls SNAPSHOT /databases`)')
      .option('--into <target>', 'database name or URL, file, or directory to restore into (default: stdout)')
      .option('--db-password-file <file>', 'database password for pg_restore / mariadb, read from this file'),
  ).action(async (snap, name, flags, cmd) => {
    if (flags.into === undefined && process.stdout.isTTY)
      throw new UserError('refusing to write a dump to a terminal', {
        hint: 'pass --into DB|FILE|DIR, or redirect: `nightshift backup restore-source latest erp > erp.dump`',
      });
    const password =
      flags.dbPasswordFile !== undefined
        ? readFileSync(flags.dbPasswordFile, 'utf8').replace(/\r?\n$/, '')
        : undefined;
    const done = await restoreSourceOf(await repositoryRef(cmd, flags), snap, name, {
      ...(flags.into !== undefined ? { into: flags.into } : {}),
      ...(password !== undefined ? { password } : {}),
    });
    process.stderr.write(`${done}\n`);
  });

  group
    .command('copy')
    .description('copy snapshots to another repository (re-encrypted, deduplicated at the destination)')
    .argument('[snapshots...]', 'snapshot ids or prefixes (default: all)')
    .requiredOption('--from <location>', 'source repository')
    .requiredOption('--to <location>', 'destination repository (created with `backup init` first)')
    .option(
      '--from-password-file <file>',
      'source password (else $NIGHTSHIFT_FROM_PASSWORD, else the destination password)',
    )
    .option('--password-file <file>', 'destination password (else $NIGHTSHIFT_PASSWORD)')
    .option(
      '-i, --identity <file>',
      'age identity to read a recipients source repository (repeatable)',
      collect,
    )
    .option(
      '--limit-upload <rate>',
      'at most this many bytes per second to a remote destination (2MiB/s, 500K)',
    )
    .action(async (ids, flags, cmd) => {
      const g = globalOptions(cmd);
      const home = openHome(g.home);
      const toPw = readPassword(flags.passwordFile !== undefined ? { passwordFile: flags.passwordFile } : {});
      const fromPw =
        flags.fromPasswordFile !== undefined
          ? readPassword({ passwordFile: flags.fromPasswordFile })
          : process.env.NIGHTSHIFT_FROM_PASSWORD || toPw;
      const identities: string[] = [];
      for (const f of flags.identity ?? []) identities.push(...(await readIdentityFile(f)));
      const result = await copyBetween(
        {
          homeDir: home.dir,
          location: flags.from,
          keys: { identities, ...(fromPw !== undefined ? { password: fromPw } : {}) },
        },
        {
          homeDir: home.dir,
          location: flags.to,
          keys: toPw !== undefined ? { password: toPw } : {},
          ...(flags.limitUpload !== undefined
            ? { remote: { limitUploadBytesPerSec: parseRate(flags.limitUpload, '--limit-upload') } }
            : {}),
        },
        ids,
      );
      if (g.json) {
        printJson(result);
        return;
      }
      for (const c of result.copied) printLine(`copied snapshot ${shortId(c.from)} -> ${shortId(c.to)}`);
      for (const s of result.skipped) printLine(`snapshot ${shortId(s)} is already in ${flags.to}`);
      printLine(
        `${result.copied.length} copied, ${result.skipped.length} already there; ${result.blobsNew} new blobs (${formatBytes(result.bytesNew)}) at the destination`,
      );
    });
}
