/**
 * `file:/path`: the contents of a file, minus one trailing newline. The file must be a regular
 * file owned by the current user with no group/other permissions (0600 or stricter), the same
 * rule ssh applies to private keys: a secret readable by others is already leaked.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { EXIT } from '../../domain/errors.ts';
import { SecretError } from '../provider.ts';
import type { SecretProvider } from '../provider.ts';
import type { SecretRef } from '../secret-ref.ts';

/** A secret is a key or a passphrase, not a data file. */
const MAX_BYTES = 1024 * 1024;

export const fileProvider: SecretProvider = {
  scheme: 'file',
  async resolve(ref: SecretRef): Promise<string> {
    if (ref.scheme !== 'file') throw new Error(`file provider got a ${ref.scheme}: reference`);
    const path = ref.path;
    let fh;
    try {
      // O_NONBLOCK: opening a FIFO must not hang; the fstat below refuses anything not regular.
      fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new SecretError(ref.text, `${path} does not exist`, {
          hint: `create it readable only by you: (umask 077; cat > ${path}) then paste the secret`,
          exitCode: EXIT.notFound,
        });
      if (code === 'EACCES')
        throw new SecretError(ref.text, `${path} is not readable by this user`, {
          hint: `run nightshift as the file's owner, or chown the file to this user and chmod 600 ${path}`,
        });
      throw new SecretError(ref.text, `cannot open ${path} (${code ?? 'error'})`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile())
        throw new SecretError(ref.text, `${path} is not a regular file`, {
          hint: 'point file: at a regular file that holds only the secret',
        });
      const uid = process.getuid?.();
      if (uid !== undefined && st.uid !== uid)
        throw new SecretError(
          ref.text,
          `${path} is owned by uid ${st.uid}, not by the current user (uid ${uid})`,
          {
            hint: `a secret file must belong to the user that reads it: chown ${uid} ${path} && chmod 600 ${path}`,
            exitCode: EXIT.usage,
          },
        );
      const mode = st.mode & 0o777;
      if ((mode & 0o077) !== 0)
        throw new SecretError(
          ref.text,
          `${path} has mode ${mode.toString(8).padStart(4, '0')}, readable or writable by others; secret files must be mode 0600 or stricter`,
          { hint: `chmod 600 ${path}`, exitCode: EXIT.usage },
        );
      if (st.size > MAX_BYTES)
        throw new SecretError(
          ref.text,
          `${path} is ${st.size} bytes; a secret file holds one secret (at most 1 MiB)`,
        );
      const text = await fh.readFile({ encoding: 'utf8' });
      const value = text.replace(/\r?\n$/, '');
      if (value === '')
        throw new SecretError(ref.text, `${path} is empty`, { hint: `write the secret into ${path}` });
      return value;
    } finally {
      await fh.close();
    }
  },
};
