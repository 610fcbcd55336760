/** Writing a secret (an identity, a writer key) into a file of its own. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../domain/errors.ts';

/** Writes a secret file: 0600, never over an existing file. */
export function writeSecretFile(path: string, text: string, what: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'EEXIST'
        ? `${path} already exists`
        : `cannot write the ${what} to ${path}: ${code ?? 'error'}`,
      { hint: `choose another path; an existing ${what} is never overwritten` },
    );
  }
}
