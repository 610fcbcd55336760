/**
 * A repository in an S3 bucket (AWS or any S3-compatible server), under an optional prefix.
 * PutObject is atomic: an object is either absent or whole, so no half-written pack is ever
 * listed. Path-style addressing, so endpoints like MinIO or a NAS work without DNS buckets.
 * The SDK is loaded on first use so local-only commands do not pay for it.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../ports.ts';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from './retry.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region?: string;
}

export interface S3StoreOptions {
  endpoint: string;
  bucket: string;
  prefix: string;
  /** Absent: the SDK's own chain (AWS_* variables, ~/.aws, instance roles). */
  credentials?: S3Credentials;
  retry?: RetryOptions;
}

type Sdk = typeof S3Sdk;

function notFound(path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${path} does not exist`);
  e.code = 'ENOENT';
  return e;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

export class S3BlobStore implements BlobStore {
  readonly location: string;
  private readonly opts: S3StoreOptions;
  private client: Promise<{ sdk: Sdk; s3: S3Client }> | null = null;

  constructor(location: string, opts: S3StoreOptions) {
    this.location = location;
    this.opts = opts;
  }

  private connect(): Promise<{ sdk: Sdk; s3: S3Client }> {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => {
      const c = this.opts.credentials;
      const s3 = new sdk.S3Client({
        endpoint: this.opts.endpoint,
        forcePathStyle: true,
        region: c?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        // Our own retry loop decides (and reports); the SDK's would double the waits.
        maxAttempts: 1,
        ...(c
          ? {
              credentials: {
                accessKeyId: c.accessKeyId,
                secretAccessKey: c.secretAccessKey,
                ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
              },
            }
          : {}),
      });
      return { sdk, s3 };
    });
    return this.client;
  }

  private key(path: string): string {
    if (path.split('/').some((p) => p === '..' || p === '.') || path.startsWith('/'))
      throw new Error(`invalid repository path ${JSON.stringify(path)}`);
    return this.opts.prefix === '' ? path : `${this.opts.prefix}/${path}`;
  }

  private retry<T>(fn: (c: { sdk: Sdk; s3: S3Client }) => Promise<T>): Promise<T> {
    return withRetry(async () => fn(await this.connect()), this.opts.retry ?? DEFAULT_RETRY);
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    const Key = this.key(path);
    // Files are named by their content (or randomly): one already there holds these bytes.
    if (await this.exists(path)) return;
    await this.retry(({ sdk, s3 }) =>
      s3.send(
        new sdk.PutObjectCommand({ Bucket: this.opts.bucket, Key, Body: data, ContentLength: data.length }),
      ),
    );
  }

  async read(path: string): Promise<Uint8Array> {
    const Key = this.key(path);
    return this.retry(async ({ sdk, s3 }) => {
      try {
        const r = await s3.send(new sdk.GetObjectCommand({ Bucket: this.opts.bucket, Key }));
        return await r.Body!.transformToByteArray();
      } catch (err) {
        if (isNotFound(err)) throw notFound(path);
        throw err;
      }
    });
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const Key = this.key(path);
    return this.retry(async ({ sdk, s3 }) => {
      let bytes: Uint8Array;
      try {
        const r = await s3.send(
          new sdk.GetObjectCommand({
            Bucket: this.opts.bucket,
            Key,
            Range: `bytes=${offset}-${offset + length - 1}`,
          }),
        );
        bytes = await r.Body!.transformToByteArray();
      } catch (err) {
        if (isNotFound(err)) throw notFound(path);
        throw err;
      }
      if (bytes.length !== length)
        throw new Error(`${path} is shorter than expected (wanted ${offset + length} bytes)`);
      return bytes;
    });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.size(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async list(dir: string): Promise<string[]> {
    return (await this.listSizes(dir)).map((f) => f.path);
  }

  async listSizes(dir: string): Promise<{ path: string; size: number }[]> {
    const base = this.key(dir) + '/';
    return this.retry(async ({ sdk, s3 }) => {
      const out: { path: string; size: number }[] = [];
      let token: string | undefined;
      // No Delimiter: a flat listing of everything under the prefix is what we need, and some
      // S3-compatible servers answer delimited listings wrongly.
      do {
        const r = await s3.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: base,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const o of r.Contents ?? [])
          if (o.Key && o.Key.length > base.length)
            out.push({ path: o.Key.slice(base.length), size: o.Size ?? 0 });
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    });
  }

  async size(path: string): Promise<number> {
    const Key = this.key(path);
    return this.retry(async ({ sdk, s3 }) => {
      try {
        const r = await s3.send(new sdk.HeadObjectCommand({ Bucket: this.opts.bucket, Key }));
        return r.ContentLength ?? 0;
      } catch (err) {
        if (isNotFound(err)) throw notFound(path);
        throw err;
      }
    });
  }

  async remove(path: string): Promise<void> {
    const Key = this.key(path);
    await this.retry(({ sdk, s3 }) =>
      s3.send(new sdk.DeleteObjectCommand({ Bucket: this.opts.bucket, Key })),
    );
  }

  /** Closes the client's sockets; a later call connects again. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) (await c.catch(() => null))?.s3.destroy();
  }
}
