/**
 * The executor port: one implementation per payload kind. The engine hands over a claimed run and
 * gets back a terminal outcome; it never knows how a kind does its work.
 */
import type { OutputStream } from './live-output.ts';
import type { EvidenceResult, Job, Payload, RunDetails, TerminalRunStatus } from '../domain/job.ts';

export interface ExecutionContext {
  job: Job;
  runId: string;
  slotMs: number;
  attempt: number;
  /** Aborted when the daemon shuts down: the executor stops its work (whole process tree) and reports `interrupted`. */
  signal: AbortSignal;
  /** Called once the payload has a process (so a crash can be recovered by pid). */
  onSpawn?: (pid: number) => void;
  /** Receives the payload's output as it arrives (text, whole characters), for the live tail. */
  onOutput?: (text: string, stream: OutputStream) => void;
  /** The run's start, as the engine's clock saw it (evidence compares mtimes with it). */
  startedAtMs: number;
  now(): number;
}

export interface ExecutionOutcome {
  status: TerminalRunStatus;
  /** Reason for anything but `ok`, in words a user understands. */
  error?: string;
  exitCode?: number | null;
  signal?: string | null;
  outputTail?: string;
  evidence?: EvidenceResult[];
  details?: RunDetails;
}

export interface Executor<P extends Payload = Payload> {
  readonly kind: P['kind'];
  execute(payload: P, ctx: ExecutionContext): Promise<ExecutionOutcome>;
}
