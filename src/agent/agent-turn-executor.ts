/**
 * The `agentTurn` payload: one agent turn on the job's session (isolated by default) against the
 * agent's configured endpoint. The run's status is the turn's: `ok` only when the model answered
 * in words without trying anything outside its allowlist; a denied tool call is `error` with a
 * reason starting `denied`; all endpoints down is `skipped`.
 */
import type { AgentTurnPayload } from '../domain/job.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from '../payloads/executor.ts';
import { DEFAULT_AGENT, createdBySession, openSession } from '../sessions/resolve.ts';
import { setupFailure, turnOutcome } from './runtime.ts';
import type { AgentRuntime } from './runtime.ts';
import { validateAgentTurnInput } from './turn.ts';

export class AgentTurnExecutor implements Executor<AgentTurnPayload> {
  readonly kind = 'agentTurn' as const;

  constructor(private readonly runtime: AgentRuntime) {}

  async execute(payload: AgentTurnPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    if (ctx.signal.aborted)
      return { status: 'interrupted', error: 'interrupted before it started: nightshift is shutting down' };
    const agent = payload.agent ?? DEFAULT_AGENT;
    try {
      // Checked before a session is made: a job naming an unknown agent leaves nothing behind.
      validateAgentTurnInput(this.runtime.buildInput({ ...payload, agent, sessionId: '' }, []));
      const creator = createdBySession(payload);
      const { resolved } = await openSession(
        this.runtime.app.store.sessions,
        payload.session ?? 'isolated',
        { agent, runId: ctx.runId, ...(creator !== undefined ? { createdBySession: creator } : {}) },
        ctx.now(),
      );
      const { result } = await this.runtime.runOnSession(
        { ...payload, agent, sessionId: resolved.id },
        ctx.runId,
        ctx.signal,
      );
      return turnOutcome(result, agent, resolved.id, ctx.job, resolved.note);
    } catch (err) {
      return setupFailure(err);
    }
  }
}
