/**
 * Sizes as users write them, read the same way by every flag and file field: a whole number of
 * bytes, or a number with a unit. Units are powers of 1024 whichever way they are spelled (`4M`,
 * `4MB`, `4MiB` and `4 mib` are all 4194304), as restic and borg print them.
 */
import { UserError } from './errors.ts';

/** What every size error shows, so the accepted forms are learnt once. */
export const SIZE_HINT =
  'a size in bytes, or with a unit: e.g. 4M, 4MiB, 500 GB, 1.5T (K, M, G, T are powers of 1024)';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes from `text`; `field` names the flag or key in the error. */
export function parseSize(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  const bytes = m ? Math.round(Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? 1)) : NaN;
  if (!m || !Number.isSafeInteger(bytes))
    throw new UserError(`${field}: cannot read ${JSON.stringify(text)} as a size`, { hint: SIZE_HINT });
  return bytes;
}

/** What every rate error shows. */
export const RATE_HINT =
  'bytes per second, with a unit if you like: e.g. 2MiB/s, 500K, 1.5M/s (powers of 1024)';

/** Bytes per second from `2MiB/s`, `500K` or `1048576`: a size, optionally followed by `/s`. */
export function parseRate(text: string, field: string): number {
  const size = text.trim().replace(/\s*\/\s*s(ec)?$/i, '');
  let bytes: number;
  try {
    bytes = parseSize(size, field);
  } catch {
    throw new UserError(`${field}: cannot read ${JSON.stringify(text)} as a rate`, { hint: RATE_HINT });
  }
  if (bytes < 1) throw new UserError(`${field}: a rate must be above 0`, { hint: RATE_HINT });
  return bytes;
}

/** `80%`, `80` or `92.5%` as a percentage above 0 and at most 100; `field` names the flag or key. */
export function parsePercent(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*%?$/.exec(text.trim());
  const pct = m ? Number(m[1]) : NaN;
  if (!(pct > 0 && pct <= 100))
    throw new UserError(`${field}: cannot read ${JSON.stringify(text)} as a percentage`, {
      hint: 'a percentage above 0 and at most 100, e.g. 80%',
    });
  return pct;
}
