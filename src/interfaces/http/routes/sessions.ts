/**
 * /api/v1/sessions: agent sessions (as `session list/show/inbox --json`): their transcripts and
 * the inbox that system events fill and heartbeats empty.
 */
import { z } from 'zod/v4';
import { listSessions, sessionInbox, sessionTranscript } from '../../../app/sessions.ts';
import { sessionView } from '../../../app/views.ts';
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { route } from '../route.ts';

const sessionParam = z.object({
  id: z.string().min(1).describe('session id (main:default, session:ops, …; main = main:default)'),
});

export function sessionRoutes(deps: ApiDeps): ApiRoute[] {
  const { app } = deps;
  return [
    route({
      method: 'GET',
      url: '/api/v1/sessions',
      scope: 'read',
      tag: 'sessions',
      summary: 'Agent sessions with their pending inbox counts',
      query: z.object({ agent: z.string().optional() }),
      handler: async ({ query }) => {
        const list = await listSessions(app, query.agent !== undefined ? { agent: query.agent } : {});
        return { sessions: list.map((s) => sessionView(s.session, s.pendingInbox)) };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/sessions/:id',
      scope: 'read',
      tag: 'sessions',
      summary: "A session's transcript, oldest first (the last `limit` messages)",
      params: sessionParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(200) }),
      handler: async ({ params, query }) => {
        const t = await sessionTranscript(app, params.id, { limit: query.limit });
        return { session: sessionView(t.session, t.pendingInbox), messages: t.messages };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/sessions/:id/inbox',
      scope: 'read',
      tag: 'sessions',
      summary: 'The system events waiting in a session for its next heartbeat',
      params: sessionParam,
      handler: async ({ params }) => {
        const { session, items } = await sessionInbox(app, params.id);
        return {
          session: session.id,
          items: items.map((it) => ({
            seq: it.seq,
            text: it.text,
            createdAt: new Date(it.createdAtMs).toISOString(),
            jobId: it.jobId ?? null,
            runId: it.runId ?? null,
          })),
        };
      },
    }),
  ];
}
