/**
 * OpenClaw flags users type from its docs that nightshift has no setting for: accepted where
 * nightshift already behaves that way, otherwise refused saying what to use instead. (OpenClaw's
 * --clear-agent, --thread-id and --failure-alert-include-skipped are ordinary job flags.)
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../../domain/errors.ts';

export interface OpenClawFlags {
  bestEffortDeliver?: boolean;
}

export function addOpenClawFlags(cmd: CommandUnknownOpts): void {
  cmd
    .option('--best-effort-deliver', 'accepted: a failed delivery never fails a run in nightshift')
    .option('--no-best-effort-deliver', 'OpenClaw only: refused (a failed delivery never fails a run)');
}

/** Throws for the OpenClaw flags nightshift cannot honour; the others need nothing. */
export function refuseOpenClawOnlyFlags(flags: OpenClawFlags): void {
  if (flags.bestEffortDeliver === false)
    throw new UserError(
      '--no-best-effort-deliver is an OpenClaw flag nightshift has no setting for: a failed delivery never changes the run’s status (the run records delivered: false)',
      { hint: 'drop the flag; `nightshift cron runs JOB --json` shows each delivery', exitCode: EXIT.usage },
    );
}
