/**
 * The `systemEvent` payload: puts text into a session's inbox for the agent's next heartbeat. It
 * executes nothing, so its runs end `delivered`, never `ok`; the reason and a DeliveryRecord name
 * the session and the inbox item. With `wake: now` the agent's heartbeat is asked to run at once.
 */
import type { SystemEventPayload } from '../domain/job.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../payloads/executor.ts';
import type { SessionStore } from '../store/store.ts';
import { DEFAULT_AGENT, createdBySession, openSession } from './resolve.ts';

/** Asks for an immediate run of the agent's heartbeat job (the daemon requests a manual run). */
export type WakeHeartbeat = (agent: string) => Promise<void>;

export interface SystemEventExecutorDeps {
  sessions: SessionStore;
  /** Absent: `wake: now` items wait for the next scheduled heartbeat (and the reason says so). */
  wakeHeartbeat?: WakeHeartbeat;
}

export class SystemEventExecutor implements Executor<SystemEventPayload> {
  readonly kind = 'systemEvent' as const;

  constructor(private readonly deps: SystemEventExecutorDeps) {}

  async execute(payload: SystemEventPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    const agent = payload.agent ?? DEFAULT_AGENT;
    const target = payload.session ?? 'main';
    if (target === 'isolated')
      return {
        status: 'error',
        error:
          'a system event cannot target an isolated session (it exists only for one run); use main or session:<id>',
      };
    const creator = createdBySession(payload);
    const nowMs = ctx.now();
    const { resolved } = await openSession(
      this.deps.sessions,
      target,
      { agent, runId: ctx.runId, ...(creator !== undefined ? { createdBySession: creator } : {}) },
      nowMs,
    );
    const seq = await this.deps.sessions.pushInbox({
      sessionId: resolved.id,
      text: payload.text,
      jobId: ctx.job.id,
      runId: ctx.runId,
      createdAtMs: nowMs,
    });
    const parts = [`put into the inbox of session ${resolved.id} as item ${seq}; nothing was executed`];
    if (resolved.note) parts.push(resolved.note);
    if (payload.wake === 'now') {
      if (!this.deps.wakeHeartbeat)
        parts.push('wake now: no heartbeat runner here, it waits for the next heartbeat');
      else {
        try {
          await this.deps.wakeHeartbeat(agent);
          parts.push(`heartbeat of agent ${agent} requested now`);
        } catch (err) {
          parts.push(
            `wake now failed (${err instanceof Error ? err.message : String(err)}); it waits for the next heartbeat`,
          );
        }
      }
    }
    return {
      status: 'delivered',
      error: parts.join('; '),
      details: {
        delivery: [
          {
            purpose: 'inbox',
            intended: `session ${target} of agent ${agent}`,
            resolved: `${resolved.id} inbox item ${seq}`,
            delivered: true,
            atMs: nowMs,
          },
        ],
      },
    };
  }
}
