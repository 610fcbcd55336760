/**
 * healthchecks.io-style pings: `POST <url>/start?rid=<runId>` when a run starts, `<url>?rid=` when
 * it ends ok, `<url>/fail?rid=` when it fails, `<url>/log?rid=` when a failed attempt will be
 * retried (logged by the monitor without marking the check down: the retry may still succeed). The URL is the job's `healthcheck.url`, else the
 * configuration's `healthchecks.baseUrl` + `/` + the job id (a slug that survives renames). A ping
 * has a short timeout and its failure is only logged: monitoring must never fail the work.
 */
import type { Job, Run } from '../domain/job.ts';
import { classify } from './policy.ts';

export const HEALTHCHECK_TIMEOUT_MS = 10_000;
/** healthchecks.io keeps the first 100 kB of a ping body; a reason needs far less. */
const MAX_BODY = 10_000;

export type PingKind = 'start' | 'success' | 'fail' | 'log';

export function pingBaseUrl(job: Job, baseUrl: string | undefined): string | undefined {
  if (job.healthcheck?.url) return job.healthcheck.url;
  if (baseUrl) return `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(job.id)}`;
  return undefined;
}

/** The ping a finished run sends; none for skipped, interrupted or delivered runs (nothing was proven either way). */
export function finishPing(run: Run): PingKind | undefined {
  const c = classify(run.status);
  return c === 'success' ? 'success' : c === 'failure' ? 'fail' : undefined;
}

export function pingUrl(base: string, kind: PingKind, runId: string): string {
  const u = new URL(base);
  if (kind !== 'success') u.pathname = `${u.pathname.replace(/\/+$/, '')}/${kind}`;
  u.searchParams.set('rid', runId);
  return u.toString();
}

/** The URL without path and query, for logs: a ping URL's path often is its credential (the check's UUID). */
export function safeUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(invalid URL)';
  }
}

export interface PingResult {
  ok: boolean;
  status?: number;
  error?: string;
}

/** Sends one ping; never throws. The body is the run's status and reason (healthchecks.io shows it). */
export async function ping(
  url: string,
  body: string,
  opts: { fetch?: typeof fetch; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<PingResult> {
  const doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? HEALTHCHECK_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await doFetch(url, {
      method: 'POST',
      body: body.slice(0, MAX_BODY),
      headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'nightshift' },
      redirect: 'follow',
      signal,
    });
    // The answer's body is a short "OK"; read it so the connection is released.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: `${safeUrl(url)} answered HTTP ${res.status}` };
  } catch (err) {
    const reason = timeout.aborted
      ? `no answer within ${opts.timeoutMs ?? HEALTHCHECK_TIMEOUT_MS} ms`
      : err instanceof Error
        ? err.cause instanceof Error
          ? err.cause.message
          : err.message
        : String(err);
    return { ok: false, error: `${safeUrl(url)}: ${reason}` };
  }
}

export function pingBody(run: Run): string {
  return run.error ? `${run.status}: ${run.error}` : run.status;
}
