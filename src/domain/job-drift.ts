/**
 * Drift between a job as its file declares it and as the store holds it: the definition fields
 * (what the user decides), compared field by field; identity, timestamps, state and run history
 * are not part of it.
 */
import type { Job } from './job.ts';

export interface FieldDrift {
  /** Model path, e.g. `schedule.expr`, `payload.message`. */
  path: string;
  /** The value in the file (undefined: not set there). */
  file: unknown;
  /** The value in the store (undefined: not set there). */
  store: unknown;
}

/** The fields of a job a file declares. */
export const DEFINITION_FIELDS = [
  'name',
  'description',
  'enabled',
  'schedule',
  'payload',
  'deleteAfterRun',
  'policy',
  'evidence',
  'history',
  'alerts',
  'delivery',
  'healthcheck',
] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(path: string, a: unknown, b: unknown, out: FieldDrift[]): void {
  if (isRecord(a) && isRecord(b)) {
    // Objects of another kind differ as a whole (a cron schedule against an `after` one).
    if ('kind' in a && a.kind !== b.kind) {
      out.push({ path, file: a, store: b });
      return;
    }
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) walk(path === '' ? k : `${path}.${k}`, a[k], b[k], out);
    return;
  }
  if (canonical(a) !== canonical(b)) out.push({ path, file: a, store: b });
}

/** Keys sorted at every depth, so values built in different orders (arrays of objects) compare equal. */
function canonical(v: unknown): string | undefined {
  return JSON.stringify(v, (_k, val: unknown) =>
    isRecord(val) ? Object.fromEntries(Object.entries(val).sort(([x], [y]) => (x < y ? -1 : 1))) : val,
  );
}

/** Field-by-field differences of the given fields of two objects, in a stable order. */
export function fieldsDiff<T extends object>(
  fields: readonly (keyof T & string)[],
  file: T,
  store: T,
): FieldDrift[] {
  const out: FieldDrift[] = [];
  for (const f of fields) walk(f, file[f], store[f], out);
  return out;
}

/** Field-by-field differences of the definition, in a stable order; empty when in sync. */
export function definitionDiff(file: Job, store: Job): FieldDrift[] {
  return fieldsDiff(DEFINITION_FIELDS, file, store);
}

/** `nightly-reset.schedule.expr: "8 4 * * *" (file) != "10 4 * * *" (store)` */
export function describeDrift(jobName: string, d: FieldDrift): string {
  const show = (v: unknown): string => (v === undefined ? '(not set)' : JSON.stringify(v));
  return `${jobName}.${d.path}: ${show(d.file)} (file) != ${show(d.store)} (store)`;
}
