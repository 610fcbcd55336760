/**
 * The heartbeat payload's executor: reads the pending inbox of the agent's main session; an empty
 * inbox ends `skipped` ("inbox empty") without any model call, so an idle agent costs nothing.
 * Otherwise one agent turn runs on the main session with the items as its message, and the items
 * are marked as taken by that run. (sessions/heartbeat.ts names the job and wakes it.)
 */
import type { HeartbeatPayload } from '../domain/job.ts';
import { mainSessionId } from '../domain/session.ts';
import type { InboxItem } from '../domain/session.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../payloads/executor.ts';
import { DEFAULT_AGENT } from '../sessions/resolve.ts';
import { setupFailure, turnOutcome } from './runtime.ts';
import type { AgentRuntime } from './runtime.ts';

/** The turn's message: the waiting items, oldest first, with when they arrived. */
export function heartbeatMessage(items: InboxItem[]): string {
  const lines = items.map((it, i) => `${i + 1}. [${new Date(it.createdAtMs).toISOString()}] ${it.text}`);
  const count = items.length === 1 ? '1 system event arrived' : `${items.length} system events arrived`;
  return [
    `[nightshift heartbeat] ${count} since your last heartbeat:`,
    ...lines,
    '',
    'Act on them as needed. If there is nothing to report, answer exactly NO_REPLY.',
  ].join('\n');
}

export class HeartbeatExecutor implements Executor<HeartbeatPayload> {
  readonly kind = 'heartbeat' as const;

  constructor(private readonly runtime: AgentRuntime) {}

  async execute(payload: HeartbeatPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    if (ctx.signal.aborted)
      return { status: 'interrupted', error: 'interrupted before it started: nightshift is shutting down' };
    const agent = payload.agent ?? DEFAULT_AGENT;
    const sessionId = mainSessionId(agent);
    const sessions = this.runtime.app.store.sessions;
    // Before anything else: an idle agent's heartbeat reads one index and stops.
    const items = await sessions.pendingInbox(sessionId);
    if (items.length === 0) return { status: 'skipped', error: 'inbox empty' };
    try {
      const message = heartbeatMessage(items);
      const req = {
        agent,
        sessionId,
        message,
        ...(payload.timeoutSeconds !== undefined ? { timeoutSeconds: payload.timeoutSeconds } : {}),
      };
      this.runtime.buildInput(req, []);
      await sessions.ensure({ id: sessionId, agent, kind: 'main' }, ctx.now());
      const { result } = await this.runtime.runOnSession(req, ctx.runId, ctx.signal);
      // The model saw the items unless the turn never reached it (skipped) or was cut off by shutdown.
      let note: string | undefined;
      if (result.status !== 'skipped' && result.status !== 'interrupted') {
        const taken = await sessions.consumeInbox(
          items.map((it) => it.seq),
          ctx.runId,
          this.runtime.clock.now(),
        );
        if (result.status !== 'ok') note = `${taken} inbox item(s) taken by this run`;
      } else {
        note = `${items.length} inbox item(s) left for the next heartbeat`;
      }
      return turnOutcome(result, agent, sessionId, ctx.job, note);
    } catch (err) {
      return setupFailure(err);
    }
  }
}
