/**
 * Templates in job files: `{{NAME}}` in any string value, filled from the values file
 * (`--values`) and the document's own `vars:`. Handlebars does the work (blocks, conditions,
 * `{{#each}}`); strict mode makes a misspelt name an error instead of an empty string. The
 * `where` helper picks the members of a map or list whose flag is true, so a block can be built
 * from "the agents whose reset_cycle is true":
 *
 *   {{#each (where agents "reset_cycle")}}- {{name}}: write CONTINUATION.md
 *   {{/each}}
 */
import { createRequire } from 'node:module';
import type HandlebarsNs from 'handlebars';
import { UserError } from '../domain/errors.ts';

// Loaded on the first template: Handlebars is ~10 MiB of memory that most commands never need.
let instance: typeof HandlebarsNs | undefined;
function handlebars(): typeof HandlebarsNs {
  if (instance) return instance;
  const hb = (createRequire(import.meta.url)('handlebars') as typeof HandlebarsNs).create();
  hb.registerHelper('where', where);
  return (instance = hb);
}

function where(collection: unknown, flag: unknown): Array<Record<string, unknown>> {
  if (typeof flag !== 'string')
    throw new Error('where: give the name of a flag, e.g. (where agents "reset_cycle")');
  const entries: Array<[string, unknown]> = Array.isArray(collection)
    ? collection.map((v, i) => [String(i), v])
    : typeof collection === 'object' && collection !== null
      ? Object.entries(collection)
      : [];
  return entries
    .filter(([, v]) => typeof v === 'object' && v !== null && (v as Record<string, unknown>)[flag] === true)
    .map(([k, v]) => ({ name: k, ...(v as Record<string, unknown>) }));
}

/** Renders one string; a string without `{{` is returned as it is. */
export function renderString(text: string, context: Record<string, unknown>): string {
  if (!text.includes('{{')) return text;
  try {
    return handlebars().compile(text, { strict: true, noEscape: true })(context);
  } catch (err) {
    const msg = (err as Error).message.replace(/ in \[object Object\]/, '').split('\n')[0]!;
    throw new UserError(`template: ${msg}`, {
      hint: 'define it in the values file (--values FILE) or under vars: in this document',
    });
  }
}

/** A document with every string value rendered (keys are left alone). */
export function renderValue(v: unknown, context: Record<string, unknown>): unknown {
  if (typeof v === 'string') return renderString(v, context);
  if (Array.isArray(v)) return v.map((x) => renderValue(x, context));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, renderValue(x, context)]));
  return v;
}
