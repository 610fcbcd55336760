/**
 * Retries with exponential backoff for the remote backends: a dropped connection, a timeout, a
 * throttled or 5xx answer is tried again; anything else (missing object, refused credentials, a
 * host key that does not match) fails at once. The last error is the one reported.
 */
export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  /** Delay before the second try; each later one is 4 times longer (with jitter), capped at 10 s. */
  baseMs: number;
  /** Waits; injectable so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseMs: 250 };

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ERR_SSH_CLOSED',
]);

/** Whether an error is worth another try. */
export function isTransient(err: unknown): boolean {
  const e = err as {
    code?: unknown;
    name?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    transient?: boolean;
    level?: string;
  };
  if (e === null || typeof e !== 'object') return false;
  if (e.transient === true) return true;
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout' || e.name === 'SlowDown') return true;
  // ssh2 reports socket-level failures with level 'client-socket' / 'client-timeout'.
  if (e.level === 'client-socket' || e.level === 'client-timeout') return true;
  return false;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn`; on a transient error waits and tries again, up to `opts.attempts` tries in all. */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions = DEFAULT_RETRY,
  onRetry?: (err: unknown, attempt: number) => void,
): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.attempts || !isTransient(err)) throw err;
      onRetry?.(err, attempt);
      const delay = Math.min(10_000, opts.baseMs * 4 ** (attempt - 1));
      await sleep(delay * (0.75 + Math.random() * 0.5));
    }
  }
}
