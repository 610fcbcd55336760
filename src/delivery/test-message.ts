/**
 * The message `nightshift alert test CHANNEL` sends: proof that a channel is configured right,
 * worded so nobody mistakes it for a real alert.
 */
import { hostname } from 'node:os';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Channel, DeliveryResult, Notification, SendOptions } from './channel.ts';

export function testNotification(channel: Channel, host = hostname()): Notification {
  return {
    title: `Test message for channel ${channel.name}`,
    text: `This is a test from nightshift on ${host}. If you can read it, the ${channel.kind} channel "${channel.name}" delivers alerts. Nothing has failed.`,
    severity: 'info',
    fields: { channel: channel.name, kind: channel.kind, host },
  };
}

/** Sends the test message; the result says whether it arrived (it never throws for that). */
export function sendTestMessage(channel: Channel, opts?: SendOptions): Promise<DeliveryResult> {
  return channel.send(testNotification(channel), opts);
}

/** Turns a failed result into the UserError the CLI prints (exit code 1). */
export function assertDelivered(channel: Channel, result: DeliveryResult): void {
  if (result.ok) return;
  throw new UserError(
    `channel ${channel.name} (${channel.kind}): not delivered${result.attempts > 0 ? ` after ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}` : ''}: ${result.error ?? 'unknown error'}`,
    {
      exitCode: EXIT.failed,
      code: 'delivery_failed',
      hint: 'check the channel settings and the secret references it uses (docs/alerts.md)',
    },
  );
}
