/** Entry point of the `nightshift` command (bin/nightshift imports this). */
import { deriveBackupKeyAhead } from './backup/key-ahead.ts';

// Before the rest of the CLI loads: a backup command's key derivation runs meanwhile.
deriveBackupKeyAhead(process.argv.slice(2));
const { runCli } = await import('./program.ts');

// `nightshift cron list | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
