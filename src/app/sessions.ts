/**
 * The session use cases: list agent sessions with their pending inbox, a session's transcript,
 * its inbox; and the heartbeat jobs that empty those inboxes (one per configured agent, created by
 * the daemon at start).
 */
import type { ChatMessage } from '../domain/chat.ts';
import { EXIT, UserError } from '../domain/errors.ts';
import type { Job } from '../domain/job.ts';
import { mainSessionId } from '../domain/session.ts';
import type { InboxItem, Session } from '../domain/session.ts';
import { heartbeatJobName } from '../sessions/heartbeat.ts';
import type { App } from './app.ts';
import { editJob, ensureJob, newJob } from './jobs.ts';

/**
 * Creates the agent's heartbeat job when the agent is configured and the job is missing, and keeps
 * its interval in step with the configuration. Returns the job, or undefined for an unknown agent.
 * Other edits (disabling it, a description) are the user's and are kept.
 */
export async function ensureHeartbeatJob(app: App, agent: string, nowMs: number): Promise<Job | undefined> {
  const config = app.config().agents[agent];
  if (!config) return undefined;
  const schedule = { kind: 'every', everyMs: config.heartbeatEveryMs } as const;
  const { job, created } = await ensureJob(
    app,
    newJob(
      {
        name: heartbeatJobName(agent),
        description: `heartbeat of agent ${agent}: one turn on its main session when system events are waiting in the inbox`,
        schedule,
        payload: { kind: 'heartbeat', agent },
        // A wake while a heartbeat runs is queued, so items pushed meanwhile are not left waiting.
        policy: { overlap: 'queue-one' },
      },
      nowMs,
    ),
  );
  const s = job.schedule;
  if (created || (s.kind === 'every' && s.everyMs === schedule.everyMs)) return job;
  return (await editJob(app, job, { schedule }, { nowMs })).job;
}

/** ensureHeartbeatJob for every configured agent (the daemon calls it at start). */
export async function ensureHeartbeatJobs(app: App, nowMs: number): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const agent of Object.keys(app.config().agents)) {
    const job = await ensureHeartbeatJob(app, agent, nowMs);
    if (job) jobs.push(job);
  }
  return jobs;
}

/** A session with the number of inbox items waiting for its next heartbeat. */
export interface SessionSummary {
  session: Session;
  pendingInbox: number;
}

/** Sessions (of one agent, when given) with their pending inbox counts. */
export async function listSessions(app: App, opts: { agent?: string } = {}): Promise<SessionSummary[]> {
  const sessions = await app.store.sessions.list(opts.agent);
  return Promise.all(
    sessions.map(async (session) => ({
      session,
      pendingInbox: (await app.store.sessions.pendingInbox(session.id)).length,
    })),
  );
}

/** A session by id; `main` alone means the default agent's main session. `not_found` otherwise. */
export async function requireSession(app: App, id: string): Promise<Session> {
  const wanted = id === 'main' ? mainSessionId('default') : id;
  const session = await app.store.sessions.get(wanted);
  if (session) return session;
  throw new UserError(`no session "${id}" in ${app.home.dir}`, {
    hint: 'list the sessions with `nightshift session list` (ids look like main:default, session:ops, isolated:<runId>)',
    exitCode: EXIT.notFound,
    code: 'not_found',
  });
}

/** A session's transcript (the last `limit` messages, oldest first) and its pending inbox count. */
export async function sessionTranscript(
  app: App,
  id: string,
  opts: { limit?: number } = {},
): Promise<SessionSummary & { messages: ChatMessage[] }> {
  const session = await requireSession(app, id);
  const messages = await app.store.sessions.transcript(session.id, opts.limit);
  const pendingInbox = (await app.store.sessions.pendingInbox(session.id)).length;
  return { session, pendingInbox, messages };
}

/** The system events waiting in a session for its next heartbeat, oldest first. */
export async function sessionInbox(app: App, id: string): Promise<{ session: Session; items: InboxItem[] }> {
  const session = await requireSession(app, id);
  return { session, items: await app.store.sessions.pendingInbox(session.id) };
}
