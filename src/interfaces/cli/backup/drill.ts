/**
 * `backup drill`: a restore drill now, of a profile or of a repository named with a reference to
 * its age identity (`--repo REPO --identity-ref REF`, on the host where the identity lives). Exit 0
 * only when every sampled file restored byte-exact; 1 when one did not.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { checkDrillTarget, drillPassed, drillProfile, drillRepository } from '../../../app/drills.ts';
import { formatBytes } from '../../../domain/bytes.ts';
import { EXIT, UserError } from '../../../domain/errors.ts';
import type { DrillRunDetails } from '../../../domain/job.ts';
import { globalOptions, withApp } from '../context.ts';
import { drillSampleFlag } from '../job-payload-flags.ts';
import { printJson, printLine } from '../output.ts';

/** `0.4 s`, `85 ms`: how long a drill or a backup took. */
export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The drill's proof in words: what was restored, how it was compared, how long it took. */
export function drillLines(d: DrillRunDetails): string[] {
  const what = d.profile !== undefined ? `profile ${d.profile}` : `repository ${d.repository ?? ''}`;
  const took = d.durationMs !== undefined ? ` in ${seconds(d.durationMs)}` : '';
  const lines = [
    `drill of ${what}, snapshot ${d.snapshotId.slice(0, 8)}: ${drillPassed(d) ? 'ok' : 'FAILED'}${took}`,
    `  ${d.verified} of ${plural(d.sampled, 'sampled file')}${d.filesInSnapshot !== undefined ? ` (of ${d.filesInSnapshot} in the snapshot)` : ''} restored${d.bytesRestored !== undefined ? ` (${formatBytes(d.bytesRestored)})` : ''}, every chunk byte-exact against the snapshot's content hashes`,
    `  ${d.matchedLive} identical to the live file; ${d.skippedChanged} changed or absent here since the snapshot (not compared)`,
  ];
  for (const db of d.databases ?? [])
    lines.push(
      `  database ${db.source}: ${db.ok ? `restored into ${db.scratch} (dropped after), query returned ${db.rows ?? 0} rows` : `FAILED: ${db.problem ?? ''}`}`,
    );
  if (d.sampled === 0 && d.failures.length === 0) lines.push('  the snapshot holds no regular file to drill');
  for (const f of d.failures) lines.push(`  FAIL ${f.path}: ${f.problem}`);
  return lines;
}

export function registerDrillCommand(group: CommandUnknownOpts): void {
  group
    .command('drill')
    .description(
      'restore a sample of the latest snapshot into a temporary directory and prove it byte-exact: of --profile NAME, or of --repo REPO with --identity-ref REF where the identity lives',
    )
    .option('--profile <name>', 'the backup profile to drill (its repository and key)')
    .option('-r, --repo <repo>', 'the repository to drill, with --identity-ref (no profile needed)')
    .option(
      '--identity-ref <ref>',
      'with --repo: secret reference to the age identity (file:/path mode 0600, env:NAME, cmd:..., vault:...)',
    )
    .option('--tag <tag>', 'with --repo: drill the latest snapshot with this tag (e.g. profile:NAME)')
    .option('--sample <n|p%>', 'files to restore and verify, a count or a percentage (default 20)')
    .action(async (flags, cmd) => {
      const { json } = globalOptions(cmd);
      if ((flags.profile === undefined) === (flags.repo === undefined))
        throw new UserError(
          flags.profile === undefined
            ? 'backup drill needs --profile NAME, or --repo REPO with --identity-ref REF'
            : 'give --profile or --repo, not both',
          {
            hint: 'nightshift backup drill --profile NAME, or nightshift backup drill --repo REPO --identity-ref file:/path/identity.txt',
            exitCode: EXIT.usage,
          },
        );
      if (flags.repo !== undefined && flags.identityRef === undefined)
        throw new UserError(
          '--repo: a drill reads the backups, so it needs the identity: add --identity-ref REF',
          {
            hint: 'run it where the identity lives: --identity-ref file:/path/identity.txt (or vault:..., cmd:...)',
            exitCode: EXIT.usage,
          },
        );
      if (flags.profile !== undefined && (flags.identityRef !== undefined || flags.tag !== undefined))
        throw new UserError(
          `--${flags.identityRef !== undefined ? 'identity-ref' : 'tag'} goes with --repo`,
          {
            hint: 'a profile brings its own key (set one with `nightshift backup profile edit NAME --identity-ref REF`)',
            exitCode: EXIT.usage,
          },
        );
      const sample = flags.sample === undefined ? {} : drillSampleFlag(flags.sample, '--sample');
      if (sample.sampleFiles === 0 || (sample.samplePercent !== undefined && !(sample.samplePercent <= 100)))
        throw new UserError(
          `--sample: must be at least 1 file, or a percentage up to 100%, got "${flags.sample}"`,
          {
            hint: 'e.g. --sample 20 or --sample 5%',
          },
        );
      const target =
        flags.repo !== undefined
          ? {
              repository: flags.repo,
              identityRef: flags.identityRef!,
              ...(flags.tag !== undefined ? { tag: flags.tag } : {}),
            }
          : undefined;
      // Before the home is opened: a refused drill leaves nothing behind.
      if (target) checkDrillTarget(target);
      await withApp(cmd, async (app) => {
        const d =
          flags.profile !== undefined
            ? await drillProfile(app, flags.profile, sample)
            : await drillRepository(app, target!, sample);
        if (json) printJson({ ok: drillPassed(d), drill: d });
        else for (const l of drillLines(d)) printLine(l);
        if (!drillPassed(d)) process.exitCode = EXIT.failed;
      });
    });
}
