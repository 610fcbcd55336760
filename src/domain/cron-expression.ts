/**
 * A cron expression read field by field, the way Vixie/Debian cron reads it:
 *
 * - validation with nightshift's own messages, each naming the field, the value and what the
 *   field allows;
 * - the day-field rule: a day-of-month or day-of-week field that *starts with* `*` (`*`, `*∕2`,
 *   `*∕100,1-7`) counts as unrestricted, so both day fields must match (AND); two restricted day
 *   fields match when either does (OR); a `+` before the day of week asks for AND explicitly;
 * - steps larger than a field's range are valid and select the first value only;
 * - the text handed to croner (which does the time arithmetic and DST) and whether it ANDs the
 *   day fields, plus the day rule in words for `cron show` and `cron next`.
 */
import { UserError } from './errors.ts';

export type CronFieldName = 'second' | 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';

interface FieldSpec {
  name: CronFieldName;
  min: number;
  max: number;
  /** Names accepted for values (index + offset = value). */
  names?: readonly string[];
  namesFrom?: number;
  /** Croner refuses a step larger than its table for the field; a larger step selects the same. */
  tableSize: number;
  allowed: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const WEEKDAY_WORDS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const SPECS: Record<CronFieldName, FieldSpec> = {
  second: {
    name: 'second',
    min: 0,
    max: 59,
    tableSize: 60,
    allowed: '0-59, *, lists (1,2), ranges (1-5), steps (*/15, 0-30/10)',
  },
  minute: {
    name: 'minute',
    min: 0,
    max: 59,
    tableSize: 60,
    allowed: '0-59, *, lists (0,30), ranges (0-29), steps (*/15, 0-30/10)',
  },
  hour: {
    name: 'hour',
    min: 0,
    max: 23,
    tableSize: 24,
    allowed: '0-23, *, lists (9,17), ranges (9-17), steps (*/2)',
  },
  'day-of-month': {
    name: 'day-of-month',
    min: 1,
    max: 31,
    tableSize: 31,
    allowed: '1-31, *, L (last day), 15W (weekday nearest the 15th), LW, lists, ranges, steps (*/2)',
  },
  month: {
    name: 'month',
    min: 1,
    max: 12,
    names: MONTHS,
    namesFrom: 1,
    tableSize: 12,
    allowed: '1-12 or JAN-DEC, *, lists, ranges, steps',
  },
  'day-of-week': {
    name: 'day-of-week',
    min: 0,
    max: 7,
    names: WEEKDAYS,
    namesFrom: 0,
    tableSize: 7,
    allowed:
      '0-7 or SUN-SAT (0 and 7 are Sunday), *, lists, ranges, steps, 5L or FRI#L (last Friday), MON#2 (second Monday)',
  },
};

const FIELDS_5: readonly CronFieldName[] = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const FIELDS_6: readonly CronFieldName[] = ['second', ...FIELDS_5];

/** A parsed 5- or 6-field expression. */
export interface CronExpression {
  /** The expression as croner reads it (steps clamped, `a/n` spelled `a-max/n`, no `+`). */
  cronerText: string;
  /** True when both day fields must match (Vixie: one of them starts with `*`, or `+` given). */
  daysAnded: boolean;
  /** The day rule in words: "on day-of-month 1-7 AND Monday", "every day". */
  days: string;
}

function fail(spec: FieldSpec, field: string, problem: string): never {
  throw new UserError(`schedule.expr: ${spec.name} field "${field}": ${problem}`, {
    hint: `${spec.name} accepts ${spec.allowed}`,
  });
}

/** A single value: digits, or a name where the field has names. */
function readValue(spec: FieldSpec, field: string, text: string): number {
  if (/^\d+$/.test(text)) {
    const v = Number(text);
    if (v < spec.min || v > spec.max) fail(spec, field, `${text} is outside ${spec.min}-${spec.max}`);
    return v;
  }
  if (spec.names) {
    const i = spec.names.indexOf(text.toUpperCase());
    if (i >= 0) return i + (spec.namesFrom ?? 0);
    fail(spec, field, `"${text}" is not a number or a name (${spec.names[0]}-${spec.names.at(-1)})`);
  }
  fail(spec, field, text === '' ? 'a value is missing' : `"${text}" is not a number`);
}

/** One list item of a field; returns what croner is given for it and the values it selects. */
interface Item {
  croner: string;
  /** The values this item selects (undefined for L, W and # forms). */
  values?: number[];
  /** Words for a special day-of-week item ("the last Friday"). */
  words?: string;
}

const ORDINALS = ['', '1st', '2nd', '3rd', '4th', '5th'];

function readItem(spec: FieldSpec, field: string, item: string): Item {
  if (item === '') fail(spec, field, 'an empty list item');
  if (spec.name === 'day-of-month') {
    const up = item.toUpperCase();
    if (up === 'L' || up === 'LW') return { croner: up };
    const w = /^(\d+)W$/i.exec(item);
    if (w) {
      readValue(spec, field, w[1]!);
      return { croner: `${w[1]}W` };
    }
    if (/L/i.test(item)) fail(spec, field, `"${item}": L stands alone (the last day of the month) or as LW`);
  }
  if (spec.name === 'day-of-week') {
    const last = /^(\d)L$/i.exec(item);
    if (last) {
      const d = readValue(spec, field, last[1]!) % 7;
      return { croner: `${d}L`, words: `the last ${WEEKDAY_WORDS[d]} of the month` };
    }
    const hash = /^([^#]*)#([^#]*)$/.exec(item);
    if (hash) {
      const d = readValue(spec, field, hash[1]!) % 7;
      const n = hash[2]!.toUpperCase();
      if (n === 'L') return { croner: `${d}L`, words: `the last ${WEEKDAY_WORDS[d]} of the month` };
      if (!/^[1-5]$/.test(n))
        fail(spec, field, `"#${hash[2]}" is not a week of the month (#1-#5, or #L for the last)`);
      return { croner: `${d}#${n}`, words: `the ${ORDINALS[Number(n)]} ${WEEKDAY_WORDS[d]} of the month` };
    }
  }
  const slash = item.split('/');
  if (slash.length > 2) fail(spec, field, `"${item}" has more than one step`);
  const [base, stepText] = slash as [string, string | undefined];
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) fail(spec, field, `step "${stepText}" in "${item}" is not a whole number`);
    step = Number(stepText);
    if (step === 0) fail(spec, field, `step 0 in "${item}" is not allowed; use 1 or more`);
  }
  let from: number;
  let to: number;
  let cronerBase: string;
  if (base === '*' || base === '?') {
    // `?` (Quartz's "no specific value") reads as `*`, in any field, as croner has always read it.
    from = spec.min;
    to = spec.max;
    cronerBase = '*';
  } else {
    const dash = base.split('-');
    if (dash.length > 2) fail(spec, field, `"${base}" is not a range (write FROM-TO, e.g. 1-5)`);
    from = readValue(spec, field, dash[0]!);
    if (dash.length === 2) {
      to = readValue(spec, field, dash[1]!);
      if (to < from) fail(spec, field, `range ${base} runs backwards; write it from low to high`);
      cronerBase = base;
    } else if (stepText !== undefined) {
      // `5/15` is "from 5 to the end, every 15th", as in Vixie cron.
      to = spec.max;
      cronerBase = `${dash[0]}-${spec.max}`;
    } else {
      to = from;
      cronerBase = base;
    }
  }
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  if (stepText === undefined) return { croner: cronerBase, values };
  // A step past the field's range selects the first value only; croner wants it within its table.
  return { croner: `${cronerBase}/${Math.min(step, spec.tableSize)}`, values };
}

interface Field {
  croner: string;
  items: Item[];
  /** Vixie: the field starts with `*` (or `?`), so it does not restrict the days by itself. */
  star: boolean;
  /** Exactly `*` or `?`: every value. */
  any: boolean;
}

function readField(spec: FieldSpec, field: string): Field {
  const items = field.split(',').map((item) => readItem(spec, field, item));
  return {
    croner: items.map((i) => i.croner).join(','),
    items,
    star: field.startsWith('*') || field.startsWith('?'),
    any: field === '*' || field === '?',
  };
}

function weekdayWords(items: Item[]): string {
  const words: string[] = [];
  const days = new Set<number>();
  for (const i of items) {
    if (i.words) words.push(i.words);
    else for (const v of i.values ?? []) days.add(v % 7);
  }
  // Monday first; runs of three or more read "Monday to Friday".
  const order = [1, 2, 3, 4, 5, 6, 0].filter((d) => days.has(d));
  const runs: number[][] = [];
  for (const d of order) {
    const run = runs.at(-1);
    const prevIdx = run ? [1, 2, 3, 4, 5, 6, 0].indexOf(run.at(-1)!) : -2;
    if (run && [1, 2, 3, 4, 5, 6, 0].indexOf(d) === prevIdx + 1) run.push(d);
    else runs.push([d]);
  }
  const named = runs.flatMap((r) =>
    r.length >= 3
      ? [`${WEEKDAY_WORDS[r[0]!]} to ${WEEKDAY_WORDS[r.at(-1)!]}`]
      : r.map((d) => WEEKDAY_WORDS[d]!),
  );
  return [...named, ...words].join(' or ');
}

function monthDayWords(field: string, items: Item[]): string {
  if (items.length === 1 && items[0]!.croner === 'L') return 'the last day of the month';
  if (items.length === 1 && items[0]!.croner === 'LW') return 'the last weekday of the month';
  const w = items.length === 1 ? /^(\d+)W$/.exec(items[0]!.croner) : null;
  if (w) return `the weekday nearest day ${w[1]} of the month`;
  return `day-of-month ${field}`;
}

function dayRule(dom: Field, domText: string, dow: Field, anded: boolean): string {
  if (dom.any && dow.any) return 'every day';
  const domWords = monthDayWords(domText, dom.items);
  const dowWords = weekdayWords(dow.items);
  if (dow.any) return `on ${domWords}`;
  if (dom.any) return `on ${dowWords}`;
  return anded
    ? `on ${domWords} AND ${dowWords} (both day fields must match)`
    : `on ${domWords} OR ${dowWords} (either day field may match)`;
}

/**
 * Reads a normalized 5- or 6-field expression (not a nickname). Throws a UserError naming the
 * field, the value and what the field allows.
 */
export function parseCronExpression(expr: string): CronExpression {
  const parts = expr.split(' ');
  const names = parts.length === 6 ? FIELDS_6 : FIELDS_5;
  if (parts.length !== 5 && parts.length !== 6) {
    throw new UserError(`schedule.expr: "${expr}" has ${parts.length} fields; cron needs 5 or 6`, {
      hint:
        parts.length < 5
          ? 'write minute hour day-of-month month day-of-week, e.g. "30 2 * * *"'
          : 'use 5 fields, or 6 with seconds first ("0 30 2 * * *"); a year field is not supported',
    });
  }
  const fields: Field[] = [];
  let plus = false;
  parts.forEach((text, i) => {
    const name = names[i]!;
    let t = text;
    if (name === 'day-of-week' && t.startsWith('+')) {
      plus = true;
      t = t.slice(1);
    }
    fields.push(readField(SPECS[name], t));
  });
  const off = parts.length === 6 ? 1 : 0;
  const dom = fields[off + 2]!;
  const dow = fields[off + 4]!;
  const domText = parts[off + 2]!;
  const daysAnded = plus || dom.star || dow.star;
  return {
    cronerText: fields.map((f) => f.croner).join(' '),
    daysAnded,
    days: dayRule(dom, domText, dow, daysAnded),
  };
}
