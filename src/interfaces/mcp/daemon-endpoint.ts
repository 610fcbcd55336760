/**
 * The daemon's MCP endpoint: streamable HTTP per the configuration's `mcp.http` section (host,
 * port, and clients each with a bearer-token reference and a scope). Tokens are resolved here,
 * at start, through the secret providers and kept only in memory; they are never logged. Runs
 * requested through it go straight to the daemon's own engine.
 */
import type { App } from '../../app/app.ts';
import { resolveClientTokens } from '../bearer-tokens.ts';
import type { McpHttpLogEvent } from './http.ts';
import { startMcpHttp } from './http.ts';
import type { Scope } from '../../domain/scope.ts';
import type { RunRequester } from '../../app/runs.ts';

export type McpEndpointLogEvent =
  | McpHttpLogEvent
  | { event: 'mcp.http.started'; url: string; clients: Array<{ name: string; scope: Scope }> };

export interface McpEndpoint {
  /** e.g. http://127.0.0.1:8737/mcp */
  url: string;
  port: number;
  /** Stops accepting requests and waits for the requests in flight. */
  close(): Promise<void>;
}

/**
 * Starts the endpoint when the configuration has `mcp.http`; null when it has none. `requester`
 * is the daemon's engine (or its `requestRun`): manual runs asked for over MCP are queued with it,
 * so the daemon starts them at once, and jobs changed over MCP are reloaded with its `refresh`.
 */
export async function startMcpEndpoint(
  app: App,
  requester: RunRequester | { requestRun: RunRequester; refresh?: () => Promise<void> } | undefined,
  log: (event: McpEndpointLogEvent) => void,
): Promise<McpEndpoint | null> {
  const config = app.config().mcp.http;
  if (!config) return null;
  const tokens: Record<string, Scope> = {};
  for (const { token, scope } of await resolveClientTokens(app, config.clients, 'mcp.http'))
    tokens[token] = scope;
  const requestRun = typeof requester === 'function' ? requester : requester?.requestRun.bind(requester);
  // The engine learns of jobs changed through its own connection only when told.
  const refresh = typeof requester === 'object' ? requester.refresh?.bind(requester) : undefined;
  const server = await startMcpHttp({
    app,
    host: config.host,
    port: config.port,
    tokens,
    // The host is the user's explicit choice in a 0600 configuration file.
    allowRemote: true,
    log,
    ...(requestRun ? { requestRun } : {}),
    ...(refresh ? { onJobsChanged: refresh } : {}),
  });
  log({
    event: 'mcp.http.started',
    url: server.url,
    clients: config.clients.map((c) => ({ name: c.name, scope: c.scope })),
  });
  return { url: server.url, port: server.port, close: () => server.close() };
}
