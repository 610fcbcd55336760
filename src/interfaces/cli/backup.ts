/**
 * `nightshift backup …`: the backup engine's command surface (docs/backup.md). One file per command
 * group under backup/; each turns flags, environment and key files into a call on the app layer
 * (src/app/backups.ts, backup-keys.ts, backup-profiles.ts) and prints the result.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { registerBrowseCommands } from './backup/browse.ts';
import { registerCheckCommand } from './backup/check.ts';
import { registerDrillCommand } from './backup/drill.ts';
import { registerForgetCommand } from './backup/forget.ts';
import { registerInitCommands } from './backup/init.ts';
import { registerKeysCommands } from './backup/keys.ts';
import { registerProfileCommands } from './backup/profile.ts';
import { registerPruneCommand } from './backup/prune.ts';
import { registerQuickstartCommand } from './backup/quickstart.ts';
import { registerRestoreCommands } from './backup/restore.ts';
import { registerRunCommand } from './backup/run.ts';
import { registerSnapshotsCommand } from './backup/snapshots.ts';
import { registerSourceCommands } from './backup/sources.ts';
import { registerStatsCommand } from './backup/stats.ts';
import { registerUnlockCommand } from './backup/unlock.ts';

/** Registers `backup` and its subcommands, in the order `backup --help` lists them. */
export function registerBackupCommands(program: CommandUnknownOpts): void {
  const group = program.command('backup').description('encrypted, deduplicated backups (see docs/backup.md)');
  registerProfileCommands(group);
  registerQuickstartCommand(group);
  registerInitCommands(group);
  registerRunCommand(group);
  registerSnapshotsCommand(group);
  registerForgetCommand(group);
  registerBrowseCommands(group);
  registerRestoreCommands(group);
  registerSourceCommands(group);
  registerCheckCommand(group);
  registerDrillCommand(group);
  registerUnlockCommand(group);
  registerPruneCommand(group);
  registerStatsCommand(group);
  registerKeysCommands(group);
}
