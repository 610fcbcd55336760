/**
 * Whether a blob is stored zstd-compressed or raw (docs/FORMAT.md, "Primitives"). Readers only see
 * the flag, so how the choice is made is free; it must be cheap on incompressible bytes (media,
 * archives, encrypted files: most of a typical first backup), where zstd level 2 or 3 runs at about
 * 150 MiB/s and saves nothing, while level 1 rejects the same bytes at about 1.9 GiB/s.
 */
import { Compressor } from 'zstd-napi';
import { MIN_COMPRESSION_GAIN, ZSTD_LEVEL } from './format.ts';

/**
 * The compressed form of `data` when it saves at least `minGain` of its size, else null.
 *
 * Blobs up to 32 KiB get one attempt at the strong level. Larger ones first try the fast level on
 * four 4 KiB slices spread over the blob: when those compress, the blob gets the strong level;
 * when they do not, the fast level on the whole blob decides (so a blob with compressible parts the
 * slices missed is still compressed, with the smaller of the two results).
 *
 * Self-contained on purpose: the blob worker threads run this function's source text.
 */
export function compressWorthIt(
  data: Uint8Array,
  fast: (b: Uint8Array) => Uint8Array,
  strong: (b: Uint8Array) => Uint8Array,
  minGain: number,
): Uint8Array | null {
  const n = data.length;
  if (n < 64) return null;
  const limit = n * (1 - minGain);
  if (n <= 32768) {
    const c = strong(data);
    return c.length <= limit ? c : null;
  }
  const slice = 4096;
  const slices = 4;
  const sample = new Uint8Array(slice * slices);
  for (let i = 0; i < slices; i++) {
    const off = Math.floor(((n - slice) * i) / (slices - 1));
    sample.set(data.subarray(off, off + slice), i * slice);
  }
  if (fast(sample).length <= sample.length * (1 - minGain)) {
    const c = strong(data);
    return c.length <= limit ? c : null;
  }
  const f = fast(data);
  if (f.length > limit) return null;
  const s = strong(data);
  return s.length < f.length ? s : f;
}

/** zstd level 1: only used to decide; its output is kept when it is the smaller one. */
export const FAST_LEVEL = 1;

let fastC: Compressor | undefined;
let strongC: Compressor | undefined;

/** compressWorthIt with this thread's zstd contexts (kept: a fresh context per blob costs more than small blobs). */
export function compressIfWorth(data: Uint8Array): Buffer | null {
  if (!fastC) {
    fastC = new Compressor();
    fastC.setParameters({ compressionLevel: FAST_LEVEL });
    strongC = new Compressor();
    strongC.setParameters({ compressionLevel: ZSTD_LEVEL });
  }
  const f = fastC;
  const s = strongC!;
  const c = compressWorthIt(
    data,
    (b) => f.compress(b as Buffer),
    (b) => s.compress(b as Buffer),
    MIN_COMPRESSION_GAIN,
  );
  return c === null ? null : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}
