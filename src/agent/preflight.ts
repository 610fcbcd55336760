/**
 * Preflight: before a turn, ask each endpoint of the fallback chain whether it is up, so a turn on a
 * laptop whose local model server is off is `skipped` at once instead of waiting out timeouts.
 * Ollama is asked `GET /api/tags` at the server root; OpenAI-compatible servers `GET {baseUrl}/models`.
 * Each answer (up or down) is kept for 5 minutes per endpoint, by the injected clock.
 */
import type { Clock } from '../domain/clock.ts';
import { ChatClient, ChatError, displayUrl } from './chat-client.ts';
import type { FetchLike } from './chat-client.ts';
import type { EndpointKind } from '../domain/chat.ts';

export const PREFLIGHT_CACHE_MS = 5 * 60 * 1000;
const DEFAULT_PROBE_TIMEOUT_MS = 5000;

export interface PreflightTarget {
  baseUrl: string;
  kind?: EndpointKind;
  /** The resolved key, sent as a bearer token (hosted `/models` endpoints require it). */
  apiKey?: string;
}

export interface PreflightResult {
  up: boolean;
  /** Why it counts as down, in words (no secrets). */
  reason?: string;
  /** The URL that was asked. */
  url: string;
  checkedAtMs: number;
}

export interface PreflightOptions {
  clock: Clock;
  fetch?: FetchLike;
  probeTimeoutMs?: number;
  cacheMs?: number;
}

export class Preflight {
  private readonly cache = new Map<string, PreflightResult>();
  private readonly clock: Clock;
  private readonly fetchFn: FetchLike | undefined;
  private readonly probeTimeoutMs: number;
  private readonly cacheMs: number;

  constructor(opts: PreflightOptions) {
    this.clock = opts.clock;
    this.fetchFn = opts.fetch;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.cacheMs = opts.cacheMs ?? PREFLIGHT_CACHE_MS;
  }

  async check(target: PreflightTarget, signal?: AbortSignal): Promise<PreflightResult> {
    const url = probeUrl(target);
    const cached = this.cache.get(url);
    if (cached && this.clock.now() - cached.checkedAtMs < this.cacheMs) return cached;
    const client = new ChatClient({ baseUrl: target.baseUrl, apiKey: target.apiKey, fetch: this.fetchFn });
    let result: PreflightResult;
    try {
      await client.probe(url, { timeoutMs: this.probeTimeoutMs, signal });
      result = { up: true, url, checkedAtMs: this.clock.now() };
    } catch (err) {
      // A cancelled check says nothing about the endpoint; do not remember it.
      if (err instanceof ChatError && err.kind === 'aborted') throw err;
      result = { up: false, reason: downReason(err), url, checkedAtMs: this.clock.now() };
    }
    this.cache.set(url, result);
    return result;
  }

  /** Forgets a cached answer, e.g. after the endpoint failed during a turn. */
  forget(target: PreflightTarget): void {
    this.cache.delete(probeUrl(target));
  }
}

/** The URL preflight asks for an endpoint. */
export function probeUrl(target: PreflightTarget): string {
  const base = target.baseUrl.replace(/\/+$/, '');
  if (target.kind === 'ollama') {
    // Ollama's OpenAI-compatible API lives under /v1; its own API (and /api/tags) at the root.
    const u = new URL(base);
    u.pathname = u.pathname.replace(/\/v1$/, '').replace(/\/+$/, '') + '/api/tags';
    return u.toString();
  }
  return `${base}/models`;
}

function downReason(err: unknown): string {
  if (err instanceof ChatError) {
    if (err.kind === 'http') return `HTTP ${err.status ?? '?'}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** "http://a/v1 (cannot reach …); http://b/v1 (HTTP 500)" */
export function describeDown(results: { baseUrl: string; result: PreflightResult }[]): string {
  return results.map((r) => `${displayUrl(r.baseUrl)} (${r.result.reason ?? 'down'})`).join('; ');
}
