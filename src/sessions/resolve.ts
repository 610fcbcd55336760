/**
 * Session targets to session ids. `main` is the agent's ongoing session, `isolated` a fresh one per
 * run, `session:<id>` a named one shared by every job naming it, and `current` the session that
 * created the job (jobs made from inside an agent session carry it as `createdBySession`).
 */
import type { SessionTarget } from '../domain/job.ts';
import { mainSessionId } from '../domain/session.ts';
import type { Session, SessionKind } from '../domain/session.ts';
import type { SessionStore } from '../store/store.ts';

export const DEFAULT_AGENT = 'default';

export interface ResolvedSession {
  id: string;
  kind: SessionKind;
  agent: string;
  /** Set when the target could not be honoured as written (e.g. `current` without a creator). */
  note?: string;
}

export interface SessionContext {
  agent: string;
  runId: string;
  /** The session id that created the job, when it was made from inside a session. */
  createdBySession?: string;
}

/** The id of the fresh session of one run. */
export function isolatedSessionId(runId: string): string {
  return `isolated:${runId}`;
}

/** The id of a named session (`session:<name>` targets). */
export function namedSessionId(name: string): string {
  return `session:${name}`;
}

/** What kind of session an id names, from its prefix. */
export function sessionKindOf(id: string): SessionKind {
  if (id.startsWith('main:')) return 'main';
  if (id.startsWith('isolated:')) return 'isolated';
  return 'named';
}

export function resolveSessionTarget(target: SessionTarget, ctx: SessionContext): ResolvedSession {
  const agent = ctx.agent;
  if (target === 'main') return { id: mainSessionId(agent), kind: 'main', agent };
  if (target === 'isolated') return { id: isolatedSessionId(ctx.runId), kind: 'isolated', agent };
  if (target === 'current') {
    const creator = ctx.createdBySession?.trim();
    if (creator) return { id: creator, kind: sessionKindOf(creator), agent };
    return {
      id: mainSessionId(agent),
      kind: 'main',
      agent,
      note: 'session "current": the job records no creating session, so the main session was used',
    };
  }
  return { id: namedSessionId(target.slice('session:'.length)), kind: 'named', agent };
}

/** Resolves the target and makes sure the session exists in the store. */
export async function openSession(
  sessions: SessionStore,
  target: SessionTarget,
  ctx: SessionContext,
  nowMs: number,
): Promise<{ resolved: ResolvedSession; session: Session }> {
  const resolved = resolveSessionTarget(target, ctx);
  const session = await sessions.ensure(
    { id: resolved.id, agent: resolved.agent, kind: resolved.kind },
    nowMs,
  );
  return { resolved, session };
}

/** The creating session a payload may carry (set by MCP/agent job creation), if any. */
export function createdBySession(payload: object): string | undefined {
  const v = (payload as { createdBySession?: unknown }).createdBySession;
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}
