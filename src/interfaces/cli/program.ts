/**
 * The `nightshift` program: global options, the command tree, and the one place where errors
 * become stderr text and exit codes (documented in docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { EXIT } from '../../domain/errors.ts';
import { firstCommand } from './command-words.ts';
import { reportError } from './output.ts';

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

type Register = (program: Command, version: string) => void;

/**
 * The command groups, in the order the help lists them, each with the words it adds and its module.
 * A command loads only its own group's modules: loading all of them (the config schemas, the
 * HTTP server, the MCP SDK, ...) cost every `nightshift` call ~0.4 s before it did anything.
 */
const GROUPS: { words: string[]; load: () => Promise<Register> }[] = [
  { words: ['cron'], load: async () => (await import('./cron.ts')).registerCronCommands },
  { words: ['daemon'], load: async () => (await import('./daemon.ts')).registerDaemonCommand },
  { words: ['mcp'], load: async () => (await import('./mcp.ts')).registerMcpCommand },
  { words: ['session'], load: async () => (await import('./session.ts')).registerSessionCommands },
  { words: ['alert'], load: async () => (await import('./alert.ts')).registerAlertCommands },
  { words: ['import'], load: async () => (await import('./import.ts')).registerImportCommands },
  { words: ['status'], load: async () => (await import('./status.ts')).registerStatusCommand },
  { words: ['service'], load: async () => (await import('./service.ts')).registerServiceCommands },
  { words: ['doctor'], load: async () => (await import('./doctor.ts')).registerDoctorCommand },
  {
    words: ['apply', 'render', 'export', 'schema'],
    load: async () => (await import('./job-files.ts')).registerJobFileCommands,
  },
  { words: ['cost'], load: async () => (await import('./cost.ts')).registerCostCommand },
  { words: ['store'], load: async () => (await import('./store.ts')).registerStoreCommands },
  { words: ['backup'], load: async () => (await import('./backup.ts')).registerBackupCommands },
];

/**
 * Registers the group the command line names, or every group when it names none of them (the
 * top-level help, `help`, or a mistyped command, which then gets its suggestion).
 */
async function registerCommands(program: Command, version: string, argv: string[]): Promise<void> {
  const first = firstCommand(argv);
  if (first === undefined && (argv.includes('--version') || argv.includes('-V'))) return;
  const named = GROUPS.filter((g) => first !== undefined && g.words.includes(first));
  const groups = named.length > 0 ? named : GROUPS;
  const registers = await Promise.all(groups.map((g) => g.load()));
  for (const register of registers) register(program, version);
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
  await registerCommands(program, version, argv);
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
