/**
 * The output of runs while they run: a bounded tail per running run, fed by the executors'
 * output hook, and the followers of each run (the API's live tail). Memory only: a run's record
 * receives its output tail when it ends; until then this is the only place it is.
 *
 * The tail keeps the job's `history.outputTailBytes` (the cap of the stored tail). Followers get
 * whole lines, so a redactor applied per message never sees a secret cut in two; a line longer
 * than the cap is passed on in pieces of the cap.
 */
import { DEFAULT_HISTORY } from '../domain/job.ts';
import type { Job, TerminalRunStatus } from '../domain/job.ts';

export type OutputStream = 'stdout' | 'stderr';

export type LiveOutputEvent =
  { kind: 'line'; stream: OutputStream; text: string } | { kind: 'end'; status: TerminalRunStatus };

type Follower = (event: LiveOutputEvent) => void;

/** What the engine tells the live output (a port: the engine knows nothing else of it). */
export interface RunOutputSink {
  write(runId: string, job: Job, text: string, stream: OutputStream): void;
  /** The run's record is written: followers get `end`, the tail is dropped. */
  end(runId: string, status: TerminalRunStatus): void;
}

class RunTail {
  private chunks: string[] = [];
  private bytes = 0;
  truncated = false;
  readonly partial: Record<OutputStream, string> = { stdout: '', stderr: '' };

  constructor(readonly limit: number) {}

  append(text: string): void {
    if (this.limit <= 0) {
      this.truncated ||= text.length > 0;
      return;
    }
    this.chunks.push(text);
    this.bytes += Buffer.byteLength(text);
    while (this.bytes > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as string;
      const size = Buffer.byteLength(first);
      this.truncated = true;
      if (this.bytes - size >= this.limit || this.chunks.length > 1) {
        this.chunks.shift();
        this.bytes -= size;
      } else {
        // One chunk over the cap: keep its last `limit` bytes (a cut character is dropped).
        const kept = Buffer.from(first).subarray(size - this.limit);
        let start = 0;
        while (start < Math.min(3, kept.length) && ((kept[start] as number) & 0xc0) === 0x80) start++;
        this.chunks = [kept.subarray(start).toString('utf8')];
        this.bytes = Buffer.byteLength(this.chunks[0] as string);
      }
    }
  }

  text(): string {
    return this.chunks.join('');
  }
}

export class LiveOutput implements RunOutputSink {
  private readonly runs = new Map<string, RunTail>();
  private readonly followers = new Map<string, Set<Follower>>();

  constructor(private readonly defaultLimit = DEFAULT_HISTORY.outputTailBytes) {}

  write(runId: string, job: Job, text: string, stream: OutputStream): void {
    let tail = this.runs.get(runId);
    if (!tail) {
      tail = new RunTail(job.history?.outputTailBytes ?? this.defaultLimit);
      this.runs.set(runId, tail);
    }
    tail.append(text);
    const lines = (tail.partial[stream] + text).split('\n');
    let rest = lines.pop() ?? '';
    const max = Math.max(tail.limit, 1);
    while (rest.length > max) {
      lines.push(rest.slice(0, max));
      rest = rest.slice(max);
    }
    tail.partial[stream] = rest;
    for (const line of lines) this.emit(runId, { kind: 'line', stream, text: line });
  }

  end(runId: string, status: TerminalRunStatus): void {
    const tail = this.runs.get(runId);
    this.runs.delete(runId);
    if (!tail) {
      this.emit(runId, { kind: 'end', status });
      this.followers.delete(runId);
      return;
    }
    for (const stream of ['stdout', 'stderr'] as const)
      if (tail.partial[stream] !== '') this.emit(runId, { kind: 'line', stream, text: tail.partial[stream] });
    this.emit(runId, { kind: 'end', status });
    this.followers.delete(runId);
  }

  /** The current tail of a running run; undefined when this process holds no output of it. */
  tail(runId: string): { text: string; truncated: boolean } | undefined {
    const tail = this.runs.get(runId);
    return tail ? { text: tail.text(), truncated: tail.truncated } : undefined;
  }

  /** Follows a run's output from now on (whole lines, then `end`). Returns the unsubscribe. */
  follow(runId: string, follower: Follower): () => void {
    let set = this.followers.get(runId);
    if (!set) {
      set = new Set();
      this.followers.set(runId, set);
    }
    const s = set;
    s.add(follower);
    return () => {
      s.delete(follower);
      if (s.size === 0 && this.followers.get(runId) === s) this.followers.delete(runId);
    };
  }

  private emit(runId: string, event: LiveOutputEvent): void {
    for (const f of this.followers.get(runId) ?? [])
      try {
        f(event);
      } catch {
        // A follower that fails (a closed connection) must not stop the run's output.
      }
  }
}
