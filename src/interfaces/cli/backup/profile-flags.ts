/**
 * The flags of `backup profile add|edit`, and the profile they make over the previous one (edit)
 * or nothing (add). Keys are given only as references; a literal passphrase is refused unechoed.
 */
import type { Command, OptionValues } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import { profileFromFields, type ProfileFields } from '../../../app/profile-fields.ts';
import type { BackupProfile } from '../../../domain/backup-profile.ts';
import { collect } from './flags.ts';

export type ProfileFlags = ProfileFields;

export function addProfileFlags<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
) {
  return cmd
    .option(
      '-r, --repo <location>',
      'repository: an absolute directory, s3:https://host/bucket/prefix or sftp:user@host:/path (created by `backup init`)',
    )
    .option(
      '--s3-access-key-ref <ref>',
      's3: repository: where the access key id lives (else $AWS_ACCESS_KEY_ID)',
    )
    .option(
      '--s3-secret-key-ref <ref>',
      's3: repository: where the secret access key lives (else $AWS_SECRET_ACCESS_KEY)',
    )
    .option(
      '--ssh-key-ref <ref>',
      'sftp: repository: where the SSH private key lives (e.g. file:/root/.ssh/id_ed25519)',
    )
    .option('--known-hosts <file>', 'sftp: repository: known_hosts file the server key is checked against')
    .option(
      '--password-ref <ref>',
      'passphrase repository: where the passphrase lives (env:NAME, file:/path, vault:..., cmd:...)',
    )
    .option('--recipients-repo', 'recipients repository: back up with the writer key kept in the home')
    .option('--writer-key <file>', 'recipients repository: another writer key file')
    .option(
      '--identity-ref <ref>',
      'recipients repository: reference to the age identity, for drills and --verify-subset reads',
    )
    .option('--path <path>', 'file or directory to back up (repeatable; replaces the list on edit)', collect)
    .option(
      '--postgres <[name=]db>',
      'PostgreSQL database (name or postgresql:// URL) dumped with pg_dump -Fc (repeatable)',
      collect,
    )
    .option(
      '--mysql <[name=]db>',
      'MariaDB/MySQL database (name or mysql://user@host:port/db), --single-transaction (repeatable)',
      collect,
    )
    .option(
      '--redis <[name=]url>',
      'Redis server (redis://host:port) saved as an RDB snapshot (repeatable)',
      collect,
    )
    .option('--sqlite <[name=]file>', 'SQLite database read consistently while in use (repeatable)', collect)
    .option('--git <[name=]dir>', 'git repository as a bundle of all refs (repeatable)', collect)
    .option(
      '--command-source <name=command>',
      "any command's output, e.g. db='docker exec db pg_dump -Fc app' (repeatable)",
      collect,
    )
    .option(
      '--optional <name>',
      'this source may be down: skipped with a warning instead of failing the run (repeatable)',
      collect,
    )
    .option(
      '--source-password-ref <name=ref>',
      'database password of a --postgres/--mysql source, by reference (repeatable)',
      collect,
    )
    .option(
      '--copy-to <location>',
      'after each backup copy the snapshot to this repository too; retention applies there (repeatable; off)',
      collect,
    )
    .option(
      '--drill-query <sql>',
      'drills restore each database source into a scratch database and run this query, expecting rows (off)',
    )
    .option(
      '--nice',
      "lowest priority: dump tools at nice 19 + ionice idle, the backup's worker threads at nice 19 (CPU only); the scheduler thread is not lowered",
    )
    .option(
      '--limit-upload <rate>',
      'at most this many bytes per second to remote repositories, e.g. 2MiB/s or 500K (off)',
    )
    .option(
      '-e, --exclude <glob>',
      'leave out matching paths (repeatable; replaces the list on edit)',
      collect,
    )
    .option('--tag <tag>', 'tag the snapshots (repeatable; replaces the list on edit)', collect)
    .option('--keep-last <n>', 'retention: keep the n newest snapshots')
    .option('--keep-hourly <n>', 'retention: the newest of each of the last n hours')
    .option('--keep-daily <n>', 'retention: … days')
    .option('--keep-weekly <n>', 'retention: … ISO weeks')
    .option('--keep-monthly <n>', 'retention: … months')
    .option('--keep-yearly <n>', 'retention: … years')
    .option('--keep-within <span>', 'retention: every snapshot within span of the newest (7d, 1y6m)')
    .option('--keep-within-hourly <span>', 'retention: within span, the newest of each hour')
    .option('--keep-within-daily <span>', 'retention: within span, the newest of each day')
    .option('--keep-within-weekly <span>', 'retention: within span, the newest of each week')
    .option('--keep-within-monthly <span>', 'retention: within span, the newest of each month')
    .option('--keep-within-yearly <span>', 'retention: within span, the newest of each year')
    .option('--keep-tag <tag>', 'retention: keep snapshots with the tag (repeatable)', collect)
    .option(
      '--prune-every <duration>',
      'free the space of forgotten snapshots at most this often (e.g. 7d; off)',
    )
    .option(
      '--verify-subset <percent>',
      'after each backup, check the repository reading this share of packs (5%, 1/10; off)',
    )
    .option(
      '--min-free <bytes>',
      'refuse to start below this much free space on the repository disk (2G; off)',
    )
    .addOption(new Option('--password <value>').hideHelp());
}

/** A profile from `add`/`edit` flags over the previous profile (edit) or nothing (add). */
export function profileFromFlags(
  name: string,
  f: ProfileFlags,
  prev: BackupProfile | undefined,
  nowMs: number,
): BackupProfile {
  return profileFromFields(name, f, prev, nowMs);
}
