/**
 * The scrypt step that turns a repository password into the key (kek) that opens a passphrase key
 * file, and the same step started ahead: a command that names a local repository and has its
 * password can start it before its own code is loaded. A no-change backup of the 1 GiB dataset
 * spent ~0.3 s loading modules and then ~0.25 s waiting for scrypt; ahead, the two overlap.
 *
 * Light on purpose (node built-ins and format.ts's constants): the CLI loads it before the backup
 * commands.
 */
import { scrypt } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DIRS, TEMP_PREFIX, type ScryptParams } from './format.ts';

export interface PassphraseKeyFile {
  v: 1;
  kind: 'passphrase';
  created: string;
  hostname: string;
  username: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** base64(seal(kek, JSON(master keys), aad = "nightshift-key-v1")) */
  data: string;
}

const KEK_BYTES = 32;
/** Key files tried ahead: a repository has one per password or person, rarely more. */
const AHEAD_MAX = 8;

export function parsePassphraseKeyFile(bytes: Uint8Array): PassphraseKeyFile | null {
  try {
    const j = JSON.parse(Buffer.from(bytes).toString('utf8')) as PassphraseKeyFile;
    if (j.v !== 1 || j.kind !== 'passphrase' || j.kdf?.name !== 'scrypt') return null;
    return j;
  } catch {
    return null;
  }
}

/** Parameters a damaged or hostile key file could carry that would allocate gigabytes. */
export function saneScryptParams({ N, r, p }: ScryptParams): boolean {
  return N > 1 && N <= 1 << 22 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

/** A password read from a file: a single trailing newline is not part of it (files written by `echo`). */
export function passwordOfFile(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function scryptKek(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      KEK_BYTES,
      { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 16 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

interface Ahead {
  password: string;
  salt: Buffer;
  params: ScryptParams;
  kek: Promise<Buffer>;
}
const ahead: Ahead[] = [];

/** The kek for `password` and a key file's salt and parameters; one derived ahead is used once. */
export function deriveKek(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const i = ahead.findIndex(
    (a) =>
      a.password === password &&
      a.salt.equals(salt) &&
      a.params.N === params.N &&
      a.params.r === params.r &&
      a.params.p === params.p,
  );
  if (i < 0) return scryptKek(password, salt, params);
  // Whatever went wrong ahead (memory, say) is not the answer: derive again.
  return ahead.splice(i, 1)[0]!.kek.catch(() => scryptKek(password, salt, params));
}

/**
 * Starts deriving the kek of every passphrase key file of the local repository at `dir` (on the
 * libuv pool, as opening does). Anything unreadable is left for the open that follows to report.
 * Returns how many were started.
 */
export function deriveKeksAhead(dir: string, password: string): number {
  if (password === '') return 0;
  let started = 0;
  try {
    // The key files opening tries: those of the keys directory, not a key being written.
    const names = readdirSync(join(dir, DIRS.keys)).filter((n) => !n.startsWith(TEMP_PREFIX));
    for (const name of names.sort()) {
      if (started >= AHEAD_MAX) break;
      const f = parsePassphraseKeyFile(readFileSync(join(dir, DIRS.keys, name)));
      if (!f || !saneScryptParams(f.kdf)) continue;
      const salt = Buffer.from(f.kdf.salt, 'base64');
      const params = { N: f.kdf.N, r: f.kdf.r, p: f.kdf.p };
      const kek = scryptKek(password, salt, params);
      kek.catch(() => undefined);
      ahead.push({ password, salt, params, kek });
      started++;
    }
  } catch {
    // Not a repository (yet), or not readable: the command says so.
  }
  return started;
}
