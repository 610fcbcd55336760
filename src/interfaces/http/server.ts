/**
 * The daemon's HTTP server (fastify): the JSON API under /api/v1, the OpenAPI document, the
 * server-sent event stream, /metrics, /healthz, /readyz and the dashboard's static files. Every
 * API request carries `Authorization: Bearer TOKEN`; the token's scope (read, operate, admin:
 * the MCP rules) decides what it may call. Refusals are JSON and are logged without the token.
 * Bound to loopback unless the configuration explicitly allows otherwise.
 */
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { EXIT, UserError } from '../../domain/errors.ts';
import { defaultRedactor } from '../../secrets/redact.ts';
import type { TokenEntry } from '../bearer-tokens.ts';
import { bearerLookup } from '../bearer-tokens.ts';
import type { Scope } from '../../domain/scope.ts';
import { scopeAllows } from '../../domain/scope.ts';
import type { ApiRoute } from './route.ts';
import { EventStream, Reply } from './route.ts';
import { openSse } from './sse.ts';
import { openApiDocument } from './openapi.ts';
import { serveDashboard } from './dashboard.ts';

/** Bodies larger than this are refused with 413 (a job definition is a few kilobytes). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

export type HttpLogEvent =
  | {
      event: 'http.unauthorized';
      remote: string;
      method: string;
      path: string;
      reason: 'missing' | 'unknown';
    }
  | {
      event: 'http.denied';
      remote: string;
      method: string;
      path: string;
      client: string | null;
      scope: Scope;
      required: Scope;
    }
  | { event: 'http.error'; method: string; path: string; message: string };

/** What a probe or stream handler needs to check the caller's token itself. */
export type Authorize = (req: FastifyRequest, res: FastifyReply, required: Scope) => Scope | undefined;

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tokens: TokenEntry[];
  /** /metrics, /healthz and /readyz need a read token too. */
  probesNeedToken: boolean;
  routes: ApiRoute[];
  /** Extra handlers (probes, metrics, the event stream) registered with the authorizer. */
  extras?: (server: FastifyInstance, authorize: Authorize) => void;
  version: string;
  log: (event: HttpLogEvent) => void;
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:7420 */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ErrorBody {
  error: { code: string; message: string; hint: string | null; field?: string };
}

export function errorBody(code: string, message: string, hint: string | null, field?: string): ErrorBody {
  return { error: { code, message, hint, ...(field !== undefined ? { field } : {}) } };
}

const STATUS_OF_EXIT: Record<number, number> = {
  [EXIT.usage]: 400,
  [EXIT.notFound]: 404,
  [EXIT.conflict]: 409,
  [EXIT.auth]: 401,
  [EXIT.failed]: 422,
};

/** A zod failure as a 400 naming the first field at fault. */
function invalid(where: 'body' | 'query' | 'params', error: z.ZodError): { status: number; body: ErrorBody } {
  const issue = error.issues[0];
  const field = [where === 'params' ? 'path' : where, ...(issue?.path ?? [])].map(String).join('.');
  return {
    status: 400,
    body: errorBody(
      'invalid',
      `${field}: ${issue?.message ?? 'invalid'}`,
      'the OpenAPI document at /api/v1/openapi.json describes every field',
      field,
    ),
  };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const server = Fastify({ bodyLimit: BODY_LIMIT_BYTES, logger: false, return503OnClosing: true });

  const authorize: Authorize = (req, res, required) => {
    const path = req.url.split('?')[0] ?? req.url;
    const remote = req.socket.remoteAddress ?? '?';
    const found = bearerLookup(req.headers.authorization, opts.tokens);
    if (typeof found === 'string') {
      opts.log({ event: 'http.unauthorized', remote, method: req.method, path, reason: found });
      void res
        .code(401)
        .header('www-authenticate', 'Bearer realm="nightshift"')
        .send(
          errorBody(
            'unauthorized',
            found === 'missing'
              ? 'missing bearer token (Authorization: Bearer TOKEN)'
              : 'unknown bearer token',
            opts.tokens.length === 0
              ? 'no API clients are configured: add "http": {"clients": [...]} to config.json (see docs/http-api.md)'
              : 'send a token configured under http.clients in config.json',
          ),
        );
      return undefined;
    }
    if (!scopeAllows(found.scope, required)) {
      opts.log({
        event: 'http.denied',
        remote,
        method: req.method,
        path,
        client: found.client ?? null,
        scope: found.scope,
        required,
      });
      void res
        .code(403)
        .send(
          errorBody(
            'forbidden',
            `${req.method} ${path} needs scope "${required}"; this token has scope "${found.scope}"`,
            'use a token with that scope (read < operate < admin)',
          ),
        );
      return undefined;
    }
    return found.scope;
  };

  server.setErrorHandler((err, req, res) => {
    const path = req.url.split('?')[0] ?? req.url;
    if (err instanceof UserError) {
      void res
        .code(STATUS_OF_EXIT[err.exitCode] ?? 400)
        .send(defaultRedactor.redactValue(errorBody(err.code, err.message, err.hint ?? null)));
      return;
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void res
        .code(413)
        .send(errorBody('too_large', `request body over ${BODY_LIMIT_BYTES} bytes`, 'send a smaller body'));
      return;
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own refusals: malformed JSON, unsupported media type.
      void res
        .code(e.statusCode)
        .send(
          errorBody(
            'invalid',
            `body: ${e.message ?? 'invalid'}`,
            'send a JSON object with content-type application/json',
          ),
        );
      return;
    }
    const message = defaultRedactor.redact(e.message ?? String(err));
    opts.log({ event: 'http.error', method: req.method, path, message });
    void res.code(500).send(errorBody('internal', `internal error: ${message}`, null));
  });

  server.setNotFoundHandler((req, res) => {
    void res
      .code(404)
      .send(
        errorBody(
          'not_found',
          `no endpoint ${req.method} ${req.url.split('?')[0]}`,
          'the endpoints are listed in /api/v1/openapi.json',
        ),
      );
  });

  for (const r of opts.routes) {
    server.route({
      method: r.method,
      url: r.url,
      handler: async (req, res) => {
        const scope = authorize(req, res, r.scope);
        if (scope === undefined) return res;
        const parsed: Record<'params' | 'query' | 'body', unknown> = {
          params: {},
          query: {},
          body: undefined,
        };
        for (const where of ['params', 'query', 'body'] as const) {
          const schema = r[where];
          if (!schema) continue;
          const result = schema.safeParse(req[where] ?? (where === 'body' ? undefined : {}));
          if (!result.success) {
            const { status, body } = invalid(where, result.error);
            return res.code(status).send(body);
          }
          parsed[where] = result.data;
        }
        const abort = new AbortController();
        req.raw.on('close', () => abort.abort());
        const out = await r.handler({
          params: parsed.params,
          query: parsed.query,
          body: parsed.body,
          scope,
          signal: abort.signal,
        });
        if (out instanceof EventStream) {
          let cleanup = (): void => {};
          const channel = openSse(req, res, out.comment, () => cleanup());
          cleanup = out.start(channel);
          if (req.raw.destroyed) cleanup();
          return res;
        }
        // Every answer passes the redactor: a value resolved from a secret cannot leave here.
        if (out instanceof Reply) return res.code(out.status).send(defaultRedactor.redactValue(out.body));
        return res.send(defaultRedactor.redactValue(out));
      },
    });
  }

  const document = openApiDocument(opts.routes, opts.version);
  server.get('/api/v1/openapi.json', async () => document);
  opts.extras?.(server, authorize);
  serveDashboard(server);

  await server.listen({ host: opts.host, port: opts.port });
  const port = (server.server.address() as AddressInfo).port;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: async () => {
      // Open event streams would hold close() forever.
      server.server.closeAllConnections();
      await server.close();
    },
  };
}
