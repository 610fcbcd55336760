/** `backup init` (a new repository) and `backup keygen` (an age identity for recipients repositories). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { createIdentity, createRepository } from '../../../app/backup-keys.ts';
import { openHome } from '../../../config/home.ts';
import { UserError } from '../../../domain/errors.ts';
import { globalOptions } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { addRepoKeyFlags, collect, readPassword, readRecipientsFile, repoLocation } from './flags.ts';

export function registerInitCommands(group: CommandUnknownOpts): void {
  addRepoKeyFlags(
    group
      .command('init')
      .description(
        'create a repository: passphrase (--password-file / $NIGHTSHIFT_PASSWORD) or --recipient age1…',
      )
      .option('--recipient <age1…>', 'age X25519 recipient data is encrypted to (repeatable)', collect)
      .option('--recipients-file <file>', 'file with one recipient a line'),
  ).action(async (flags, cmd) => {
    const g = globalOptions(cmd);
    const home = openHome(g.home);
    const location = repoLocation(flags);
    const recipients = [
      ...(flags.recipient ?? []),
      ...(flags.recipientsFile ? readRecipientsFile(flags.recipientsFile) : []),
    ];
    if (flags.recipientsFile && recipients.length === 0)
      throw new UserError(`the recipients file ${flags.recipientsFile} holds no recipient`, {
        hint: 'write one age1… recipient a line',
      });
    let password: string | undefined;
    if (recipients.length > 0) {
      if (flags.passwordFile !== undefined || flags.password !== undefined)
        throw new UserError('give either a password or recipients, not both', {
          hint: 'a recipients repository has no password: drop --password-file',
        });
    } else {
      password = readPassword(flags);
      if (password === undefined)
        throw new UserError('init needs a password or at least one recipient', {
          hint: 'pass --password-file FILE (or set NIGHTSHIFT_PASSWORD) for a passphrase repository, or --recipient age1… for a public-key one',
        });
    }
    const created = await createRepository(
      home.dir,
      location,
      recipients.length > 0 ? { recipients } : { password: password! },
    );
    if (g.json) {
      printJson(created);
      return;
    }
    printLine(`created ${created.mode} repository ${created.id} at ${created.location}`);
    if (created.writerKey) {
      printLine(`writer key: ${created.writerKey} (0600)`);
      printLine('  this host can back up and prune with it, but cannot read backups;');
      printLine(
        '  restore, ls, dump and check --read-data need --identity FILE (keep the identity off this host)',
      );
    }
  });

  group
    .command('keygen')
    .description('make an age identity for recipients repositories and print its recipient')
    .requiredOption('--out <file>', 'where to write the identity (created 0600; never overwritten)')
    .action(async (flags, cmd) => {
      const g = globalOptions(cmd);
      const { recipient, identityFile } = await createIdentity(flags.out);
      if (g.json) {
        printJson({ recipient, identityFile });
        return;
      }
      printLine(`recipient: ${recipient}`);
      printLine(`identity written to ${identityFile} (0600)`);
      printLine(
        '  give the recipient to hosts (`backup init --recipient …`); keep the identity OFF those hosts:',
      );
      printLine('  a password manager or an offline machine. Without it no backup can be restored.');
    });
}
