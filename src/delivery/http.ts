/**
 * One HTTP POST for a channel, with a per-attempt timeout, and the generic reading of its answer
 * (2xx delivered; 429 and 5xx worth retrying; other 4xx final). Messages name the destination by a
 * safe display form and pass through a Scrubber, so tokens in URLs never reach an error.
 */
import { redact } from '../secrets/redact.ts';
import { Redactor } from '../secrets/redact.ts';
import { parseRetryAfter } from './retry.ts';
import type { AttemptOutcome } from './retry.ts';

/** Removes resolved secret values (and the default redactor's) from text bound for results. */
export class Scrubber {
  private readonly redactor = new Redactor();

  /** Registers a secret; for a URL also its path and query, which errors tend to quote alone. */
  add(value: string): void {
    this.redactor.add(value);
    try {
      const u = new URL(value);
      if (u.pathname.length >= 8) this.redactor.add(u.pathname);
      if (u.search.length >= 8) this.redactor.add(u.search);
    } catch {
      // not a URL: the value itself is registered above
    }
  }

  scrub(text: string): string {
    return redact(this.redactor.redact(text));
  }
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface PostDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Largest response body read back (error bodies are quoted in part, never whole). */
const MAX_BODY = 64 * 1024;

/**
 * POSTs once. Returns the response, or an outcome when no response came (refused, reset, timed
 * out, aborted). `display` is how the destination is named in messages; it must hold no secret.
 */
export async function postOnce(
  url: string,
  init: { headers: Record<string, string>; body: string },
  display: string,
  deps: PostDeps,
): Promise<HttpResponse | Extract<AttemptOutcome, { ok: false }>> {
  const timeout = AbortSignal.timeout(deps.timeoutMs);
  const signal = deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout;
  try {
    const res = await deps.fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal,
      redirect: 'error',
    });
    const text = await readLimited(res);
    return { status: res.status, headers: res.headers, text };
  } catch (err) {
    if (deps.signal?.aborted)
      return { ok: false, error: `cancelled sending to ${display}`, retryable: false };
    if (timeout.aborted)
      return {
        ok: false,
        error: `no answer from ${display} within ${formatMs(deps.timeoutMs)}`,
        retryable: true,
      };
    const e = err as Error & { cause?: { code?: string; message?: string } };
    // fetch rejects a request it cannot even build (a header value outside Latin-1) with a bare
    // TypeError: sending it again would fail the same way.
    if (e.name === 'TypeError' && e.cause === undefined)
      return { ok: false, error: `cannot send to ${display}: ${e.message}`, retryable: false };
    const detail = e.cause?.message ?? e.cause?.code ?? e.message;
    return { ok: false, error: `cannot reach ${display}: ${detail}`, retryable: true };
  }
}

async function readLimited(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_BODY) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY);
}

/** The generic reading of an HTTP answer. */
export function classify(res: HttpResponse, display: string, nowMs: number): AttemptOutcome {
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  const error = `${display} answered HTTP ${res.status}${snippet(res.text)}`;
  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), nowMs);
    return retryAfterMs === undefined
      ? { ok: false, status: res.status, error, retryable: true }
      : { ok: false, status: res.status, error, retryable: true, retryAfterMs };
  }
  // 408 (request timeout) and 5xx are the server's trouble and may pass; other 4xx will not.
  const retryable = res.status >= 500 || res.status === 408;
  return { ok: false, status: res.status, error, retryable };
}

/** A short, single-line excerpt of a response body for an error message. */
export function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '';
  return `: ${line.length > 200 ? line.slice(0, 200) + '…' : line}`;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Checks that a URL resolved from a secret reference is http(s), without quoting it (the whole
 * URL is the secret).
 */
export function requireHttpUrl(value: string, ref: string): string {
  let u: URL | undefined;
  try {
    u = new URL(value.trim());
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    throw new Error(`the value of ${ref} is not an http(s) URL`);
  return u.href;
}

/** A URL as it may be shown: scheme, host and path, without query string or credentials. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
