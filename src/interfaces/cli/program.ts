/**
 * The `nightshift` program: global options, the command tree, and the one place where errors
 * become stderr text and exit codes (documented in docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { EXIT } from '../../domain/errors.ts';
import { reportError } from './output.ts';
import { registerCronCommands } from './cron.ts';
import { registerDaemonCommand } from './daemon.ts';
import { registerMcpCommand } from './mcp.ts';
import { registerSessionCommands } from './session.ts';
import { registerAlertCommands } from './alert.ts';
import { registerImportCommands } from './import.ts';
import { registerServiceCommands } from './service.ts';
import { registerStatusCommand } from './status.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerJobFileCommands } from './job-files.ts';
import { registerCostCommand } from './cost.ts';
import { registerStoreCommands } from './store.ts';

/** The version from package.json, found upward from this module (source tree or the bundle in dist/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'nightshift') return pkg.version ?? '0.0.0';
    } catch {
      // no package.json here: keep climbing
    }
    const up = dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

/** The first command word in argv (skipping global options and --home's value). */
function firstCommand(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--home' || a === '--store') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * The backup commands load a large module tree; they are registered only when the command line
 * may need them (a backup command, or the top-level help that lists every command).
 */
async function registerBackup(program: Command, argv: string[]): Promise<void> {
  const first = firstCommand(argv);
  if (first !== undefined && first !== 'backup' && first !== 'help') return;
  const { registerBackupCommands } = await import('./backup.ts');
  registerBackupCommands(program);
}

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const version = packageVersion();
  const program = new Command('nightshift')
    .description('scheduler daemon and CLI for AI-agent hosts: jobs that prove they ran')
    .version(version, '-V, --version', 'print the version')
    .option('--home <dir>', 'state directory (default: $NIGHTSHIFT_HOME, else ~/.nightshift)')
    .option(
      '--store <url>',
      'store: postgres://USER@HOST:PORT/DB[?schema=NAME] for several daemons on one database, or sqlite:PATH (default: $NIGHTSHIFT_STORE, "store" in config.json, else the home\'s SQLite file)',
    )
    .option('--json', 'machine-readable output (JSON on stdout, errors as JSON on stderr)')
    .showSuggestionAfterError(true)
    .exitOverride();
  registerCronCommands(program);
  registerDaemonCommand(program, version);
  registerMcpCommand(program);
  registerSessionCommands(program);
  registerAlertCommands(program);
  registerImportCommands(program);
  registerStatusCommand(program);
  registerServiceCommands(program);
  registerDoctorCommand(program, version);
  registerJobFileCommands(program);
  registerCostCommand(program);
  registerStoreCommands(program);
  await registerBackup(program, argv);
  // Every subcommand: errors come back here instead of exiting, and usage errors point to --help.
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.showSuggestionAfterError(true);
    for (const sub of cmd.commands) configure(sub as Command);
  };
  configure(program);
  return program;
}

/** Parses argv (without node and script), runs the command, returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  let program: Command;
  try {
    program = await buildProgram(argv);
  } catch (err) {
    return reportError(err, json);
  }
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    // A command that decides its own exit status (`cron run --wait`) sets process.exitCode.
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed') return EXIT.ok;
      // A command group without its subcommand (`nightshift cron`): the help was shown on stderr.
      if (err.code === 'commander.help') return EXIT.usage;
      process.stderr.write(`  hint: ${usageHint(program, argv)}\n`);
      return EXIT.usage;
    }
    return reportError(err, json);
  }
}

/** Points at the help of the deepest command argv names correctly. */
function usageHint(program: Command, argv: string[]): string {
  const path: string[] = [];
  let cmd = program as Command;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--home' || word === '--store') i++;
    if (word.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word)) as
      Command | undefined;
    if (!sub) break;
    path.push(sub.name());
    cmd = sub;
  }
  return `run \`nightshift ${[...path, '--help'].join(' ')}\` for usage`;
}
