/**
 * A retention policy from the `--keep-*` words as users write them (flags of `backup forget` and
 * `backup profile add`, keys of a profile document): counts or "unlimited", spans such as 7d or
 * 1y6m. Errors name the flag.
 */
import { UserError } from './errors.ts';
import { parseRetentionDuration, type RetentionPolicy } from './retention.ts';

export interface RetentionFlags {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag?: string[];
}

export const RETENTION_FLAG_NAMES: (keyof RetentionFlags)[] = [
  'keepLast',
  'keepHourly',
  'keepDaily',
  'keepWeekly',
  'keepMonthly',
  'keepYearly',
  'keepWithin',
  'keepWithinHourly',
  'keepWithinDaily',
  'keepWithinWeekly',
  'keepWithinMonthly',
  'keepWithinYearly',
  'keepTag',
];

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'unlimited' || v === '-1') return Infinity;
  if (!/^\d+$/.test(v))
    throw new UserError(`--${flag} must be a whole number >= 0 or "unlimited", got "${value}"`, {
      hint: `e.g. --${flag} 7`,
    });
  return Number(v);
}

function parseSpan(flag: string, value: string | undefined): RetentionPolicy['within'] {
  if (value === undefined) return undefined;
  try {
    return parseRetentionDuration(value);
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(`--${flag}: ${err.message}`, { hint: err.hint ?? 'e.g. 7d, 1y6m, 36h' });
    throw err;
  }
}

/** The retention policy the `--keep-*` flags give (empty when none is given). */
export function retentionFromFlags(f: RetentionFlags): RetentionPolicy {
  const policy: RetentionPolicy = {
    last: parseCount('keep-last', f.keepLast),
    hourly: parseCount('keep-hourly', f.keepHourly),
    daily: parseCount('keep-daily', f.keepDaily),
    weekly: parseCount('keep-weekly', f.keepWeekly),
    monthly: parseCount('keep-monthly', f.keepMonthly),
    yearly: parseCount('keep-yearly', f.keepYearly),
    within: parseSpan('keep-within', f.keepWithin),
    withinHourly: parseSpan('keep-within-hourly', f.keepWithinHourly),
    withinDaily: parseSpan('keep-within-daily', f.keepWithinDaily),
    withinWeekly: parseSpan('keep-within-weekly', f.keepWithinWeekly),
    withinMonthly: parseSpan('keep-within-monthly', f.keepWithinMonthly),
    withinYearly: parseSpan('keep-within-yearly', f.keepWithinYearly),
    keepTags: f.keepTag,
  };
  for (const k of Object.keys(policy) as (keyof RetentionPolicy)[])
    if (policy[k] === undefined) delete policy[k];
  return policy;
}
