/**
 * GET /api/v1/events: server-sent events of the daemon's run events (queued, started, finished,
 * skipped, missed, interrupted) and alert deliveries, as they happen. Each SSE message has the
 * event name as `event:` and the JSON event as `data:`. Needs a read token. Events carry ids,
 * times and reasons, never payload details. A comment line every 15 s keeps proxies from closing
 * an idle stream.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonLogEvent } from '../../app/daemon.ts';
import type { Authorize } from './server.ts';
import { openSse } from './sse.ts';

const STREAMED = new Set([
  'run.queued',
  'run.started',
  'run.finished',
  'run.skipped',
  'run.missed',
  'run.interrupted',
  'alert.sent',
  'alert.failed',
  'job.deleted',
  'job.disabled',
]);

export function registerEventStream(
  server: FastifyInstance,
  authorize: Authorize,
  subscribe: (listener: (event: DaemonLogEvent) => void) => () => void,
): void {
  server.get('/api/v1/events', (req, res) => {
    if (authorize(req, res, 'read') === undefined) return;
    let unsubscribe = (): void => {};
    const sse = openSse(req, res, 'nightshift run events', () => unsubscribe());
    unsubscribe = subscribe((e) => {
      if (STREAMED.has(e.event)) sse.send(e.event, { ts: new Date().toISOString(), ...e });
    });
  });
}
