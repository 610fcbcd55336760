/**
 * What the server lends its tool groups (job-tools.ts, run-tools.ts, status-tool.ts): the app, the
 * client's guard, the run path, and the hook called after a job changed.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { App } from '../../app/app.ts';
import type { Scope } from '../../domain/scope.ts';
import type { Guarded, Structured } from './guard.ts';
import type { RunArgs } from './shapes.ts';

export interface ToolContext {
  server: McpServer;
  app: App;
  /** The client's scope (the status tool reports it). */
  scope: Scope;
  /** This nightshift's version (the doctor compares the daemon's with it). */
  version: string;
  guarded: Guarded;
  /** Requests a manual run of a job (already checked to exist), as job_run does. */
  startRun(jobId: string, args: RunArgs): Promise<Structured>;
  /** Tells a running engine that jobs changed (inside the daemon). */
  jobsChanged(): Promise<void>;
}
