/**
 * The heartbeat: each configured agent gets a visible job `heartbeat:<agent>` (every
 * `heartbeatEvery`, default 30 min), kept by app/sessions.ts. A system event with `--wake now`
 * runs it at once through heartbeatWaker; agent/heartbeat-executor.ts says what a run does.
 */
import type { WakeHeartbeat } from './system-event.ts';

/** The name of an agent's heartbeat job. */
export function heartbeatJobName(agent: string): string {
  return `heartbeat:${agent}`;
}

/**
 * The WakeHeartbeat a daemon hands to the system-event executor: it requests a manual run of the
 * agent's heartbeat job (`requestRun` is the engine's). A heartbeat already queued takes the item
 * as well, so that is not an error.
 */
export function heartbeatWaker(
  requestRun: (jobIdOrName: string) => Promise<{ ok: boolean; enqueued: boolean; reason?: string }>,
): WakeHeartbeat {
  return async (agent) => {
    const result = await requestRun(heartbeatJobName(agent));
    if (!result.ok && result.reason !== undefined && !/already (queued|running)/.test(result.reason))
      throw new Error(`heartbeat ${heartbeatJobName(agent)} not queued: ${result.reason}`);
  };
}
