/**
 * `nightshift backup …`: the backup engine's command surface (docs/backup.md). One file per command
 * group under backup/; each turns flags, environment and key files into a call on the app layer
 * (src/app/backups.ts, backup-keys.ts, backup-profiles.ts) and prints the result.
 */
import { setFlagsFromString } from 'node:v8';
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

/**
 * A backup promotes much short-lived state (the files in flight) to V8's old generation, which V8
 * let grow to ~190 MiB of garbage in a no-change backup of 200,000 files before it collected any.
 * Growing the heap by half of what survived each full collection keeps it near its live size:
 * peak RSS of that backup 397 -> 211 MiB, of a first backup of 1 GiB ~295 -> ~250 MiB, for a few
 * percent more CPU. Set when the backup commands are registered: the process is about to run one.
 */
const HEAP_GROWING_PERCENT = 50;

/** Registers `backup` and its subcommands, in the order `backup --help` lists them. */
export function registerBackupCommands(program: CommandUnknownOpts): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
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
