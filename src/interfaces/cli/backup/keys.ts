/** `backup keys list|add|remove`: the passwords of a passphrase repository. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { addRepositoryKey, listRepositoryKeys, removeRepositoryKey } from '../../../app/backup-keys.ts';
import { UserError } from '../../../domain/errors.ts';
import { globalOptions } from '../context.ts';
import { renderTable } from '../render.ts';
import { printJson, printLine } from '../output.ts';
import { addRepoFlags, readPassword, repositoryRef } from './flags.ts';
import { localStamp, shortId } from './print.ts';

export function registerKeysCommands(group: CommandUnknownOpts): void {
  const keys = group.command('keys').description('manage the passwords of a passphrase repository');
  addRepoFlags(keys.command('list').description('list key files (the one in use is marked)')).action(
    async (flags, cmd) => {
      const list = await listRepositoryKeys(await repositoryRef(cmd, flags));
      if (globalOptions(cmd).json) {
        printJson(list);
        return;
      }
      printLine(
        renderTable(
          ['', 'ID', 'KIND', 'CREATED', 'HOST', 'USER'],
          list.map((k) => [
            k.current ? '*' : '',
            shortId(k.id),
            k.kind,
            k.created ? localStamp(k.created) : '',
            k.hostname ?? '',
            k.username ?? '',
          ]),
        ),
      );
    },
  );
  addRepoFlags(
    keys
      .command('add')
      .description('add a password; the new one is read from --new-password-file or $NIGHTSHIFT_NEW_PASSWORD')
      .option('--new-password-file <file>', 'file holding the new password'),
  ).action(async (flags, cmd) => {
    const newPassword = readPassword(
      { passwordFile: flags.newPasswordFile },
      { NIGHTSHIFT_PASSWORD: process.env.NIGHTSHIFT_NEW_PASSWORD },
    );
    if (newPassword === undefined)
      throw new UserError('keys add needs the new password', {
        hint: 'pass --new-password-file FILE or set NIGHTSHIFT_NEW_PASSWORD',
      });
    const k = await addRepositoryKey(await repositoryRef(cmd, flags), newPassword);
    if (globalOptions(cmd).json) printJson(k);
    else printLine(`added key ${shortId(k.id)}`);
  });
  addRepoFlags(
    keys
      .command('remove')
      .description('remove a password key (not the last one, not the one in use)')
      .argument('<id>', 'key id or unique prefix (see keys list)'),
  ).action(async (id, flags, cmd) => {
    const k = await removeRepositoryKey(await repositoryRef(cmd, flags), id);
    if (globalOptions(cmd).json) printJson(k);
    else printLine(`removed key ${shortId(k.id)}`);
  });
}
