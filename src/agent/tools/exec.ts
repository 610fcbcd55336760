/**
 * The built-in `exec` tool: runs an argv the model asks for, but only when it starts with one of
 * the job's allowlisted argv prefixes (element by element, no shell). The process runs in its own
 * process group; on timeout or when the turn ends, the whole tree is ended the same way command
 * jobs end theirs (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn } from 'node:child_process';
import { OutputCapture } from '../../payloads/command.ts';
import { collectPayloadProcesses, terminateProcesses } from '../../payloads/process-tree.ts';
import type { ToolContext, ToolHandler, ToolOutcome } from '../types.ts';

export interface ExecToolOptions {
  /** Per call (default 60 s). */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL (default 2 s). */
  killGraceMs?: number;
  /** Output tail handed back to the model (default 8 KiB). */
  outputTailBytes?: number;
  cwd?: string;
  /** Extra environment for the process (on top of the daemon's). */
  env?: Record<string, string>;
}

/** Whether `argv` begins with one of the prefixes. An empty prefix allows nothing. */
export function argvAllowed(argv: readonly string[], allowlist: readonly (readonly string[])[]): boolean {
  return allowlist.some(
    (prefix) => prefix.length > 0 && prefix.length <= argv.length && prefix.every((p, i) => argv[i] === p),
  );
}

export function createExecTool(opts: ExecToolOptions = {}): ToolHandler {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const killGraceMs = opts.killGraceMs ?? 2000;
  const tailBytes = opts.outputTailBytes ?? 8 * 1024;
  return {
    definition: {
      name: 'exec',
      description:
        "Run a program with arguments (no shell). Only commands on this job's allowlist may run. " +
        'Returns the exit code and the tail of stdout+stderr.',
      parameters: {
        type: 'object',
        properties: {
          argv: { type: 'array', items: { type: 'string' }, description: 'program and arguments' },
        },
        required: ['argv'],
        additionalProperties: false,
      },
    },
    async run(args: unknown, ctx: ToolContext): Promise<ToolOutcome> {
      const argv = (args as { argv?: unknown } | null)?.argv;
      if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
        return {
          result: JSON.stringify({ error: 'exec needs {"argv": ["program", "arg", …]} with strings' }),
        };
      }
      if (!argvAllowed(argv, ctx.execAllowlist)) {
        // Only the program name: arguments may hold things that should not land in run records.
        return {
          denied: `exec of ${JSON.stringify(argv[0])} with these arguments is not allowed for this job`,
        };
      }
      return {
        result: JSON.stringify(await runArgv(argv, { timeoutMs, killGraceMs, tailBytes, ctx, opts })),
      };
    },
  };
}

interface ExecReport {
  exitCode: number | null;
  signal?: string;
  timedOut?: boolean;
  error?: string;
  output: string;
}

async function runArgv(
  argv: string[],
  o: { timeoutMs: number; killGraceMs: number; tailBytes: number; ctx: ToolContext; opts: ExecToolOptions },
): Promise<ExecReport> {
  const [file, ...rest] = argv as [string, ...string[]];
  const output = new OutputCapture(o.tailBytes);
  const child = spawn(file, rest, {
    cwd: o.opts.cwd,
    env: { ...process.env, ...o.opts.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((done) => child.once('error', done));
    const code = (err as NodeJS.ErrnoException).code;
    return {
      exitCode: null,
      error:
        code === 'ENOENT' ? `command not found: ${file}` : `could not start ${file}: ${code ?? err.message}`,
      output: '',
    };
  }
  child.on('error', () => {
    // A late error (signalling a reaped child) changes nothing.
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  child.stdout?.on('data', (c: Buffer) => output.push(c, 'stdout'));
  child.stderr?.on('data', (c: Buffer) => output.push(c, 'stderr'));

  let termination: Promise<unknown> | undefined;
  let timedOut = false;
  const stop = (): void => {
    if (termination) return;
    termination = terminateProcesses({
      pgid: pid,
      collect: () => collectPayloadProcesses(pid),
      graceMs: o.killGraceMs,
    });
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, o.timeoutMs);
  o.ctx.signal.addEventListener('abort', stop, { once: true });
  if (o.ctx.signal.aborted) stop();
  const exit = await exited;
  clearTimeout(timer);
  o.ctx.signal.removeEventListener('abort', stop);
  if (termination) await termination;
  await Promise.race([closed, new Promise((done) => setTimeout(done, 500).unref())]);
  child.stdout?.destroy();
  child.stderr?.destroy();
  const report: ExecReport = { exitCode: exit.code, output: output.text() };
  if (exit.signal) report.signal = exit.signal;
  if (timedOut) report.timedOut = true;
  return report;
}
