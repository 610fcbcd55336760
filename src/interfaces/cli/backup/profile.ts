/** `backup profile add|edit|show|list|rm`: named backup settings that jobs run (`--backup NAME`). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import {
  addProfile,
  editProfile,
  listProfiles,
  removeProfile,
  showProfile,
} from '../../../app/backup-profiles.ts';
import type { BackupProfile } from '../../../domain/backup-profile.ts';
import { formatBytes } from '../../../domain/bytes.ts';
import { formatDuration } from '../../../domain/duration.ts';
import type { Job } from '../../../domain/job.ts';
import { describeRetention } from '../../../domain/retention.ts';
import { displayPath } from '../../../app/display-path.ts';
import { globalOptions, withApp } from '../context.ts';
import { printJson, printLine } from '../output.ts';
import { addProfileFlags, profileFromFlags } from './profile-flags.ts';

function printProfile(p: BackupProfile, jobs: Job[]): void {
  printLine(`profile:     ${p.name}`);
  printLine(`repository:  ${p.repository}`);
  if (p.source) printLine(`source:      file ${displayPath(p.source.path)}`);
  const r = p.remote;
  if (r?.s3AccessKeyRef) printLine(`s3 keys:     ${r.s3AccessKeyRef}, ${r.s3SecretKeyRef}`);
  if (r?.sshKeyRef) printLine(`ssh key:     ${r.sshKeyRef}`);
  if (r?.knownHostsFile) printLine(`known hosts: ${r.knownHostsFile}`);
  printLine(
    `key:         ${
      p.key.kind === 'passphrase'
        ? `passphrase from ${p.key.ref}`
        : `recipients (writer key ${p.key.writerKeyFile ?? 'kept in the home'}${p.key.identityRef ? `; identity from ${p.key.identityRef}` : '; this host cannot read the backups'})`
    }`,
  );
  printLine(`paths:       ${p.paths.join(', ') || '(none)'}`);
  for (const src of p.sources ?? [])
    printLine(
      `source:      ${src.name}: ${src.kind} ${src.kind === 'command' ? JSON.stringify(src.target) : src.target}${src.optional ? ' (optional)' : ''}`,
    );
  for (const c of p.copyTo ?? []) printLine(`copy to:     ${c}`);
  if (p.drillQuery) printLine(`drill query: ${p.drillQuery}`);
  if (p.lowPriority) printLine('priority:    low (dump tools nice 19 + ionice idle; worker threads nice 19)');
  if (p.limitUploadBytesPerSec !== undefined)
    printLine(`upload:      at most ${formatBytes(p.limitUploadBytesPerSec)}/s to remote repositories`);
  if (p.excludes.length > 0) printLine(`excludes:    ${p.excludes.join(', ')}`);
  if (p.tags.length > 0) printLine(`tags:        ${p.tags.join(', ')}`);
  printLine(`retention:   ${describeRetention(p.retention)}`);
  printLine(
    `prune:       ${p.pruneEveryMs !== undefined ? `every ${formatDuration(p.pruneEveryMs)}` : 'never (run `backup prune`)'}`,
  );
  printLine(
    `verify:      ${p.verifySubset !== undefined ? `check reading ${p.verifySubset} of packs after each backup` : 'no'}`,
  );
  printLine(
    `min free:    ${p.minFreeBytes !== undefined ? `${p.minFreeBytes} bytes` : 'estimated (1.2 x the largest recent backup)'}`,
  );
  printLine(`used by:     ${jobs.length > 0 ? jobs.map((j) => j.name).join(', ') : 'no job'}`);
}

export function registerProfileCommands(backupCommand: CommandUnknownOpts): void {
  const group = backupCommand
    .command('profile')
    .description('named backup settings that jobs run (--backup NAME)');

  addProfileFlags(
    group.command('add').description('create a backup profile').argument('<name>', 'profile name'),
  ).action(async (name, flags, cmd) => {
    await withApp(cmd, async (app) => {
      const p = await addProfile(app, name, () => profileFromFlags(name, flags, undefined, Date.now()));
      if (globalOptions(cmd).json) printJson(p);
      else
        printLine(
          `created backup profile ${name} (${p.paths.length} path${p.paths.length === 1 ? '' : 's'} -> ${p.repository})`,
        );
    });
  });

  addProfileFlags(
    group
      .command('edit')
      .description('change a backup profile (only the flags given)')
      .argument('<name>', 'profile name'),
  ).action(async (name, flags, cmd) => {
    await withApp(cmd, async (app) => {
      const p = await editProfile(app, name, (prev) => profileFromFlags(name, flags, prev, Date.now()));
      if (globalOptions(cmd).json) printJson(p);
      else printLine(`updated backup profile ${name}`);
      if (p.source)
        process.stderr.write(
          `warning: ${name} is declared in ${displayPath(p.source.path)}; the next \`nightshift apply\` of that file overwrites this change (edit the file instead)\n`,
        );
    });
  });

  group
    .command('show')
    .description('show a backup profile')
    .argument('<name>', 'profile name')
    .action(async (name, _flags, cmd) => {
      await withApp(cmd, async (app) => {
        const { profile, usedBy } = await showProfile(app, name);
        if (globalOptions(cmd).json)
          printJson({ ...profile, usedBy: usedBy.map((j) => ({ id: j.id, name: j.name })) });
        else printProfile(profile, usedBy);
      });
    });

  group
    .command('list')
    .description('list backup profiles')
    .action(async (_flags, cmd) => {
      await withApp(cmd, async (app) => {
        const list = await listProfiles(app);
        if (globalOptions(cmd).json) {
          printJson(list);
          return;
        }
        if (list.length === 0) {
          printLine(
            'no backup profiles (create one with `nightshift backup profile add` or `backup quickstart`)',
          );
          return;
        }
        for (const p of list)
          printLine(
            `${p.name.padEnd(20)} ${p.key.kind.padEnd(10)} ${p.repository}  (${describeRetention(p.retention)})`,
          );
      });
    });

  group
    .command('rm')
    .description('remove a backup profile (refused while a job uses it)')
    .argument('<name>', 'profile name')
    .action(async (name, _flags, cmd) => {
      await withApp(cmd, async (app) => {
        await removeProfile(app, name);
        if (globalOptions(cmd).json) printJson({ removed: name });
        else printLine(`removed backup profile ${name} (the repository and its snapshots are untouched)`);
      });
    });
}
