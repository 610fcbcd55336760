/**
 * A client tool's standard output as a file's content (pg_dump, mariadb-dump, redis-cli --rdb,
 * git bundle, a user's command). Nothing touches the local disk: the bytes go from the pipe into
 * the chunker. A non-zero exit fails the read with the tool's own message (the tail of its
 * stderr); a missing tool is named with the Debian package that has it. What happened (exit
 * status, bytes, duration) is kept in `outcome` for the run's evidence.
 */
import { spawn } from 'node:child_process';

export interface StreamOutcome {
  /** Absent until the tool has ended (or could not start). */
  exitCode?: number | null;
  signal?: string | null;
  bytes: number;
  durationMs: number;
  error?: string;
}

export interface CommandStreamOptions {
  argv: string[];
  /** Added to the inherited environment (passwords go here, never into argv). */
  env?: Record<string, string>;
  cwd?: string;
  /** Debian package with the tool, for the "not installed" message. */
  debianPackage?: string;
  /** Bytes to drop from the end when `trimTail` says so (redis-cli's EOF marker on stdout). */
  trimTail?: (tail: Buffer) => number;
  now?: () => number;
}

const STDERR_KEEP = 4000;

/** Opens the tool's output as a stream of buffers; `outcome` is filled in as it runs. */
export function commandStream(
  opts: CommandStreamOptions,
  outcome: StreamOutcome,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => run(opts, outcome, signal)[Symbol.asyncIterator](),
  };
}

/** Holds back this many bytes so a trailing marker can be dropped at the end. */
const HOLD = 64;

async function* run(
  opts: CommandStreamOptions,
  outcome: StreamOutcome,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const now = opts.now ?? Date.now;
  const started = now();
  const [cmd, ...args] = opts.argv;
  const child = spawn(cmd!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(opts.env ?? {}) },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-STDERR_KEEP);
  });
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => resolve({ code, sig }));
  });
  exited.catch(() => {});
  const kill = (): void => {
    // The whole group: a shell's children (e.g. docker exec) go too.
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  };
  signal?.addEventListener('abort', kill, { once: true });
  let held: Buffer = Buffer.alloc(0);
  let completed = false;
  try {
    try {
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
        outcome.bytes += chunk.length;
        if (!opts.trimTail) {
          yield chunk;
          continue;
        }
        const all = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
        if (all.length > HOLD) {
          yield all.subarray(0, all.length - HOLD);
          held = Buffer.from(all.subarray(all.length - HOLD));
        } else held = all;
      }
    } catch (err) {
      void err; // the exit status below says what went wrong
    }
    let res: { code: number | null; sig: NodeJS.Signals | null };
    try {
      res = await exited;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      outcome.exitCode = null;
      outcome.error =
        e.code === 'ENOENT'
          ? `${cmd} is not installed (not found on PATH)${opts.debianPackage ? `; install the Debian package ${opts.debianPackage}` : ''}`
          : `${cmd} could not start: ${e.message}`;
      throw new Error(outcome.error);
    }
    outcome.exitCode = res.code;
    outcome.signal = res.sig;
    if (res.code !== 0) {
      const msg = stderr.trim().split('\n').slice(-5).join(' / ') || 'no message';
      outcome.error = `${cmd} ${res.sig ? `was killed by ${res.sig}` : `exited with status ${res.code}`}: ${msg}`;
      throw new Error(outcome.error);
    }
    if (held.length > 0) {
      const drop = opts.trimTail!(held);
      outcome.bytes -= drop;
      if (held.length - drop > 0) yield held.subarray(0, held.length - drop);
    }
    completed = true;
  } finally {
    signal?.removeEventListener('abort', kill);
    if (!completed && child.exitCode === null) kill();
    outcome.durationMs = now() - started;
  }
}

/**
 * redis-cli --rdb to standard output cannot truncate the 40-byte end-of-transfer mark it writes
 * after the RDB (it does so for a file): drop it when the RDB's end (0xFF + 8-byte CRC) precedes it.
 */
export function redisEofMark(tail: Buffer): number {
  if (tail.length < 49) return 0;
  const mark = tail.subarray(tail.length - 40);
  if (!/^[0-9a-f]{40}$/.test(mark.toString('latin1'))) return 0;
  return tail[tail.length - 49] === 0xff ? 40 : 0;
}
