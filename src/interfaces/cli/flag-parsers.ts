/**
 * Flag values as the commands read them: whole numbers, durations, one of a set of choices, and
 * repeatable flags. Every bad value is reported the same way: naming the flag, exit code 2.
 */
import { parseDuration } from '../../domain/duration.ts';
import { UserError } from '../../domain/errors.ts';

/** commander's accumulator for a repeatable flag (`--x a --x b` gives `['a', 'b']`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A non-negative integer flag, or a usage error naming it. */
export function intFlag(flag: string, value: string, opts: { min?: number } = {}): number {
  const min = opts.min ?? 0;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UserError(`${flag} must be a whole number${min > 0 ? ` >= ${min}` : ' >= 0'}, got "${value}"`, {
      hint: `for example ${flag} ${Math.max(min, 3)}`,
    });
  }
  return Number(value);
}

/** A duration flag, with the flag named in the error. */
export function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    if (err instanceof UserError) throw new UserError(`${flag}: ${err.message}`, { hint: err.hint });
    throw err;
  }
}

/** One of `choices`, or a usage error listing them. */
export function choiceFlag<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`, {
    hint: `for example ${flag} ${choices[0]}`,
  });
}
