/**
 * A resolved secret. The value sits in a private field so that printing, logging, JSON-encoding,
 * string interpolation or `util.inspect` show `[secret <reference>]`; only `reveal()` hands out
 * the value, which makes each use greppable.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;
  /** The reference the value came from (safe to show). */
  readonly ref: string;

  constructor(ref: string, value: string) {
    this.ref = ref;
    this.#value = value;
  }

  /** The secret value. Pass it straight to where it is needed; never log or store it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return `[secret ${this.ref}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.toPrimitive](): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
