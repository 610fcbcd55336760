/**
 * Key material and key files (docs/FORMAT.md, "Keys").
 *
 * - passphrase repositories: random master keys sealed under an scrypt-derived key, one file per
 *   password under `keys/`.
 * - recipients repositories: the writer secrets (MAC key, Gear seed, metadata key) are kept by the
 *   host in a writer key file and, in the repository, as an age file encrypted to the recipients,
 *   so an identity alone opens the repository. Data and trees are encrypted with per-pack keys
 *   wrapped to the recipients; the writer secrets cannot decrypt them.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type * as AgeNs from 'age-encryption';
import { EXIT, UserError } from '../domain/errors.ts';
import { AuthError, KEY_BYTES, open, seal, sha256Hex } from './crypto.ts';
import { hostname as osHostname, userInfo } from 'node:os';
import type { BlobStore } from './ports.ts';
import { DEFAULT_SCRYPT, type ScryptParams } from './format.ts';
import { deriveKek, parsePassphraseKeyFile, saneScryptParams, type PassphraseKeyFile } from './kdf.ts';

/** What a writer needs: dedup (MAC), chunk boundaries (Gear seed), writer-readable metadata. */
export interface WriterSecrets {
  repoId: string;
  macKey: Buffer;
  gearSeed: Buffer;
  metaKey: Buffer;
}

/** Passphrase repositories add the key that wraps pack keys. */
export interface MasterKeys extends WriterSecrets {
  dataKey?: Buffer;
}

export function newMasterKeys(repoId: string, withDataKey: boolean): MasterKeys {
  const k: MasterKeys = {
    repoId,
    macKey: randomBytes(KEY_BYTES),
    gearSeed: randomBytes(KEY_BYTES),
    metaKey: randomBytes(KEY_BYTES),
  };
  if (withDataKey) k.dataKey = randomBytes(KEY_BYTES);
  return k;
}

interface KeysJson {
  repoId: string;
  macKey: string;
  gearSeed: string;
  metaKey: string;
  dataKey?: string;
}

function keysToJson(k: MasterKeys, includeData: boolean): KeysJson {
  const j: KeysJson = {
    repoId: k.repoId,
    macKey: k.macKey.toString('base64'),
    gearSeed: k.gearSeed.toString('base64'),
    metaKey: k.metaKey.toString('base64'),
  };
  if (includeData && k.dataKey) j.dataKey = k.dataKey.toString('base64');
  return j;
}

function keysFromJson(j: unknown): MasterKeys {
  const o = j as Partial<KeysJson>;
  const b = (s: unknown): Buffer => {
    if (typeof s !== 'string') throw new Error('missing key');
    const v = Buffer.from(s, 'base64');
    if (v.length !== KEY_BYTES) throw new Error('bad key length');
    return v;
  };
  if (typeof o.repoId !== 'string') throw new Error('missing repository id');
  const k: MasterKeys = {
    repoId: o.repoId,
    macKey: b(o.macKey),
    gearSeed: b(o.gearSeed),
    metaKey: b(o.metaKey),
  };
  if (o.dataKey !== undefined) k.dataKey = b(o.dataKey);
  return k;
}

// ---------------------------------------------------------------------------------------------
// Passphrase key files

const KEY_AAD = Buffer.from('nightshift-key-v1');

export async function makePassphraseKeyFile(
  keys: MasterKeys,
  password: string,
  meta: { hostname: string; username: string; created: string },
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Uint8Array> {
  if (password.length === 0)
    throw new UserError('the repository password is empty', { hint: 'choose a non-empty password' });
  const salt = randomBytes(32);
  const kek = await deriveKek(password, salt, params);
  const file: PassphraseKeyFile = {
    v: 1,
    kind: 'passphrase',
    created: meta.created,
    hostname: meta.hostname,
    username: meta.username,
    kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, salt: salt.toString('base64') },
    data: seal(kek, Buffer.from(JSON.stringify(keysToJson(keys, true))), KEY_AAD).toString('base64'),
  };
  return Buffer.from(JSON.stringify(file) + '\n');
}

/** Master keys, or null when the password does not open this key file. */
export async function unlockPassphraseKeyFile(
  file: PassphraseKeyFile,
  password: string,
): Promise<MasterKeys | null> {
  const { N, r, p } = file.kdf;
  // Refuse absurd parameters from a damaged file rather than allocate gigabytes.
  if (!saneScryptParams({ N, r, p })) return null;
  const kek = await deriveKek(password, Buffer.from(file.kdf.salt, 'base64'), { N, r, p });
  try {
    return keysFromJson(JSON.parse(open(kek, Buffer.from(file.data, 'base64'), KEY_AAD).toString('utf8')));
  } catch (err) {
    if (err instanceof AuthError || err instanceof SyntaxError) return null;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// age identities, recipients and recipient key files

export const AGE_MAGIC = 'age-encryption.org/v1\n';

/** age-encryption costs ~15 MiB of memory once loaded: only recipient repositories load it. */
function age(): Promise<typeof AgeNs> {
  return import('age-encryption');
}

export function isAgeFile(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, AGE_MAGIC.length)).toString('latin1') === AGE_MAGIC;
}

/** A new X25519 identity as `age-keygen` writes it, and its recipient. */
export async function keygen(
  now: Date = new Date(),
): Promise<{ identity: string; recipient: string; fileText: string }> {
  const { generateX25519Identity, identityToRecipient } = await age();
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const fileText = `# created: ${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${recipient}\n${identity}\n`;
  return { identity, recipient, fileText };
}

export function validateRecipient(r: string): void {
  if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r)) {
    throw new UserError(`invalid recipient ${JSON.stringify(r)}`, {
      hint: 'pass an age X25519 recipient (age1…, 62 characters), e.g. from `nightshift backup keygen`',
    });
  }
}

/** Identities (AGE-SECRET-KEY-1…) from an identity file's text: comments and blank lines skipped. */
export function parseIdentities(text: string, source: string): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (ids.length === 0 || !ids.every((l) => /^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(l))) {
    throw new UserError(`${source} is not an age identity file`, {
      hint: 'pass the file written by `nightshift backup keygen` or `age-keygen` (lines starting AGE-SECRET-KEY-1)',
    });
  }
  return ids;
}

export async function readIdentityFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(
      `cannot read identity file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      {
        hint: 'pass --identity FILE with the age identity for this repository',
      },
    );
  }
  return parseIdentities(text, path);
}

/** A real age file (readable by `age -d -i`) of `plaintext` for the recipients. */
export async function ageEncrypt(recipients: string[], plaintext: Uint8Array): Promise<Uint8Array> {
  const { Encrypter } = await age();
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plaintext);
}

/** Decrypts an age file; null when none of the identities is a recipient. Throws AuthError on damage. */
export async function ageDecrypt(identities: string[], file: Uint8Array): Promise<Uint8Array | null> {
  const { Decrypter } = await age();
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  try {
    return await d.decrypt(file);
  } catch (err) {
    const msg = (err as Error).message ?? '';
    if (/no identity matched/i.test(msg)) return null;
    throw new AuthError(`age decryption failed: ${msg}`);
  }
}

export async function makeRecipientKeyFile(keys: WriterSecrets, recipients: string[]): Promise<Uint8Array> {
  return ageEncrypt(recipients, Buffer.from(JSON.stringify(keysToJson(keys, false))));
}

export async function unlockRecipientKeyFile(
  identities: string[],
  bytes: Uint8Array,
): Promise<WriterSecrets | null> {
  const plain = await ageDecrypt(identities, bytes);
  if (!plain) return null;
  return keysFromJson(JSON.parse(Buffer.from(plain).toString('utf8')));
}

// ---------------------------------------------------------------------------------------------
// Writer key file (kept by the host, 0600)

const WRITER_PREFIX = 'NIGHTSHIFT-WRITER-KEY-1 ';

export function formatWriterKey(keys: WriterSecrets, location: string, now: Date = new Date()): string {
  const body = Buffer.from(JSON.stringify(keysToJson(keys, false))).toString('base64');
  return (
    `# nightshift writer key for repository ${keys.repoId}\n` +
    `# location: ${location}\n# created: ${now.toISOString()}\n` +
    `# It can add and prune backups but cannot read them; restoring needs the age identity.\n` +
    `${WRITER_PREFIX}${body}\n`
  );
}

export function parseWriterKey(text: string, source: string): WriterSecrets {
  const line = text.split(/\r?\n/).find((l) => l.startsWith(WRITER_PREFIX));
  try {
    if (!line) throw new Error('no key line');
    const k = keysFromJson(
      JSON.parse(Buffer.from(line.slice(WRITER_PREFIX.length), 'base64').toString('utf8')),
    );
    return { repoId: k.repoId, macKey: k.macKey, gearSeed: k.gearSeed, metaKey: k.metaKey };
  } catch {
    throw new UserError(`${source} is not a nightshift writer key file`, {
      hint: 'pass the writer key written by `nightshift backup init --recipient …`',
      exitCode: EXIT.auth,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Key management on an open repository (`nightshift backup keys`)

/** What key management needs from an open repository. */
export interface KeyedRepo {
  readonly store: BlobStore;
  readonly mode: 'passphrase' | 'recipients';
  readonly keys: MasterKeys;
  readonly keyId: string;
  readonly canRead: boolean;
}

export interface KeyInfo {
  id: string;
  kind: 'passphrase' | 'recipients';
  created?: string;
  hostname?: string;
  username?: string;
  /** The key this session opened the repository with. */
  current: boolean;
}

async function keyFileNames(repo: KeyedRepo): Promise<string[]> {
  return (await repo.store.list('keys')).filter((k) => /^[0-9a-f]{64}$/.test(k));
}

export async function listKeys(repo: KeyedRepo): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const id of await keyFileNames(repo)) {
    const bytes = await repo.store.read(`keys/${id}`);
    const pf = parsePassphraseKeyFile(bytes);
    if (pf) {
      out.push({
        id,
        kind: 'passphrase',
        created: pf.created,
        hostname: pf.hostname,
        username: pf.username,
        current: id === repo.keyId,
      });
    } else if (isAgeFile(bytes)) {
      out.push({ id, kind: 'recipients', current: id === repo.keyId });
    }
  }
  return out;
}

export async function addKey(
  repo: KeyedRepo,
  newPassword: string,
  o: { scrypt?: ScryptParams; hostname?: string; username?: string; now?: Date } = {},
): Promise<KeyInfo> {
  if (repo.mode !== 'passphrase' || !repo.keys.dataKey) {
    throw new UserError('only passphrase repositories have password keys', {
      hint: 'a recipients repository is opened with its age identity; encrypt to more recipients at init time',
    });
  }
  const meta = {
    hostname: o.hostname ?? osHostname(),
    username: o.username ?? userInfo().username,
    created: (o.now ?? new Date()).toISOString(),
  };
  const bytes = await makePassphraseKeyFile(repo.keys, newPassword, meta, o.scrypt);
  const id = sha256Hex(bytes);
  await repo.store.write(`keys/${id}`, bytes);
  return { id, kind: 'passphrase', ...meta, current: false };
}

/** Removes a password key by id or unique prefix; refuses the last one and the one in use. */
export async function removeKey(repo: KeyedRepo, idOrPrefix: string): Promise<KeyInfo> {
  const keys = await listKeys(repo);
  const hits = idOrPrefix.length >= 4 ? keys.filter((k) => k.id.startsWith(idOrPrefix)) : [];
  if (hits.length !== 1) {
    throw new UserError(
      hits.length === 0 ? `no key ${idOrPrefix} in the repository` : `key prefix ${idOrPrefix} is ambiguous`,
      {
        hint: 'list keys with `nightshift backup keys list` and pass an id (or a unique prefix of 4+ digits)',
        exitCode: hits.length === 0 ? EXIT.notFound : EXIT.usage,
      },
    );
  }
  const k = hits[0]!;
  if (k.current) {
    throw new UserError(`key ${k.id.slice(0, 8)} is the one this command opened the repository with`, {
      hint: 'open the repository with another password to remove this key',
      exitCode: EXIT.conflict,
    });
  }
  if (keys.filter((x) => x.kind === k.kind).length <= 1) {
    throw new UserError(
      `key ${k.id.slice(0, 8)} is the repository's last key; removing it would lose all data`,
      {
        hint: 'add another key first with `nightshift backup keys add`',
        exitCode: EXIT.conflict,
      },
    );
  }
  await repo.store.remove(`keys/${k.id}`);
  return k;
}
