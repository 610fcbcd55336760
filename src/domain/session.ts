/**
 * Agent sessions as OpenClaw has them: each agent has a `main` session (its ongoing
 * conversation), runs may use a fresh `isolated` one, or a named one. A session has a persistent
 * transcript and an inbox that system events fill and the heartbeat empties.
 */

export type SessionKind = 'main' | 'isolated' | 'named';

export interface Session {
  id: string;
  agent: string;
  kind: SessionKind;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface InboxItem {
  seq: number;
  sessionId: string;
  text: string;
  jobId?: string;
  runId?: string;
  createdAtMs: number;
  consumedAtMs?: number;
  consumedByRun?: string;
}

/** The id of an agent's main session. */
export function mainSessionId(agent: string): string {
  return `main:${agent}`;
}
