/**
 * The MCP server: the same operations as `nightshift cron …` and `nightshift backup …`, over the
 * same use cases (app/), with the same result shapes as `--json` and the same error messages.
 * Every tool is listed whatever the client's scope, so an agent can see what exists; a call
 * outside the scope returns a structured denial (and is logged) instead of running (guard.ts).
 * The tools are registered by noun: job-tools.ts, run-tools.ts, status-tool.ts, doctor-tool.ts,
 * backup-tools.ts.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { App } from '../../app/app.ts';
import type { RunRequester } from '../../app/runs.ts';
import type { Scope } from '../../domain/scope.ts';
import { registerBackupTools } from './backup-tools.ts';
import { createGuard, scopeNote } from './guard.ts';
import type { McpLogEvent } from './guard.ts';
import { registerJobTools } from './job-tools.ts';
import { createRunStarter, registerRunTools } from './run-tools.ts';
import { jobRef, outputShape, runArgs, runResultShape } from './shapes.ts';
import { registerStatusTool } from './status-tool.ts';
import { registerDoctorTool } from './doctor-tool.ts';
import type { ToolContext } from './tool-context.ts';

export type { McpLogEvent };

export interface McpServerDeps {
  app: App;
  scope: Scope;
  log?: (event: McpLogEvent) => void;
  /** Reported to clients as the server version. */
  version?: string;
  /**
   * Inside the daemon: its engine's requestRun, so a run asked for here starts at once. Absent,
   * runs go the way of `cron run` (queued for a daemon, or run by this process when there is none).
   */
  requestRun?: RunRequester;
  /**
   * Called after a tool added, changed or removed a job. Inside the daemon: its engine's refresh,
   * since the daemon does not see its own connection's writes as outside changes.
   */
  onJobsChanged?: () => Promise<void>;
}

const settling = new WeakMap<McpServer, Set<Promise<unknown>>>();
const stoppers = new WeakMap<McpServer, AbortController>();

/**
 * Ends the runs this server is executing itself (their whole process groups; each is recorded
 * with how it ended). For shutdown on a signal; follow with whenRunsSettled.
 */
export function stopMcpRuns(server: McpServer): void {
  stoppers.get(server)?.abort();
}

/**
 * Resolves when every run this server started in its own process (no daemon was running) has
 * finished. Call before closing the app.
 */
export async function whenRunsSettled(server: McpServer): Promise<void> {
  const set = settling.get(server);
  while (set && set.size > 0) await Promise.allSettled([...set]);
}

export function createMcpServer(deps: McpServerDeps): McpServer {
  const { app, scope } = deps;
  const log = deps.log ?? ((): void => {});
  const server = new McpServer(
    { name: 'nightshift', version: deps.version ?? '0.0.0' },
    { capabilities: { tools: {} } },
  );
  const background = new Set<Promise<unknown>>();
  settling.set(server, background);
  const stopper = new AbortController();
  stoppers.set(server, stopper);

  const guarded = createGuard(scope, log);
  const startRun = createRunStarter({
    app,
    log,
    ...(deps.requestRun ? { requestRun: deps.requestRun } : {}),
    signal: stopper.signal,
    background,
  });
  const ctx: ToolContext = {
    server,
    app,
    scope,
    version: deps.version ?? '0.0.0',
    guarded,
    startRun,
    jobsChanged: async (): Promise<void> => {
      await deps.onJobsChanged?.();
    },
  };
  registerJobTools(ctx);
  registerRunTools(ctx);
  registerStatusTool(ctx);
  registerDoctorTool(ctx);
  registerBackupTools(server, {
    app,
    guarded,
    startRun,
    scopeNote,
    schemas: { jobRef, runArgs, runResultShape, outputShape },
  });
  return server;
}
