/** Entry point of the `nightshift` command (bin/nightshift imports this). */
import { runCli } from './program.ts';

// `nightshift cron list | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
