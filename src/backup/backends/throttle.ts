/**
 * `--limit-upload RATE` for remote repositories: a token bucket in front of the store's writes.
 * Each write takes its size in tokens before it is sent; a write larger than what is in the bucket
 * leaves it in debt, and the next write waits until the debt is paid. So the average upload rate
 * over any span longer than a pack or two stays at or under the limit, however many writes run
 * at once. Reads, listings and removals are not limited (they are small, or a restore).
 */
import { SystemClock, type Clock } from '../../domain/clock.ts';
import type { BlobStore } from '../ports.ts';

export interface TokenBucketOptions {
  /** Bytes per second. */
  rate: number;
  /** Bytes that may go at once after an idle spell (default: one second's worth). */
  burst?: number;
  clock?: Pick<Clock, 'now' | 'at'>;
}

export class TokenBucket {
  readonly rate: number;
  private readonly burst: number;
  private readonly clock: Pick<Clock, 'now' | 'at'>;
  private tokens: number;
  private last: number;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.rate > 0)) throw new Error('an upload limit must be above 0 bytes per second');
    this.rate = opts.rate;
    this.burst = opts.burst ?? opts.rate;
    this.clock = opts.clock ?? new SystemClock();
    this.tokens = this.burst;
    this.last = this.clock.now();
  }

  /** Waits until `bytes` may be sent (resolves at once while the bucket holds them). */
  take(bytes: number): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= bytes;
    if (this.tokens >= 0) return Promise.resolve();
    const waitMs = Math.ceil((-this.tokens * 1000) / this.rate);
    return new Promise((resolve) => this.clock.at(now + waitMs, resolve));
  }
}

/** `store` with its writes paced by `bucket`; everything else passes straight through. */
export class ThrottledBlobStore implements BlobStore {
  readonly location: string;
  readonly packWrites?: number;

  constructor(
    private readonly inner: BlobStore,
    private readonly bucket: TokenBucket,
  ) {
    this.location = inner.location;
    if (inner.packWrites !== undefined) this.packWrites = inner.packWrites;
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    await this.bucket.take(data.length);
    await this.inner.write(path, data);
  }

  read(path: string): Promise<Uint8Array> {
    return this.inner.read(path);
  }

  readRange(path: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.inner.readRange(path, offset, length, into);
  }

  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  listSizes(dir: string): Promise<{ path: string; size: number }[]> {
    return this.inner.listSizes(dir);
  }

  size(path: string): Promise<number> {
    return this.inner.size(path);
  }

  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
