/**
 * The MCP tools over streamable HTTP at `/mcp`, for clients that connect rather than spawn.
 * Every request carries `Authorization: Bearer TOKEN`; the token decides the scope. Stateless:
 * each POST gets its own server bound to the caller's scope, so no session outlives a request
 * and nothing from one client's session can reach another's. Bound to loopback unless the caller
 * explicitly allows otherwise.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { App } from '../../app/app.ts';
import { UserError } from '../../domain/errors.ts';
import type { Scope } from '../../domain/scope.ts';
import { isLoopbackHost } from '../../config/config.ts';
import { bearerLookup, tokenTable } from '../bearer-tokens.ts';
import { createMcpServer, whenRunsSettled } from './server.ts';
import type { RunRequester } from '../../app/runs.ts';
import type { McpLogEvent } from './guard.ts';

export type McpHttpLogEvent =
  | McpLogEvent
  | { event: 'mcp.http.unauthorized'; remote: string; reason: 'missing' | 'unknown' }
  | { event: 'mcp.http.error'; message: string };

export interface McpHttpOptions {
  app: App;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Bearer token → scope. Tokens are secrets: resolve them from references before calling. */
  tokens: Record<string, Scope>;
  /** Required to bind anything other than a loopback address. */
  allowRemote?: boolean;
  log?: (event: McpHttpLogEvent) => void;
  /** Inside the daemon: its engine's requestRun (see McpServerDeps.requestRun). */
  requestRun?: RunRequester;
  /** Inside the daemon: its engine's refresh (see McpServerDeps.onJobsChanged). */
  onJobsChanged?: () => Promise<void>;
}

export interface McpHttpServer {
  /** e.g. http://127.0.0.1:43117/mcp */
  url: string;
  port: number;
  /** Stops accepting requests, waits for runs this server started, then closes. */
  close(): Promise<void>;
}

function jsonRpcError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

export async function startMcpHttp(opts: McpHttpOptions): Promise<McpHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && opts.allowRemote !== true) {
    throw new UserError(`mcp http: refusing to listen on ${host}, which is not a loopback address`, {
      hint: 'bind 127.0.0.1 and reach it through an SSH tunnel or a TLS reverse proxy, or allow remote binding explicitly',
    });
  }
  if (Object.keys(opts.tokens).length === 0) {
    throw new UserError('mcp http: no tokens configured', {
      hint: 'give at least one bearer token with its scope (read, operate or admin)',
    });
  }
  const table = tokenTable(
    Object.entries(opts.tokens).map(([token, scope]) => ({ token, scope })),
    'mcp http',
  );
  const log = opts.log ?? ((): void => {});
  const pending = new Set<Promise<void>>();

  const http = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log({ event: 'mcp.http.error', message: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) jsonRpcError(res, 500, 'internal error');
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') {
      jsonRpcError(res, 404, 'not found: the MCP endpoint is /mcp');
      return;
    }
    const found = bearerLookup(req.headers.authorization, table);
    const scope = typeof found === 'string' ? found : found.scope;
    if (scope === 'missing' || scope === 'unknown') {
      log({ event: 'mcp.http.unauthorized', remote: req.socket.remoteAddress ?? '?', reason: scope });
      jsonRpcError(
        res,
        401,
        scope === 'missing' ? 'missing bearer token (Authorization: Bearer TOKEN)' : 'unknown bearer token',
        { 'www-authenticate': 'Bearer realm="nightshift-mcp"' },
      );
      return;
    }
    if (req.method !== 'POST') {
      // Stateless: no server-initiated stream to resume (GET) and no session to end (DELETE).
      jsonRpcError(res, 405, 'method not allowed: POST JSON-RPC messages to /mcp', { allow: 'POST' });
      return;
    }
    const server = createMcpServer({
      app: opts.app,
      scope,
      log,
      ...(opts.requestRun ? { requestRun: opts.requestRun } : {}),
      ...(opts.onJobsChanged ? { onJobsChanged: opts.onJobsChanged } : {}),
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      // A run started by this request may still be going; the server is closed once it is done.
      const done = whenRunsSettled(server).then(() => server.close());
      pending.add(done);
      void done.finally(() => pending.delete(done));
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/mcp`,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
