/**
 * The cursor of a run list: where the next page starts, as an opaque string (base64url of the last
 * run's slot, attempt and id). Front ends hand it back unchanged; the store pages by key with it.
 */
import { EXIT, UserError } from '../domain/errors.ts';
import type { Run } from '../domain/job.ts';
import type { RunKey } from '../store/store.ts';

export function encodeRunCursor(run: Pick<Run, 'slotMs' | 'attempt' | 'runId'>): string {
  return Buffer.from(JSON.stringify([run.slotMs, run.attempt, run.runId])).toString('base64url');
}

/** The key inside a cursor; a cursor not made by encodeRunCursor is a usage error naming it. */
export function decodeRunCursor(cursor: string, flag = 'cursor'): RunKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    Number.isSafeInteger(parsed[0]) &&
    Number.isSafeInteger(parsed[1]) &&
    typeof parsed[2] === 'string'
  )
    return { slotMs: parsed[0] as number, attempt: parsed[1] as number, runId: parsed[2] as string };
  throw new UserError(`${flag}: "${cursor.slice(0, 40)}" is not a run list cursor`, {
    hint: `pass the nextCursor of the previous page unchanged, or leave ${flag} out for the first page`,
    exitCode: EXIT.usage,
    code: 'invalid',
  });
}
