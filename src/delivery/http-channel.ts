/**
 * The shared shape of the HTTP channels: resolve secrets, build the request, POST it with
 * retries, and report a result whose error holds no secret.
 */
import type { DeliveryResult, SendOptions } from './channel.ts';
import type { ResolvedDeps } from './deps.ts';
import { Scrubber, classify, postOnce } from './http.ts';
import type { HttpResponse } from './http.ts';
import { withRetry } from './retry.ts';
import type { AttemptOutcome } from './retry.ts';

export interface HttpRequestPlan {
  url: string;
  /** How the destination is named in errors; never contains a secret. */
  display: string;
  body: string;
  /** Called per attempt (a signature carries the attempt's timestamp). */
  headers: () => Record<string, string>;
  /** Protocol-specific reading of an answer; default `classify`. */
  classify?: (res: HttpResponse, nowMs: number) => AttemptOutcome;
}

/**
 * Sends one notification over HTTP. `plan` resolves the channel's secrets through `secret`, which
 * also registers each value with the scrubber.
 */
export async function deliverHttp(
  channelLabel: string,
  deps: ResolvedDeps,
  opts: SendOptions | undefined,
  plan: (secret: (ref: string) => Promise<string>) => Promise<HttpRequestPlan>,
): Promise<DeliveryResult> {
  const started = deps.now();
  const scrubber = new Scrubber();
  const secret = async (ref: string): Promise<string> => {
    let value: string;
    try {
      value = await deps.resolveSecret(ref);
    } catch (err) {
      throw new SecretUnavailable(ref, err instanceof Error ? err.message : String(err));
    }
    scrubber.add(value);
    return value;
  };
  let req: HttpRequestPlan;
  try {
    req = await plan(secret);
  } catch (err) {
    const message =
      err instanceof SecretUnavailable
        ? `cannot resolve secret ${err.ref} for ${channelLabel}: ${err.message}`
        : `cannot prepare ${channelLabel}: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, attempts: 0, error: scrubber.scrub(message), durationMs: deps.now() - started };
  }
  const result = await withRetry(
    async () => {
      const res = await postOnce(req.url, { headers: req.headers(), body: req.body }, req.display, {
        fetch: deps.fetch,
        timeoutMs: deps.timeoutMs,
        ...(opts?.signal && { signal: opts.signal }),
      });
      if ('ok' in res) return res;
      return (req.classify ?? ((r, now) => classify(r, req.display, now)))(res, deps.now());
    },
    { policy: deps.policy, sleep: deps.sleep, now: deps.now, ...(opts?.signal && { signal: opts.signal }) },
  );
  if (result.error !== undefined) result.error = scrubber.scrub(result.error);
  // Count secret resolution too: it is part of what the caller waited for.
  result.durationMs = Math.max(0, deps.now() - started);
  return result;
}

class SecretUnavailable extends Error {
  constructor(
    readonly ref: string,
    message: string,
  ) {
    super(message);
  }
}
