/**
 * How every CLI command speaks: JSON on stdout with --json, plain text otherwise, errors on
 * stderr with a hint and a documented exit code (see docs/cli.md).
 */
import { EXIT, UserError } from '../../domain/errors.ts';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLine(text = ''): void {
  process.stdout.write(text + '\n');
}

/** Prints an error the way users see all errors, and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  if (err instanceof UserError) {
    if (json) {
      process.stderr.write(
        JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint } }) + '\n',
      );
    } else {
      process.stderr.write(`nightshift: ${err.message}\n`);
      if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    }
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`nightshift: internal error: ${message}\n`);
  if (process.env.NIGHTSHIFT_DEBUG && err instanceof Error && err.stack)
    process.stderr.write(err.stack + '\n');
  return EXIT.internal;
}
