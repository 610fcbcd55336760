/**
 * `mcp:<server>/<tool>[?arg=value&...]`: calls a tool on a configured MCP server (stdio or
 * streamable HTTP) and takes the text content of its result as the secret. This is how an
 * agent host keeps its backup key out of the agent's reach: the key lives behind a server that
 * fetches it from a vault, and nightshift asks that server at run time.
 */
// The SDK (with zod) is ~25 MiB of memory once loaded: only a secret that names an MCP server
// loads it, not every command that reads the config.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { EXIT } from '../../domain/errors.ts';
import { DEFAULT_MCP_TIMEOUT_MS } from '../secrets-config.ts';
import type { McpServerConfig, ValueSource } from '../secrets-config.ts';
import { resolveNested, SecretError } from '../provider.ts';
import type { ResolveContext, SecretProvider } from '../provider.ts';
import type { McpRef, SecretRef } from '../secret-ref.ts';

const STDERR_TAIL = 1000;

export const mcpProvider: SecretProvider = {
  scheme: 'mcp',
  async resolve(ref: SecretRef, ctx: ResolveContext): Promise<string> {
    if (ref.scheme !== 'mcp') throw new Error(`mcp provider got a ${ref.scheme}: reference`);
    const servers = ctx.config.mcpServers ?? {};
    const server = Object.hasOwn(servers, ref.server) ? servers[ref.server] : undefined;
    if (!server) {
      const known = Object.keys(servers);
      throw new SecretError(ref.text, `no MCP server named "${ref.server}" is configured`, {
        hint:
          known.length > 0
            ? `configured servers: ${known.join(', ')}`
            : 'add it under secrets.mcpServers (see docs/secrets.md)',
        exitCode: EXIT.usage,
      });
    }
    const timeoutMs = server.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
    const opened = await openTransport(ref, server, ctx);
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const client = new Client({ name: 'nightshift', version: '0.1.0' });
    // The SDK reports transport trouble here as well as by rejecting; rejecting is enough for us.
    client.onerror = () => {};
    try {
      try {
        await client.connect(opened.transport, { timeout: timeoutMs });
      } catch (err) {
        throw failure(ref, ctx, `cannot connect to MCP server "${ref.server}"`, err, opened.stderrTail());
      }
      let result: Awaited<ReturnType<Client['callTool']>>;
      try {
        result = await client.callTool({ name: ref.tool, arguments: { ...ref.args } }, undefined, {
          timeout: timeoutMs,
        });
      } catch (err) {
        throw failure(
          ref,
          ctx,
          `calling tool "${ref.tool}" on MCP server "${ref.server}" failed`,
          err,
          opened.stderrTail(),
        );
      }
      const text = textOf(result);
      if (result.isError === true)
        throw new SecretError(
          ref.text,
          `tool "${ref.tool}" on MCP server "${ref.server}" reported an error: ${ctx.redactor.redact(text.trim()) || '(no message)'}`,
          { hint: 'check the tool name, its arguments and the server log' },
        );
      const value = text.trim();
      if (value === '')
        throw new SecretError(
          ref.text,
          `tool "${ref.tool}" on MCP server "${ref.server}" returned no text content`,
          {
            hint: 'the tool must return the secret as a text content item',
          },
        );
      return value;
    } finally {
      await client.close().catch(() => {});
    }
  },
};

interface Opened {
  transport: Transport;
  stderrTail(): string;
}

async function openTransport(ref: McpRef, server: McpServerConfig, ctx: ResolveContext): Promise<Opened> {
  if ('url' in server) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(server.headers ?? {}))
      headers[k] = await valueOf(ref, `header ${k}`, v, ctx);
    let url: URL;
    try {
      url = new URL(server.url);
    } catch {
      throw new SecretError(ref.text, `MCP server "${ref.server}" has an invalid url`, {
        exitCode: EXIT.usage,
      });
    }
    const { StreamableHTTPClientTransport } =
      await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    return {
      transport: new StreamableHTTPClientTransport(url, { requestInit: { headers } }),
      stderrTail: () => '',
    };
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(server.env ?? {})) env[k] = await valueOf(ref, `variable ${k}`, v, ctx);
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({
    command: server.command,
    ...(server.args ? { args: server.args } : {}),
    env,
    ...(server.cwd ? { cwd: server.cwd } : {}),
    // Piped, not inherited: a server's log lines must not reach our output unredacted.
    stderr: 'pipe',
  });
  let tail = '';
  transport.stderr?.on('data', (b: Buffer) => {
    tail = (tail + b.toString('utf8')).slice(-4 * STDERR_TAIL);
  });
  return { transport, stderrTail: () => tail };
}

async function valueOf(ref: McpRef, what: string, v: ValueSource, ctx: ResolveContext): Promise<string> {
  if (typeof v === 'string') return v;
  const secret = await resolveNested(ctx, ref.text, `MCP server "${ref.server}" ${what}`, v.secret);
  return (v.prefix ?? '') + secret.reveal();
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const content = (result as { content?: unknown }).content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((c): c is { type: 'text'; text: string } => c?.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('');
}

function failure(ref: McpRef, ctx: ResolveContext, what: string, err: unknown, stderr: string): SecretError {
  const e = err as (Error & { code?: unknown; cause?: { code?: string; message?: string } }) | undefined;
  let detail = e instanceof Error ? e.message : String(err);
  // fetch hides the useful part (ECONNREFUSED, a bad port) in its cause.
  const cause = e?.cause?.code ?? e?.cause?.message;
  if (cause) detail += ` (${cause})`;
  if (typeof e?.code === 'number' && e.code >= 400 && e.code < 600) detail = `HTTP ${e.code}: ${detail}`;
  const tail = ctx.redactor.redact(stderr.trim().slice(-STDERR_TAIL));
  return new SecretError(
    ref.text,
    `${what}: ${ctx.redactor.redact(detail)}${tail ? ` (server stderr: ${tail})` : ''}`,
    {
      hint: 'check secrets.mcpServers and that the server starts and lists the tool (npx @modelcontextprotocol/inspector)',
    },
  );
}
