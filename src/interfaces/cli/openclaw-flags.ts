/**
 * OpenClaw flags users type from its docs that nightshift has no setting for: accepted where
 * nightshift already behaves that way, otherwise refused saying what to use instead.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { EXIT, UserError } from '../../domain/errors.ts';

export interface OpenClawFlags {
  threadId?: string;
  clearAgent?: boolean;
  bestEffortDeliver?: boolean;
  failureAlertIncludeSkipped?: boolean;
}

export function addOpenClawFlags(cmd: CommandUnknownOpts): void {
  cmd
    .option('--thread-id <id>', 'OpenClaw only: refused (give the destination with --to)')
    .option('--clear-agent', 'OpenClaw only: refused (use --agent default)')
    .option('--best-effort-deliver', 'accepted: a failed delivery never fails a run in nightshift')
    .option('--no-best-effort-deliver', 'OpenClaw only: refused (a failed delivery never fails a run)')
    .option('--failure-alert-include-skipped', 'OpenClaw only: refused (skipped runs never alert)');
}

/** Throws for the OpenClaw flags nightshift cannot honour; the others need nothing. */
export function refuseOpenClawOnlyFlags(flags: OpenClawFlags): void {
  const refuse = (flag: string, why: string, hint: string): never => {
    throw new UserError(`${flag} is an OpenClaw flag nightshift has no setting for: ${why}`, {
      hint,
      exitCode: EXIT.usage,
    });
  };
  if (flags.threadId !== undefined)
    refuse('--thread-id', 'channels have no thread ids', 'give the destination on the channel with --to');
  if (flags.clearAgent) refuse('--clear-agent', 'a job always names its agent', 'use --agent default');
  if (flags.bestEffortDeliver === false)
    refuse(
      '--no-best-effort-deliver',
      'a failed delivery never changes the run’s status (the run records delivered: false)',
      'drop the flag; `nightshift cron runs JOB --json` shows each delivery',
    );
  if (flags.failureAlertIncludeSkipped)
    refuse(
      '--failure-alert-include-skipped',
      'skipped runs (overlap) are not failures and never alert',
      "use --overlap queue-one so runs wait instead of being skipped, or --alert-if-no-success-within DURATION (dead-man's switch)",
    );
}
