/**
 * Starts a repository's key derivation (backup/kdf.ts) as the process starts, for a backup
 * command that opens a local repository named by --repo (or $NIGHTSHIFT_REPOSITORY) with its
 * password from --password-file (or $NIGHTSHIFT_PASSWORD): scrypt then runs on the libuv pool
 * while the command's code loads. Flags are read as commander will read them; anything this does
 * not understand it leaves alone, and the command reports it as usual.
 *
 * Light on purpose: main.ts loads it before the rest of the CLI.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deriveKeksAhead, passwordOfFile } from '../../../backup/kdf.ts';
import { parseRepositoryLocation } from '../../../domain/repository-location.ts';
import { commandWords } from '../command-words.ts';

/** Subcommands that open the repository with its password first thing. */
const OPENING = new Set([
  'run',
  'snapshots',
  'forget',
  'ls',
  'diff',
  'restore',
  'dump',
  'restore-source',
  'copy',
  'check',
  'prune',
  'stats',
]);

/** Returns how many key files' derivations were started (0 when the command line is not such a command). */
export function deriveBackupKeyAhead(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const [group, sub] = commandWords(argv);
  if (group !== 'backup' || sub === undefined || !OPENING.has(sub)) return 0;
  let repo = env.NIGHTSHIFT_REPOSITORY;
  let passwordFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    // Help only prints; a profile names the repository in the home's files.
    if (a === '-h' || a === '--help' || a === '--profile' || a.startsWith('--profile=')) return 0;
    if (a === '-r' || a === '--repo') repo = argv[++i];
    else if (a.startsWith('--repo=')) repo = a.slice('--repo='.length);
    else if (a === '--password-file') passwordFile = argv[++i];
    else if (a.startsWith('--password-file=')) passwordFile = a.slice('--password-file='.length);
  }
  if (repo === undefined || repo === '') return 0;
  try {
    if (parseRepositoryLocation(repo).kind !== 'local') return 0;
  } catch {
    return 0;
  }
  let password = env.NIGHTSHIFT_PASSWORD;
  if (passwordFile !== undefined) {
    try {
      password = passwordOfFile(readFileSync(passwordFile, 'utf8'));
    } catch {
      return 0;
    }
  }
  return password ? deriveKeksAhead(resolve(repo), password) : 0;
}
