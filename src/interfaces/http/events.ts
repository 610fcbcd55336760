/**
 * GET /api/v1/events: server-sent events of the daemon's run events (queued, started, finished,
 * skipped, missed, interrupted) and alert deliveries, as they happen. Each SSE message has the
 * event name as `event:` and the JSON event as `data:`. Needs a read token. Events carry ids,
 * times and reasons, never payload details. A comment line every 15 s keeps proxies from closing
 * an idle stream.
 */
import type { FastifyInstance } from 'fastify';
import type { DaemonLogEvent } from '../../app/daemon.ts';
import { defaultRedactor } from '../../secrets/redact.ts';
import type { Authorize } from './server.ts';

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

export const KEEPALIVE_MS = 15_000;

export function registerEventStream(
  server: FastifyInstance,
  authorize: Authorize,
  subscribe: (listener: (event: DaemonLogEvent) => void) => () => void,
): void {
  server.get('/api/v1/events', (req, res) => {
    if (authorize(req, res, 'read') === undefined) return;
    res.hijack();
    const raw = res.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(': nightshift run events\n\n');
    let seq = 0;
    const unsubscribe = subscribe((e) => {
      if (!STREAMED.has(e.event)) return;
      const data = JSON.stringify(defaultRedactor.redactValue({ ts: new Date().toISOString(), ...e }));
      raw.write(`id: ${++seq}\nevent: ${e.event}\ndata: ${data}\n\n`);
    });
    const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    req.raw.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  });
}
