/**
 * The `command` payload: runs a shell string (`/bin/sh -c`) or an argv vector as a child process
 * in its own process group, keeps a bounded tail of its output, enforces the timeout and checks the
 * job's evidence.
 *
 * Ending processes:
 * - On timeout or daemon shutdown, everything the run started is ended: the process group, the
 *   descendant tree (also members that left the group with setsid), and processes still carrying
 *   the run's NIGHTSHIFT_RUN_ID (a double-forked daemon whose parent is gone). SIGTERM first,
 *   SIGKILL after the grace period. No descendant survives.
 * - When the main process exits by itself, members of its process group that are still running
 *   (background jobs it forgot to wait for) and their descendants are ended the same way, so a run
 *   leaves nothing behind. A process that deliberately detached (setsid or a double fork, parent
 *   gone) is left alone: that is how a job starts a long-lived service.
 *
 * Timeouts and the grace period use real time: they bound real processes, whatever clock the
 * engine schedules with.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { DEFAULT_HISTORY, DEFAULT_KILL_GRACE_MS, DEFAULT_TIMEOUT_SECONDS } from '../domain/job.ts';
import type { CommandPayload } from '../domain/job.ts';
import { checkEvidence, compileOutputPattern, evidenceFailure } from './evidence.ts';
import type { ExecutionContext, ExecutionOutcome, Executor } from './executor.ts';
import { collectPayloadProcesses, groupAlive, terminateProcesses } from './process-tree.ts';

export interface CommandExecutorOptions {
  /** Between SIGTERM and SIGKILL (default 5000 ms). */
  killGraceMs?: number;
  /** Output tail kept when a job does not say (default: DEFAULT_HISTORY.outputTailBytes, 16 KiB). */
  defaultOutputTailBytes?: number;
  /** How long to wait for output pipes held open by a detached process after the main one exited (default 1000 ms). */
  drainMs?: number;
}

export class CommandExecutor implements Executor<CommandPayload> {
  readonly kind = 'command' as const;
  private readonly killGraceMs: number;
  private readonly defaultTailBytes: number;
  private readonly drainMs: number;

  constructor(opts: CommandExecutorOptions = {}) {
    this.killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.defaultTailBytes = opts.defaultOutputTailBytes ?? DEFAULT_HISTORY.outputTailBytes;
    this.drainMs = opts.drainMs ?? 1000;
  }

  async execute(payload: CommandPayload, ctx: ExecutionContext): Promise<ExecutionOutcome> {
    if (ctx.signal.aborted) {
      return { status: 'interrupted', error: 'interrupted before it started: nightshift is shutting down' };
    }
    const target = commandLine(payload);
    if (typeof target === 'string') return { status: 'error', error: target };
    const cwd = resolve(homedir(), payload.cwd ?? '.');
    const cwdProblem = checkCwd(cwd);
    if (cwdProblem) return { status: 'error', error: cwdProblem };

    const tailBytes = ctx.job.history?.outputTailBytes ?? this.defaultTailBytes;
    let pattern: RegExp | undefined;
    try {
      if (ctx.job.evidence?.expectOutput !== undefined)
        pattern = compileOutputPattern(ctx.job.evidence.expectOutput);
    } catch {
      // checkEvidence reports the bad pattern.
    }
    const output = new OutputCapture(tailBytes, pattern);
    const marker = `NIGHTSHIFT_RUN_ID=${ctx.runId}`;

    let child: ChildProcess;
    try {
      child = spawn(target.file, target.args, {
        cwd,
        env: {
          ...process.env,
          ...payload.env,
          NIGHTSHIFT_JOB_ID: ctx.job.id,
          NIGHTSHIFT_RUN_ID: ctx.runId,
          NIGHTSHIFT_SLOT: new Date(ctx.slotMs).toISOString(),
          NIGHTSHIFT_ATTEMPT: String(ctx.attempt),
        },
        detached: true,
        stdio: [payload.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      return { status: 'error', error: spawnFailure(err, target.display) };
    }
    // Everything below up to the first await runs synchronously after spawn(): the child may
    // exit, or the daemon may shut down, before a 'spawn' event would arrive (seen under load).
    const pid = child.pid;
    if (pid === undefined) {
      const spawnError = await new Promise<Error>((done) => child.once('error', done));
      return { status: 'error', error: spawnFailure(spawnError, target.display) };
    }
    child.on('error', () => {
      // Later errors (a signal to an already-reaped child) change nothing about the outcome.
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
    const closed = new Promise<void>((done) => child.once('close', () => done()));
    const live = ctx.onOutput;
    for (const stream of ['stdout', 'stderr'] as const) {
      // One decoder per stream: a character cut between two chunks reaches the live tail whole.
      const decoder = live ? new StringDecoder('utf8') : undefined;
      child[stream]?.on('data', (chunk: Buffer) => {
        output.push(chunk, stream);
        const text = decoder?.write(chunk);
        if (text) live?.(text, stream);
      });
    }
    if (child.stdin) {
      child.stdin.on('error', () => {
        // EPIPE: the command exited without reading all its input; its exit status tells the story.
      });
      child.stdin.end(payload.input);
    }

    let stopped: 'timeout' | 'interrupted' | undefined;
    let termination: Promise<{ killed: boolean }> | undefined;
    const stop = (why: 'timeout' | 'interrupted'): void => {
      if (stopped) return;
      stopped = why;
      termination = terminateProcesses({
        pgid: pid,
        collect: () => collectPayloadProcesses(pid, marker),
        graceMs: this.killGraceMs,
      });
    };
    const timeoutSeconds = payload.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const timer = timeoutSeconds > 0 ? setTimeout(() => stop('timeout'), timeoutSeconds * 1000) : undefined;
    const onAbort = (): void => stop('interrupted');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    ctx.onSpawn?.(pid);

    const exit = await exited;
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    if (termination) {
      await termination;
    } else if (groupAlive(pid)) {
      // Background members of its group the command did not wait for (see the module comment).
      await terminateProcesses({
        pgid: pid,
        collect: () => collectPayloadProcesses(pid),
        graceMs: this.killGraceMs,
      });
    }
    await Promise.race([closed, delay(this.drainMs)]);
    child.stdout?.destroy();
    child.stderr?.destroy();

    const outputTail = output.text();
    const base = { exitCode: exit.code, signal: exit.signal, outputTail };
    if (stopped === 'timeout') {
      return {
        ...base,
        status: 'timeout',
        error: `timed out after ${timeoutSeconds}s; process group killed`,
      };
    }
    if (stopped === 'interrupted') {
      return {
        ...base,
        status: 'interrupted',
        error: 'interrupted: nightshift is shutting down; process group killed',
      };
    }
    if (exit.signal) return { ...base, status: 'error', error: `killed by ${exit.signal}` };
    if (exit.code !== 0) {
      return { ...base, status: 'error', error: exitReason(exit.code, payload.argv === undefined) };
    }
    const evidence = await checkEvidence(ctx.job.evidence ?? {}, {
      startedAtMs: ctx.startedAtMs,
      output: outputTail,
      cwd,
      outputMatched: output.matched,
      nowMs: ctx.now(),
    });
    const failure = evidenceFailure(evidence);
    const withEvidence = evidence.length > 0 ? { ...base, evidence } : base;
    return failure ? { ...withEvidence, status: 'error', error: failure } : { ...withEvidence, status: 'ok' };
  }
}

interface CommandLine {
  file: string;
  args: string[];
  /** For messages: the program, never its arguments (they may hold secrets). */
  display: string;
}

function commandLine(payload: CommandPayload): CommandLine | string {
  if (payload.argv !== undefined) {
    const [file, ...args] = payload.argv;
    if (file === undefined || file === '')
      return 'the job has an empty argv; set --command-argv or --command';
    return { file, args, display: file };
  }
  if (payload.command === undefined || payload.command.trim() === '') {
    return 'the job has no command; set --command or --command-argv';
  }
  return { file: '/bin/sh', args: ['-c', payload.command], display: '/bin/sh' };
}

function checkCwd(cwd: string): string | undefined {
  try {
    if (!statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `working directory ${cwd} does not exist`;
    return `cannot use working directory ${cwd}: ${code ?? (err as Error).message}`;
  }
  return undefined;
}

function spawnFailure(err: unknown, program: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return program.includes('/')
      ? `no such program: ${program}`
      : `command not found: ${program} (not on PATH)`;
  }
  if (code === 'EACCES') return `permission denied running ${program} (is it executable?)`;
  return `could not start ${program}: ${code ?? (err as Error).message}`;
}

function exitReason(code: number | null, viaShell: boolean): string {
  if (viaShell && code === 127) return 'exit code 127 (command not found)';
  if (viaShell && code === 126) return 'exit code 126 (not executable)';
  return `exit code ${code}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms).unref());
}

/** Longest unfinished line kept for line-by-line matching (a binary blob without newlines). */
const MAX_PARTIAL_LINE = 64 * 1024;

/**
 * Combined stdout+stderr: only the last `limit` bytes are kept. Output that scrolls out of the tail
 * is still tested line by line against the expectOutput pattern, so a match early in a long output
 * is not lost.
 */
export class OutputCapture {
  private chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;
  private readonly lines = new Map<string, { decoder: StringDecoder; partial: string }>();
  matched = false;

  constructor(
    private readonly limit: number,
    private readonly pattern?: RegExp,
  ) {}

  push(chunk: Buffer, stream = 'stdout'): void {
    if (this.pattern && !this.matched) this.matchLines(chunk, stream);
    if (this.limit <= 0) {
      this.truncated = this.truncated || chunk.length > 0;
      return;
    }
    if (chunk.length >= this.limit) {
      // Copy so the big chunk itself can be freed.
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.truncated = this.truncated || this.size > 0 || chunk.length > this.limit;
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - (this.chunks[0] as Buffer).length >= this.limit) {
      this.size -= (this.chunks.shift() as Buffer).length;
      this.truncated = true;
    }
  }

  /** The tail as text. A cut through a multi-byte character at the start is dropped, not mangled. */
  text(): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > this.limit) {
      buf = buf.subarray(buf.length - this.limit);
      this.truncated = true;
    }
    if (this.truncated) {
      let start = 0;
      // UTF-8 continuation bytes are 10xxxxxx; a character has at most 3 of them.
      while (start < Math.min(3, buf.length) && ((buf[start] as number) & 0xc0) === 0x80) start++;
      buf = buf.subarray(start);
    }
    return buf.toString('utf8');
  }

  private matchLines(chunk: Buffer, stream: string): void {
    let state = this.lines.get(stream);
    if (!state) {
      state = { decoder: new StringDecoder('utf8'), partial: '' };
      this.lines.set(stream, state);
    }
    const text = state.partial + state.decoder.write(chunk);
    const parts = text.split('\n');
    state.partial = (parts.pop() ?? '').slice(-MAX_PARTIAL_LINE);
    for (const line of parts) {
      if ((this.pattern as RegExp).test(line)) {
        this.matched = true;
        return;
      }
    }
  }
}
