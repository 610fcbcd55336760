/**
 * `cmd:<command>` / `cmd:["argv","json"]`: the trimmed stdout of a command (a password manager,
 * `pass show`, `op read`, `security find-generic-password -w`). The string form runs through
 * `/bin/sh -c`; the JSON form runs the program directly. The command gets no stdin, runs in its
 * own process group (killed whole on timeout), and its stderr tail is redacted before it is shown.
 */
import { spawn } from 'node:child_process';
import { EXIT } from '../../domain/errors.ts';
import { DEFAULT_CMD_TIMEOUT_MS } from '../secrets-config.ts';
import { SecretError } from '../provider.ts';
import type { ResolveContext, SecretProvider } from '../provider.ts';
import { Redactor } from '../redact.ts';
import type { SecretRef } from '../secret-ref.ts';

const MAX_STDOUT = 1024 * 1024;
const STDERR_TAIL = 1000;

export const cmdProvider: SecretProvider = {
  scheme: 'cmd',
  async resolve(ref: SecretRef, ctx: ResolveContext): Promise<string> {
    if (ref.scheme !== 'cmd') throw new Error(`cmd provider got a ${ref.scheme}: reference`);
    const timeoutMs = ctx.config.cmd?.timeoutMs ?? DEFAULT_CMD_TIMEOUT_MS;
    const [file, args] = ref.argv
      ? [ref.argv[0] ?? '', ref.argv.slice(1)]
      : ['/bin/sh', ['-c', ref.shell ?? '']];
    const result = await run(file, args, ctx.env, timeoutMs);
    const value = result.stdout.trim();
    // What the command printed may be the secret even when it failed; keep it out of the message.
    const local = new Redactor();
    local.add(value);
    const tail = (s: string): string => local.redact(ctx.redactor.redact(s.trim().slice(-STDERR_TAIL)));

    if (result.spawnError !== undefined) {
      const notFound = result.spawnError === 'ENOENT';
      throw new SecretError(
        ref.text,
        notFound ? `command not found: ${file}` : `cannot start ${file} (${result.spawnError})`,
        {
          hint: notFound ? 'use the full path of the program, or make sure it is on PATH' : undefined,
          exitCode: notFound ? EXIT.notFound : EXIT.failed,
        },
      );
    }
    if (result.timedOut)
      throw new SecretError(
        ref.text,
        `the command did not finish within ${timeoutMs / 1000} s and was killed`,
        {
          hint: 'make sure it does not wait for input (stdin is closed) or a prompt, or raise secrets.cmd.timeoutMs',
        },
      );
    if (result.code !== 0) {
      const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
      const err = tail(result.stderr);
      throw new SecretError(ref.text, `the command ${status}${err ? `: ${err}` : ' (no stderr)'}`, {
        hint: 'run the command by hand as the same user to see why it fails',
      });
    }
    if (result.truncated)
      throw new SecretError(
        ref.text,
        `the command printed more than ${MAX_STDOUT} bytes; a secret is one value`,
      );
    if (value === '')
      throw new SecretError(ref.text, 'the command printed nothing on stdout', {
        hint: 'the command must print the secret on stdout',
      });
    return value;
  },
};

interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  truncated: boolean;
  spawnError?: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let timedOut = false;
    let truncated = false;
    let settled = false;
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > MAX_STDOUT) {
        truncated = true;
        killGroup();
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-4 * STDERR_TAIL);
    });
    const finish = (r: Partial<RunResult>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        code: null,
        signal: null,
        timedOut,
        truncated,
        ...r,
      });
    };
    child.on('error', (err: NodeJS.ErrnoException) => finish({ spawnError: err.code ?? err.message }));
    // 'close' (not 'exit'): all output has been read by then.
    child.on('close', (code, signal) => {
      // A grandchild left holding nothing is harmless, but one still running after the secret was
      // printed has no business outliving the lookup.
      if (!timedOut) killGroup();
      finish({ code, signal });
    });
  });
}
