/**
 * Compression and encryption of blobs on worker threads, so chunking and hashing on the main
 * thread overlap with zstd + AES-GCM on the other cores. The worker body is plain JavaScript
 * (evaluated, not loaded from a .ts file) so it runs the same under tsx, the bin launcher and tests;
 * it implements exactly `encryptBlob` from pack.ts: zstd when it pays, then seal with the given AAD.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MIN_COMPRESSION_GAIN, ZSTD_LEVEL } from './format.ts';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, randomBytes } = require('node:crypto');
const { compress } = require(workerData.zstdPath);
parentPort.on('message', (m) => {
  try {
    const data = m.data;
    let body = data;
    let compressed = false;
    if (data.length >= 64) {
      const c = compress(data, { compressionLevel: workerData.level });
      if (c.length <= data.length * (1 - workerData.minGain)) { body = c; compressed = true; }
    }
    const aad = Buffer.from(m.aadBase);
    aad[4] = m.type;
    aad[5] = compressed ? 1 : 0;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', m.key, nonce);
    cipher.setAAD(aad);
    const out = Buffer.concat([nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    const ab = out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
    parentPort.postMessage({ seq: m.seq, sealed: new Uint8Array(ab), compressed }, [ab]);
  } catch (err) {
    parentPort.postMessage({ seq: m.seq, error: String(err && err.message || err) });
  }
});
`;

interface Job {
  resolve: (r: { sealed: Buffer; compressed: boolean }) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class BlobWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private seq = 0;
  private next = 0;

  constructor(size: number) {
    const zstdPath = createRequire(import.meta.url).resolve('zstd-napi');
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { zstdPath, level: ZSTD_LEVEL, minGain: MIN_COMPRESSION_GAIN },
      });
      const slot: Slot = { worker, busy: 0 };
      worker.on(
        'message',
        (m: { seq: number; sealed?: Uint8Array; compressed?: boolean; error?: string }) => {
          const job = this.jobs.get(m.seq);
          this.jobs.delete(m.seq);
          if (--slot.busy === 0) worker.unref();
          if (!job) return;
          if (m.error !== undefined || !m.sealed)
            job.reject(new Error(`blob encryption failed: ${m.error ?? 'no output'}`));
          else
            job.resolve({
              sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength),
              compressed: !!m.compressed,
            });
        },
      );
      const fail = (err: Error): void => {
        // A dead worker leaves the pool; its (and any unanswered) jobs fail instead of hanging.
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        for (const [k, j] of this.jobs) {
          j.reject(err);
          this.jobs.delete(k);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`blob worker exited with code ${code}`)));
      worker.unref();
      this.slots.push(slot);
    }
  }

  /**
   * Seals `data` like pack.ts `encryptBlob`. `aadBase` is the blob AAD with placeholder type and
   * compression bytes (positions 4 and 5), which the worker fills in.
   */
  encrypt(
    key: Uint8Array,
    type: 0 | 1,
    aadBase: Uint8Array,
    data: Uint8Array,
  ): Promise<{ sealed: Buffer; compressed: boolean }> {
    if (this.slots.length === 0) return Promise.reject(new Error('no blob worker is running'));
    const seq = this.seq++;
    // Least busy worker, round-robin among equals.
    let best = this.slots[this.next++ % this.slots.length]!;
    for (const s of this.slots) if (s.busy < best.busy) best = s;
    if (best.busy++ === 0) best.worker.ref();
    return new Promise((resolve, reject) => {
      this.jobs.set(seq, { resolve, reject });
      best.worker.postMessage({ seq, key, type, aadBase, data });
    });
  }

  get size(): number {
    return this.slots.length;
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

let shared: BlobWorkerPool | null | undefined;

/**
 * The process-wide pool, or null when workers are disabled (NIGHTSHIFT_BLOB_WORKERS=0) or the
 * machine has a single core. Sized to the cores, at most 4.
 */
export function sharedBlobPool(): BlobWorkerPool | null {
  if (shared !== undefined) return shared && shared.size > 0 ? shared : null;
  const env = process.env.NIGHTSHIFT_BLOB_WORKERS;
  const n = env !== undefined && /^\d+$/.test(env) ? Number(env) : Math.min(4, availableParallelism());
  shared = n >= 1 && (env !== undefined || availableParallelism() > 1) ? new BlobWorkerPool(n) : null;
  return shared;
}
