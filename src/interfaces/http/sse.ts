/**
 * Server-sent events over a fastify reply: the headers, numbered messages with every value passed
 * through the redactor, and a comment line every KEEPALIVE_MS so proxies keep an idle stream open.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { defaultRedactor } from '../../secrets/redact.ts';

export const KEEPALIVE_MS = 15_000;

export interface SseChannel {
  send(event: string, data: unknown): void;
  /** Ends the stream from this side. */
  end(): void;
}

/** Takes over the reply; `onClose` runs once when either side ends the stream. */
export function openSse(
  req: FastifyRequest,
  res: FastifyReply,
  comment: string,
  onClose: () => void,
): SseChannel {
  res.hijack();
  const raw = res.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(`: ${comment}\n\n`);
  let seq = 0;
  let open = true;
  const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const close = (): void => {
    if (!open) return;
    open = false;
    clearInterval(keepalive);
    onClose();
  };
  req.raw.on('close', close);
  return {
    send: (event, data) => {
      if (!open) return;
      raw.write(
        `id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(defaultRedactor.redactValue(data))}\n\n`,
      );
    },
    end: () => {
      close();
      raw.end();
    },
  };
}
