/**
 * A local server speaking the OpenAI chat-completions protocol with scripted replies, for agent
 * turn tests: `POST …/chat/completions` answers with the next scripted reply (as one JSON object,
 * or as SSE chunks when the request asks for `stream: true`), `GET …/models` and `GET /api/tags`
 * answer preflight. Every request is recorded (method, path, headers, parsed body).
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** A JSON string, or an object that is serialised. */
  arguments: string | Record<string, unknown>;
}

export type ScriptedReply =
  | {
      content?: string | null;
      toolCalls?: ScriptedToolCall[];
      usage?: { prompt: number; completion: number };
      /** The model name the server reports (default: the requested one). */
      model?: string;
      delayMs?: number;
    }
  | { status: number; body: string; delayMs?: number }
  | { raw: string; contentType?: string; delayMs?: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface FakeLlmServer {
  /** Server root, e.g. http://127.0.0.1:PORT */
  root: string;
  /** The chat-completions base URL: root + /v1 */
  baseUrl: string;
  requests: RecordedRequest[];
  chatRequests(): RecordedRequest[];
  enqueue(...replies: ScriptedReply[]): void;
  /** Scripted replies not yet used. */
  queueLength(): number;
  /** Status for `/models` and `/api/tags` (200 = up). */
  probeStatus: number;
  close(): Promise<void>;
}

export async function startFakeLlmServer(replies: ScriptedReply[] = []): Promise<FakeLlmServer> {
  const queue = [...replies];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let seq = 0;
  const state = { probeStatus: 200 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '/').split('?')[0] as string;
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });

      if (req.method === 'GET' && (path.endsWith('/models') || path === '/api/tags')) {
        res.writeHead(state.probeStatus, { 'content-type': 'application/json' });
        res.end(
          path === '/api/tags'
            ? JSON.stringify({ models: [{ name: 'llama3.2:1b' }] })
            : JSON.stringify({ object: 'list', data: [{ id: 'test-model', object: 'model' }] }),
        );
        return;
      }
      if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
        return;
      }
      const reply = queue.shift() ?? { status: 500, body: '{"error":{"message":"no scripted reply left"}}' };
      const send = (): void => {
        if (res.destroyed) return;
        if ('status' in reply) {
          res.writeHead(reply.status, { 'content-type': 'application/json' });
          res.end(reply.body);
          return;
        }
        if ('raw' in reply) {
          res.writeHead(200, { 'content-type': reply.contentType ?? 'application/json' });
          res.end(reply.raw);
          return;
        }
        const id = `chatcmpl-${++seq}`;
        const model = reply.model ?? (typeof body?.model === 'string' ? body.model : 'unknown');
        const toolCalls = (reply.toolCalls ?? []).map((c, i) => ({
          id: c.id ?? `call_${seq}_${i}`,
          type: 'function',
          function: {
            name: c.name,
            arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
          },
        }));
        const usage = reply.usage && {
          prompt_tokens: reply.usage.prompt,
          completion_tokens: reply.usage.completion,
          total_tokens: reply.usage.prompt + reply.usage.completion,
        };
        const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';
        if (body?.stream === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          const event = (delta: Record<string, unknown>, finishReason: string | null = null): void => {
            const chunk = {
              id,
              object: 'chat.completion.chunk',
              model,
              choices: [{ index: 0, delta, finish_reason: finishReason }],
            };
            res.write(`data: ${JSON.stringify(chunk)}\n\n`);
          };
          res.write(': keep-alive\n\n');
          event({ role: 'assistant', content: '' });
          for (const piece of split(reply.content ?? '', 3)) event({ content: piece });
          toolCalls.forEach((c, index) => {
            event({
              tool_calls: [
                { index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } },
              ],
            });
            for (const piece of split(c.function.arguments, 4)) {
              event({ tool_calls: [{ index, function: { arguments: piece } }] });
            }
          });
          event({}, finish);
          const opts = body.stream_options as { include_usage?: boolean } | undefined;
          if (usage && opts?.include_usage) {
            res.write(
              `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices: [], usage })}\n\n`,
            );
          }
          res.end('data: [DONE]\n\n');
          return;
        }
        const message: Record<string, unknown> = { role: 'assistant', content: reply.content ?? null };
        if (toolCalls.length > 0) message.tool_calls = toolCalls;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [{ index: 0, message, finish_reason: finish }],
            ...(usage ? { usage } : {}),
          }),
        );
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    root,
    baseUrl: `${root}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.path.endsWith('/chat/completions')),
    enqueue: (...more) => queue.push(...more),
    queueLength: () => queue.length,
    get probeStatus() {
      return state.probeStatus;
    },
    set probeStatus(v: number) {
      state.probeStatus = v;
    },
    close: () =>
      new Promise<void>((done) => {
        // Delayed replies keep sockets open; end them so close() returns at once.
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

/** A base URL where nothing listens (connection refused). */
export async function unreachableBaseUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((done) => server.close(() => done()));
  return `http://127.0.0.1:${port}/v1`;
}

function split(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
