/**
 * Blob ids as text: lowercase hex. Checked and decoded one character at a time, because these run
 * once per blob of every index file and tree and once per index lookup: at a million files the
 * regular expression `^[0-9a-f]{64}$` and Buffer's hex decoding took ~2.7 s of a 17.7 s `check`.
 */

/** Char code → nibble value for '0'-'9' and 'a'-'f'; -1 for everything else (uppercase included). */
const NIBBLE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) NIBBLE[48 + c] = c;
for (let c = 0; c < 6; c++) NIBBLE[97 + c] = 10 + c;

/** `s` is lowercase hex of `min` to `max` characters (64 for a blob id). */
export function isHexId(s: string, min = 64, max = 64): boolean {
  const n = s.length;
  if (n < min || n > max) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || NIBBLE[c]! < 0) return false;
  }
  return true;
}

/**
 * Decodes a 64-character lowercase-hex id into `out[at .. at+32)`. False (and `out` partly
 * written) when `s` is not one.
 */
export function decodeHexId(s: string, out: Uint8Array, at: number): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 32; i++) {
    const a = s.charCodeAt(2 * i);
    const b = s.charCodeAt(2 * i + 1);
    if (a >= 128 || b >= 128) return false;
    const hi = NIBBLE[a]!;
    const lo = NIBBLE[b]!;
    if (hi < 0 || lo < 0) return false;
    out[at + i] = (hi << 4) | lo;
  }
  return true;
}
