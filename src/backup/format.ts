/**
 * Constants of the repository format (docs/FORMAT.md). Changing any of these changes the bytes
 * a repository holds, so each belongs to a format version.
 */
export const FORMAT_VERSION = 1;

/** Content-defined chunking parameters (bytes). Stored in the config; fixed for a repository's life. */
export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

/** Chosen by measurement on the benchmark dataset (docs/FORMAT.md, "Chunking"). */
export const DEFAULT_CHUNKER: ChunkerParams = { min: 32 * 1024, avg: 128 * 1024, max: 512 * 1024 };

/** Bounds a repository's chunker parameters must respect (avg a power of two; min < avg < max). */
export const CHUNKER_BOUNDS = { min: 4 * 1024, max: 16 * 1024 * 1024 } as const;

/** A pack is closed once its blobs reach this size. */
export const PACK_TARGET_SIZE = 16 * 1024 * 1024;

/** zstd level for blobs; a blob is stored raw when compression saves less than this fraction. */
export const ZSTD_LEVEL = 2;
export const MIN_COMPRESSION_GAIN = 1 / 32;

/**
 * scrypt parameters for new passphrase key files: N=2^15, r=8, p=2 → 32 MiB, the work of
 * N=2^16/p=1 (about 0.2–0.4 s) in half its memory. The scrypt buffer counts in every command's
 * peak memory; restic caps its own at 60 MiB, which with r=8 also means N=2^15. Key files keep
 * their parameters, so keys made with N=2^16 still open.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 2 };

/** Locks not refreshed for this long are stale; holders refresh at a fifth of it. */
export const LOCK_STALE_MS = 30 * 60 * 1000;
export const LOCK_REFRESH_MS = 5 * 60 * 1000;

/** File-name prefix of in-progress writes; never a valid repository file. */
export const TEMP_PREFIX = '.tmp-';

/** Magic prefixes of binary repository files (4 bytes, ASCII). */
export const MAGIC = {
  index: 'NSI1',
  snapshot: 'NSS1',
} as const;

/** Top-level directories of a repository. */
export const DIRS = {
  data: 'data',
  index: 'index',
  snapshots: 'snapshots',
  keys: 'keys',
  locks: 'locks',
} as const;

export const CONFIG_FILE = 'config';
