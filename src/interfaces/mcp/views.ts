/**
 * How jobs, runs and status look in MCP tool results: the CLI's `--json` shapes (views.ts), minus
 * anything that may hold a secret. Environment values and stdin contents never leave the store
 * through MCP; their presence is shown (env keys, input size) so an agent can still reason about
 * the job.
 */
import type { Job, Run } from '../../domain/job.ts';
import { jobView, runView } from '../cli/views.ts';

/** A job as `cron list --json` shows it, with `payload.env` and `payload.input` replaced by their shape. */
export function publicJob(job: Job, nowMs: number): Record<string, unknown> {
  const view = jobView(job, nowMs);
  if (job.payload.kind !== 'command') return { ...view, payload: job.payload };
  const { env, input, ...payload } = job.payload;
  return {
    ...view,
    payload: {
      ...payload,
      envKeys: Object.keys(env ?? {}),
      inputBytes: input === undefined ? null : Buffer.byteLength(input),
    },
  };
}

/** A run as `cron runs --json` shows it, plus the evidence checks and the ending signal. */
export function runDetail(run: Run): Record<string, unknown> {
  return { ...runView(run), signal: run.signal ?? null, evidence: run.evidence ?? [] };
}
