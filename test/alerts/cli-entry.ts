/**
 * `nightshift` for the alert CLI tests, run as a child process: the real program (runCli) once it
 * registers the `alert` commands; until then the same program with them added here, with
 * runCli's error handling (stderr text and exit codes via reportError).
 */
import { CommanderError } from '@commander-js/extra-typings';
import type { Command } from '@commander-js/extra-typings';
import { buildProgram, runCli } from '../../src/interfaces/cli/program.ts';
import { registerAlertCommands } from '../../src/interfaces/cli/alert.ts';
import { reportError } from '../../src/interfaces/cli/output.ts';
import { EXIT } from '../../src/domain/errors.ts';

async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  if (program.commands.some((c) => c.name() === 'alert')) return runCli(argv);
  registerAlertCommands(program);
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) configure(sub as Command);
  };
  configure(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(err, argv.includes('--json'));
  }
}

process.exitCode = await main(process.argv.slice(2));
