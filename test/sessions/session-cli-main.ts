/**
 * `nightshift session …` on its own, run as a child process by session-cli.test.ts: the same
 * global options and error reporting as the real program, with only the session commands.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { registerSessionCommands } from '../../src/interfaces/cli/session.ts';
import { reportError } from '../../src/interfaces/cli/output.ts';

const argv = process.argv.slice(2);
const program = new Command('nightshift')
  .option('--home <dir>', 'state directory')
  .option('--json', 'machine-readable output')
  .exitOverride();
registerSessionCommands(program);
try {
  await program.parseAsync(argv, { from: 'user' });
  process.exitCode = 0;
} catch (err) {
  process.exitCode = err instanceof CommanderError ? 2 : reportError(err, argv.includes('--json'));
}
