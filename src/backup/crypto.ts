/**
 * Symmetric primitives of the format (docs/FORMAT.md, "Encryption"): AES-256-GCM sealing with a
 * random 96-bit nonce, HMAC-SHA256 blob ids, SHA-256 file names, zstd compression.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { ZSTD_LEVEL } from './format.ts';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes a sealed message adds to its plaintext. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** Raised when authenticated decryption fails: wrong key or altered bytes. */
export class AuthError extends Error {
  constructor(message = 'authentication failed') {
    super(message);
    this.name = 'AuthError';
  }
}

export function randomKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** nonce || AES-256-GCM(key, nonce, plaintext, aad) || tag */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) c.setAAD(aad);
  const body = c.update(plaintext);
  const fin = c.final();
  return Buffer.concat([nonce, body, fin, c.getAuthTag()]);
}

export function open(key: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw new AuthError('sealed message too short');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  if (aad) d.setAAD(aad);
  d.setAuthTag(tag);
  try {
    const body = d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
    return Buffer.concat([body, d.final()]);
  } catch {
    throw new AuthError();
  }
}

export function hmacHex(key: Uint8Array, data: Uint8Array | string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Derives a purpose-specific 32-byte key from a secret (HMAC-SHA256(secret, label)). */
export function subkey(secret: Uint8Array, label: string): Buffer {
  return createHmac('sha256', secret).update(`nightshift/${label}`).digest();
}

export function compress(data: Uint8Array, level = ZSTD_LEVEL): Buffer {
  return zstdCompress(data, { compressionLevel: level });
}

export function decompress(data: Uint8Array): Buffer {
  return zstdDecompress(data);
}

// zstd-napi's low-level binding (a CommonJS module without named exports for ESM).
let zstdBinding: typeof ZstdBinding | undefined;

/**
 * zstd of the concatenation of `parts`, compressed as they are produced: an encoder that yields
 * its text piece by piece never holds the whole of it (one JSON text of an index of 34,000 blobs,
 * with its objects and copies, was ~15 MiB at the end of a backup). The frame does not state its
 * content size; `decompress` reads it all the same.
 */
export function compressParts(parts: Iterable<string | Uint8Array>, level = ZSTD_LEVEL): Buffer {
  const z = (zstdBinding ??= createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding);
  const cctx = new z.CCtx();
  cctx.setParameter(z.CParameter.compressionLevel, level);
  const full: Buffer[] = [];
  let out = Buffer.allocUnsafe(z.cStreamOutSize());
  let used = 0;
  const feed = (src: Uint8Array, end: ZstdBinding.EndDirective): void => {
    for (;;) {
      const [left, produced, consumed] = cctx.compressStream2(out.subarray(used), src, end);
      used += produced;
      src = src.subarray(consumed);
      if (used === out.length) {
        full.push(out);
        out = Buffer.allocUnsafe(out.length);
        used = 0;
      }
      if (src.length === 0 && (end === z.EndDirective.continue || left === 0)) return;
    }
  };
  for (const p of parts) feed(typeof p === 'string' ? Buffer.from(p) : p, z.EndDirective.continue);
  feed(Buffer.alloc(0), z.EndDirective.end);
  full.push(out.subarray(0, used));
  return Buffer.concat(full);
}

export function timingSafeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
