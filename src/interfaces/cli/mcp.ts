/**
 * `nightshift mcp [--scope read|operate|admin]`: the MCP server over stdio, for an MCP client that
 * starts it as a subprocess. stdout carries the protocol and nothing else; log lines go to stderr
 * as JSON. It ends when the client closes stdin, after any run it started itself has finished.
 */
import type { Command } from '@commander-js/extra-typings';
import { openApp } from '../../app/app.ts';
import { globalOptions } from './context.ts';
import { parseScope } from '../../domain/scope.ts';

export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description('serve the MCP tools over stdio (for agents); --scope limits what the client may do')
    .option(
      '--scope <scope>',
      'read (inspect), operate (also run jobs), admin (also add/edit/remove)',
      'read',
    )
    .action(async (opts, cmd) => {
      const scope = parseScope(opts.scope);
      const { home } = globalOptions(cmd);
      // Loaded here: the SDK is only needed by this command.
      const { createMcpServer, stopMcpRuns, whenRunsSettled } = await import('../mcp/server.ts');
      const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
      const app = await openApp(home);
      const log = (e: object): void => {
        process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), ...e }) + '\n');
      };
      const version = cmd.parent?.version();
      const server = createMcpServer({ app, scope, log, ...(version ? { version } : {}) });
      // The client closing stdin lets runs this server started finish; a signal ends them.
      let signalled = false;
      const closed = new Promise<void>((resolve) => {
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
        for (const sig of ['SIGTERM', 'SIGINT'] as const) {
          process.once(sig, () => {
            signalled = true;
            resolve();
          });
        }
      });
      try {
        await server.connect(new StdioServerTransport());
        log({ event: 'mcp.started', scope, home: app.home.dir, pid: process.pid });
        await closed;
        if (signalled) stopMcpRuns(server);
        await whenRunsSettled(server);
        await server.close();
      } finally {
        await app.close();
      }
    });
}
