/**
 * Redaction: every resolved secret value is registered here, and every output path (logs, run
 * output tails, errors, JSON for the API and MCP) passes its text through a Redactor so the value
 * and its common encodings show up as `[REDACTED]`.
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export const REDACTED = '[REDACTED]';

/**
 * Values shorter than this are not registered: redacting every "1" or "ab" would shred output
 * while hiding nothing worth hiding (docs/secrets.md says so).
 */
export const MIN_REDACTABLE_LENGTH = 4;

/** Lines of a multi-line secret shorter than this are not redacted on their own. */
const MIN_LINE_LENGTH = 8;

export class Redactor {
  private readonly needles = new Set<string>();
  private pattern: RegExp | undefined;
  private longest = 0;

  /**
   * Registers a value, its trimmed form and, for a multi-line value, each line, with their
   * encodings (base64, base64url, URL-encoded, JSON-escaped).
   */
  add(value: string): void {
    if (typeof value !== 'string' || value.length < MIN_REDACTABLE_LENGTH) return;
    const before = this.needles.size;
    const variants = new Set([value, value.trim()]);
    // A multi-line secret (a PEM key) tends to be logged line by line.
    if (value.includes('\n'))
      for (const line of value.split(/\r?\n/))
        if (line.trim().length >= MIN_LINE_LENGTH) variants.add(line.trim());
    for (const variant of variants)
      for (const v of encodings(variant)) if (v.length >= MIN_REDACTABLE_LENGTH) this.needles.add(v);
    if (this.needles.size !== before) this.pattern = undefined;
  }

  /** Number of registered forms (each value counts once per distinct encoding). */
  get size(): number {
    return this.needles.size;
  }

  /** Length of the longest registered form: how much a stream must hold back at a chunk's end. */
  get maxLength(): number {
    this.compile();
    return this.longest;
  }

  /** Replaces every registered value in `text`. */
  redact(text: string): string {
    const re = this.compile();
    if (re === undefined || text.length === 0) return text;
    re.lastIndex = 0;
    return text.replace(re, REDACTED);
  }

  /**
   * Deep copy of a JSON-able value with every string (keys too) redacted. Objects with `toJSON`
   * (Dates, Secrets) are converted first; cycles become "[Circular]".
   */
  redactValue<T>(value: T): T {
    return this.deep(value, new WeakSet()) as T;
  }

  /** Stream form: a Transform that also catches a value split across chunk boundaries. */
  stream(): Transform {
    return new RedactingStream(this);
  }

  /** The compiled alternation, longest first so a longer value wins over its own prefix. */
  compile(): RegExp | undefined {
    if (this.pattern !== undefined || this.needles.size === 0) return this.pattern;
    const sorted = [...this.needles].sort((a, b) => b.length - a.length);
    this.longest = sorted[0]?.length ?? 0;
    this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    return this.pattern;
  }

  private deep(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[Circular]';
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return this.deep(withJson.toJSON(), seen);
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((v) => this.deep(v, seen));
      if (value instanceof Error) {
        return { name: value.name, message: this.redact(value.message) };
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.redact(k)] = this.deep(v, seen);
      return out;
    } finally {
      seen.delete(value);
    }
  }
}

function encodings(value: string): string[] {
  const buf = Buffer.from(value, 'utf8');
  const b64 = buf.toString('base64');
  const forms = [
    value,
    b64,
    b64.replace(/=+$/, ''),
    buf.toString('base64url'),
    encodeURIComponent(value),
    // form encoding (application/x-www-form-urlencoded) writes spaces as '+'
    encodeURIComponent(value).replace(/%20/g, '+'),
    // how the value looks inside a JSON string literal
    JSON.stringify(value).slice(1, -1),
  ];
  return forms;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Holds back the last (longest - 1) characters of what it has seen, so a value that starts in one
 * chunk and ends in the next is still matched whole.
 */
class RedactingStream extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private carry = '';

  constructor(private readonly redactor: Redactor) {
    super();
  }

  override _transform(chunk: Buffer | string, encoding: BufferEncoding, done: TransformCallback): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.carry += text;
    const out = this.drain(false);
    if (out.length > 0) this.push(out);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.carry += this.decoder.end();
    const out = this.drain(true);
    if (out.length > 0) this.push(out);
    done();
  }

  private drain(final: boolean): string {
    const re = this.redactor.compile();
    const buf = this.carry;
    if (re === undefined) {
      this.carry = '';
      return buf;
    }
    // Everything before `cut` can be emitted: no value can start there and still be incomplete.
    let cut = final ? buf.length : Math.max(0, buf.length - (this.redactor.maxLength - 1));
    let out = '';
    let pos = 0;
    re.lastIndex = 0;
    for (let m = re.exec(buf); m !== null; m = re.exec(buf)) {
      if (m.index >= cut) break;
      out += buf.slice(pos, m.index) + REDACTED;
      pos = m.index + m[0].length;
      if (pos > cut) cut = pos;
    }
    out += buf.slice(pos, cut);
    this.carry = buf.slice(cut);
    return out;
  }
}

/**
 * The process-wide redactor: the SecretResolver registers every value it resolves here by
 * default, and logs, run records and API/MCP output pass through it.
 */
export const defaultRedactor = new Redactor();

/** Shorthand for `defaultRedactor.redact(text)`. */
export function redact(text: string): string {
  return defaultRedactor.redact(text);
}
