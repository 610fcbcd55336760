/**
 * Field checks shared by the validators: each refusal is a UserError whose message starts with the
 * field's path and whose hint says how to fix it.
 */
import { UserError } from './errors.ts';
import { parseDuration } from './duration.ts';
import { parseSize, SIZE_HINT } from './size.ts';

export function fail(message: string, hint?: string): never {
  throw new UserError(message, hint === undefined ? {} : { hint });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

/** A whole number in [min, max]. */
export function intField(v: unknown, field: string, min: number, max: number, hint?: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${field}: must be a whole number from ${min} to ${max}, got ${show(v)}`, hint);
  }
  return v;
}

/** Milliseconds, given as a number or as a duration string ("30s", "1h30m"). */
export function msField(v: unknown, field: string, min: number, max: number): number {
  let ms = v;
  if (typeof v === 'string') {
    try {
      ms = parseDuration(v);
    } catch (err) {
      fail(`${field}: ${(err as UserError).message}`, (err as UserError).hint);
    }
  }
  return intField(ms, field, min, max, 'give milliseconds or a duration such as "30s", "5m", "1h"');
}

/** Bytes, given as a number or as a size string ("4M", "16 KiB", "500 GB"), the same as flags. */
export function bytesField(v: unknown, field: string, min: number, max: number): number {
  const bytes = typeof v === 'string' ? parseSize(v, field) : v;
  return intField(bytes, field, min, max, SIZE_HINT);
}

export function boolField(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') fail(`${field}: must be true or false, got ${show(v)}`);
  return v;
}

export function textField(v: unknown, field: string): string {
  if (typeof v !== 'string') fail(`${field}: must be a string, got ${show(v)}`);
  if (v.includes('\u0000')) fail(`${field}: contains a NUL byte`, 'remove the NUL character');
  return v;
}
