/**
 * The repository: opens keys, keeps the master index, buffers blobs into packs, writes index and
 * snapshot files in crash-safe order (docs/FORMAT.md). Implements the `Repository` port.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { constants as fsc } from 'node:fs';
import { open as fsOpen, readFile } from 'node:fs/promises';
import { hostname as osHostname, userInfo } from 'node:os';
import { EXIT, UserError } from '../domain/errors.ts';
import { openBlobStore } from './backends/open-store.ts';
import {
  sharedBlobPool,
  type BlobWorkerPool,
  type ChunkerConfig,
  type RangeBlob,
  type WrittenBlob,
} from './blob-workers.ts';
import { Chunker, deriveGearTable, validateChunkerParams } from './chunker.ts';
import { encodeConfig, parseConfig, verifyConfig, type RepoConfig } from './config.ts';
import { AuthError, hmacHex, open as unseal, seal, sha256Hex, subkey } from './crypto.ts';
import {
  CONFIG_FILE,
  DEFAULT_CHUNKER,
  DIRS,
  FORMAT_VERSION,
  PACK_TARGET_SIZE,
  TEMP_PREFIX,
} from './format.ts';
import type { ChunkerParams, ScryptParams } from './format.ts';
import { decodeIndex, encodeIndex, type IndexPack } from './index-file.ts';
import { parsePassphraseKeyFile } from './kdf.ts';
import {
  ageDecrypt,
  ageEncrypt,
  formatWriterKey,
  isAgeFile,
  makePassphraseKeyFile,
  makeRecipientKeyFile,
  newMasterKeys,
  parseWriterKey,
  readIdentityFile,
  unlockPassphraseKeyFile,
  unlockRecipientKeyFile,
  validateRecipient,
  type MasterKeys,
} from './keys.ts';
import { MasterIndex } from './master-index.ts';
import {
  PackBuilder,
  blobAad,
  decryptBlob,
  dropSpareBuffers,
  encryptBlob,
  headerLength,
  openHeader,
  packIdFromPath,
  packPath,
  sealedLength,
  type BlobEntry,
  type KeySlot,
  type PackHeader,
} from './pack.ts';
import type {
  BlobId,
  BlobRead,
  BlobStore,
  BlobWrite,
  BlobType,
  HostFileReader,
  ListedFile,
  Repository,
  SaveBlobOptions,
  SealedBlob,
  SnapshotMeta,
} from './ports.ts';
import { utimeSecondsOf } from './mtime.ts';
import { makeBlobWriter } from './restore-writer.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { IndexCache } from './index-cache.ts';
import {
  blobIdsOf,
  decodeSnapshot,
  encodeSnapshot,
  snapshotPath,
  type SnapshotJson,
} from './snapshot-file.ts';

export const READ_NEEDS_IDENTITY =
  'this repository is encrypted to recipients; reading needs --identity FILE (the age identity kept off this host)';

/** A blob of readBlobs: its plaintext, or why it cannot be read. */
type ReadResult = { entry: BlobEntry; r: BlobRead };

/** Index files are also written every this many packs, so a long backup's progress survives a crash. */
const PACKS_PER_INDEX = 64;
/** Packs being written while the next fills, unless the store says (`packWrites`); each holds a pack buffer. */
const PACK_WRITES = 2;
/** Index files read ahead of the one being decoded when a repository opens. */
const INDEX_READS_AHEAD = 8;
/** Smaller blobs (trees, file tails) are sealed inline: a worker round trip would cost more. */
const WORKER_MIN_BYTES = 16 * 1024;
/** readBlobs: bytes per read of a pack, and the largest gap of unneeded bytes read through. */
const RANGE_MAX = 1024 * 1024;
const RANGE_GAP = 256 * 1024;
/** readBlobs: plaintext bytes per range, so well-compressed data does not open into many MiB. */
const RANGE_RAW_MAX = 4 * 1024 * 1024;

export interface InitOptions {
  /** Passphrase mode. */
  password?: string;
  /** Recipients mode: age X25519 recipients (age1…). */
  recipients?: string[];
  /** Recipients mode: where to write the writer key file (created 0600; refused if it exists). */
  writerKeyPath?: string;
  chunker?: ChunkerParams;
  /** For tests and slow machines; defaults to DEFAULT_SCRYPT. */
  scrypt?: ScryptParams;
  hostname?: string;
  username?: string;
}

export interface OpenOptions {
  password?: string;
  /** Recipients mode, writer access. */
  writerKeyFile?: string;
  writerKey?: string;
  /** Recipients mode, full access: an age identity file or identity strings. */
  identityFile?: string;
  identities?: string[];
  hostname?: string;
  /** The config file's bytes when the caller has already read them (see access.ts). */
  configBytes?: Uint8Array;
  /** Read, chunk, seal and open blobs on the low-priority worker pool (a --nice profile). */
  lowPriority?: boolean;
  /**
   * false: do not read the index files on open (listing snapshots needs none, and the index grows
   * with the repository); `ensureIndex()` reads them when a later step needs them.
   */
  index?: boolean;
  /**
   * A host-local file caching snapshot metadata (snapshot-cache.ts), e.g. in the repository's
   * cache directory: listing snapshots then reads only the snapshot files it has not seen.
   */
  snapshotCache?: string;
  /**
   * The work will seal or open blobs (backup, restore, check --read-data): the worker threads are
   * started before the key is derived, so they boot while scrypt runs instead of after it.
   */
  workers?: boolean;
  /** A host-local file caching the loaded index (index-cache.ts), e.g. in the repository's cache directory. */
  indexCache?: string;
}

export interface InitResult {
  repo: Repo;
  /** Recipients mode: the writer key file's text (also written to writerKeyPath when given). */
  writerKey?: string;
}

function toStore(location: string | BlobStore): BlobStore {
  return typeof location === 'string' ? openBlobStore(location) : location;
}

function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

export async function initRepository(location: string | BlobStore, opts: InitOptions): Promise<InitResult> {
  const store = toStore(location);
  const recipients = opts.recipients ?? [];
  if ((opts.password === undefined) === (recipients.length === 0)) {
    throw new UserError('init needs either a password or at least one recipient, not both', {
      hint: 'pass --password-file FILE (or NIGHTSHIFT_PASSWORD) for a passphrase repository, or --recipient age1… for a public-key one',
    });
  }
  recipients.forEach(validateRecipient);
  const chunker = opts.chunker ?? DEFAULT_CHUNKER;
  validateChunkerParams(chunker);
  const existing = await store.exists(CONFIG_FILE).catch((err: unknown) => {
    throw err instanceof UserError ? err : unreachable(store, err);
  });
  if (existing) {
    throw new UserError(`a repository already exists at ${store.location}`, {
      hint: 'choose an empty directory, or use the existing repository',
      exitCode: EXIT.exists,
      code: 'exists',
    });
  }
  const mode = recipients.length > 0 ? 'recipients' : 'passphrase';
  const cfg: RepoConfig = {
    v: FORMAT_VERSION,
    id: randomBytes(16).toString('hex'),
    mode,
    chunker: { ...chunker },
    created: new Date().toISOString(),
  };
  if (mode === 'recipients') cfg.recipients = [...recipients];
  const keys = newMasterKeys(cfg.id, mode === 'passphrase');
  const meta = {
    hostname: opts.hostname ?? osHostname(),
    username: opts.username ?? defaultUser(),
    created: cfg.created,
  };
  let writerKey: string | undefined;
  if (mode === 'recipients') {
    writerKey = formatWriterKey(keys, store.location);
    if (opts.writerKeyPath) await writePrivateFile(opts.writerKeyPath, writerKey);
  }
  // Key first, config last: a directory without config is not a repository yet, so an
  // interrupted init can simply be repeated.
  const keyFile =
    mode === 'passphrase'
      ? await makePassphraseKeyFile(keys, opts.password!, meta, opts.scrypt)
      : await makeRecipientKeyFile(keys, recipients);
  await store.write(`${DIRS.keys}/${sha256Hex(keyFile)}`, keyFile);
  await store.write(CONFIG_FILE, encodeConfig(cfg, keys.metaKey));
  const repo = new Repo(store, cfg, keys, {
    canRead: true,
    identities: [],
    keyId: sha256Hex(keyFile),
    hostname: meta.hostname,
  });
  return writerKey === undefined ? { repo } : { repo, writerKey };
}

async function writePrivateFile(path: string, text: string): Promise<void> {
  let fh;
  try {
    fh = await fsOpen(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'EEXIST' ? `${path} already exists` : `cannot create ${path}: ${code ?? 'error'}`,
      { hint: 'choose another path for the writer key; an existing key is never overwritten' },
    );
  }
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function openRepository(location: string | BlobStore, opts: OpenOptions = {}): Promise<Repo> {
  const store = toStore(location);
  let cfgBytes: Uint8Array;
  try {
    cfgBytes = opts.configBytes ?? (await store.read(CONFIG_FILE));
  } catch (err) {
    if (err instanceof UserError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unreachable(store, err);
    throw new UserError(`no repository at ${store.location}`, {
      hint: 'check the path, or create one with `nightshift backup init`',
      exitCode: EXIT.notFound,
      code: 'not_found',
    });
  }
  let parsed;
  try {
    parsed = parseConfig(cfgBytes);
  } catch (err) {
    throw damaged(store, CONFIG_FILE, (err as Error).message);
  }
  const { cfg, body, mac } = parsed;
  const hostname = opts.hostname ?? osHostname();
  const keyFiles = (await store.list(DIRS.keys)).filter((k) => !k.split('/').pop()!.startsWith(TEMP_PREFIX));
  let keys: MasterKeys | null = null;
  let keyId = '';
  let identities: string[] = [];
  let canRead = true;

  if (cfg.mode === 'passphrase') {
    if (opts.password === undefined) {
      throw new UserError(`repository ${store.location} needs its password`, {
        hint: 'pass --password-file FILE or set NIGHTSHIFT_PASSWORD',
        exitCode: EXIT.auth,
        code: 'auth',
      });
    }
    if (opts.workers === true) sharedBlobPool({ lowPriority: opts.lowPriority === true });
    const candidates = [];
    for (const k of keyFiles) {
      const f = parsePassphraseKeyFile(await store.read(`${DIRS.keys}/${k}`));
      if (f) candidates.push({ k, f });
    }
    // scrypt runs on the libuv pool, so trying all key files at once costs about one attempt.
    const results = await Promise.all(candidates.map((c) => unlockPassphraseKeyFile(c.f, opts.password!)));
    const hit = results.findIndex((r) => r !== null && verifyConfig(body, mac, r.metaKey));
    if (hit < 0) {
      if (results.some((r) => r !== null)) throw damaged(store, CONFIG_FILE, 'its MAC does not verify');
      const bad: string[] = [];
      for (const k of keyFiles) {
        if (sha256Hex(await store.read(`${DIRS.keys}/${k}`)) !== k) bad.push(`${DIRS.keys}/${k}`);
      }
      throw new UserError(
        `wrong password for repository ${store.location}` +
          (bad.length > 0 ? ` (or the damaged key file ${bad.join(', ')} was the one it opens)` : ''),
        {
          hint: 'check --password-file / NIGHTSHIFT_PASSWORD; `nightshift backup check` reports damaged key files',
          exitCode: EXIT.auth,
          code: 'auth',
        },
      );
    }
    keys = results[hit]!;
    keyId = candidates[hit]!.k;
  } else {
    identities = opts.identities ?? (opts.identityFile ? await readIdentityFile(opts.identityFile) : []);
    if (identities.length > 0) {
      for (const k of keyFiles) {
        const bytes = await store.read(`${DIRS.keys}/${k}`);
        if (!isAgeFile(bytes)) continue;
        try {
          const w = await unlockRecipientKeyFile(identities, bytes);
          if (w && verifyConfig(body, mac, w.metaKey)) {
            keys = w;
            keyId = k;
            break;
          }
        } catch {
          // A damaged key file: try the others; check names it.
        }
      }
      if (!keys) {
        throw new UserError(`the identity does not open repository ${store.location}`, {
          hint: `use the identity whose recipient is one of: ${(cfg.recipients ?? []).join(', ')}`,
          exitCode: EXIT.auth,
          code: 'auth',
        });
      }
    } else {
      const text =
        opts.writerKey ??
        (opts.writerKeyFile
          ? await readFile(opts.writerKeyFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
              throw new UserError(`cannot read writer key ${opts.writerKeyFile}: ${err.code ?? 'error'}`, {
                hint: 'pass the writer key written by `nightshift backup init`, or --identity FILE',
                exitCode: EXIT.auth,
                code: 'auth',
              });
            })
          : undefined);
      if (text === undefined) {
        throw new UserError(`repository ${store.location} is encrypted to recipients and needs a key`, {
          hint: 'use the writer key written by `nightshift backup init` to back up, or --identity FILE to read',
          exitCode: EXIT.auth,
          code: 'auth',
        });
      }
      const w = parseWriterKey(text, opts.writerKeyFile ?? 'the writer key');
      if (w.repoId !== cfg.id || !verifyConfig(body, mac, w.metaKey)) {
        throw new UserError(`the writer key does not belong to repository ${store.location}`, {
          hint: 'use the writer key written when this repository was created',
          exitCode: EXIT.auth,
          code: 'auth',
        });
      }
      keys = w;
      canRead = false;
    }
  }
  if (keys.repoId !== cfg.id) throw damaged(store, CONFIG_FILE, 'the key belongs to another repository');
  const repo = new Repo(store, cfg, keys, {
    canRead,
    identities,
    keyId,
    hostname,
    lowPriority: opts.lowPriority === true,
  });
  if (opts.snapshotCache !== undefined)
    repo.snapshotCache = new SnapshotCache(opts.snapshotCache, subkey(keys.metaKey, 'snapshot-cache'));
  if (opts.indexCache !== undefined)
    repo.indexCache = new IndexCache(opts.indexCache, subkey(keys.metaKey, 'index-cache'));
  if (opts.index !== false) await repo.loadIndex();
  return repo;
}

/** A repository that could not be read at all (network, permissions): the reason, not "no repository". */
export function unreachable(store: BlobStore, err: unknown): UserError {
  const e = err as { message?: string; code?: unknown; name?: string };
  const why = e?.message || String(e?.code ?? e?.name ?? err);
  return new UserError(`cannot reach repository ${store.location}: ${why}`, {
    hint: 'check the location, the network and the credentials (remote repositories: docs/repositories.md)',
    exitCode: EXIT.failed,
    code: 'unreachable',
  });
}

function damaged(store: BlobStore, file: string, why: string): UserError {
  return new UserError(`repository ${store.location}: ${file} is damaged (${why})`, {
    hint: 'run `nightshift backup check` to see the extent; restore the file from a copy of the repository if you have one',
    exitCode: EXIT.failed,
    code: 'damaged',
  });
}

interface PackWrite {
  ids: BlobId[];
  done: Promise<void>;
}

/** Snapshot files read at once when listing them. */
const SNAPSHOT_READS = 8;

/** A snapshot file as stored: its metadata and the blobs it references. */
export interface SnapshotRecord {
  meta: SnapshotMeta;
  readonly blobs: BlobId[];
  /** The blob list as stored: 32 bytes per id (snapshot-file.ts's RawIdSet and blobIdsOf read it). */
  ids: Buffer;
  json: SnapshotJson;
}

export class Repo implements Repository {
  readonly store: BlobStore;
  readonly config: RepoConfig;
  readonly mode: 'passphrase' | 'recipients';
  readonly canRead: boolean;
  readonly keys: MasterKeys;
  readonly index = new MasterIndex();
  /** Index files that failed to load (damaged), with the reason. */
  readonly damagedIndex: { file: string; why: string }[] = [];
  /** The key file this session opened with (id under keys/). */
  readonly keyId: string;
  readonly hostname: string;
  readonly gearTable: Uint32Array;
  readonly headerKey: Buffer;
  readonly indexKey: Buffer;
  readonly snapshotKey: Buffer;
  /** Its blob work runs on the low-priority worker pool (nice 19 threads; blob-workers.ts). */
  readonly lowPriority: boolean;
  private readonly identities: string[];

  private packer: PackBuilder | null = null;
  /** Builders not yet written: the current one and detached ones awaiting in-flight blobs. */
  private readonly open = new Set<PackBuilder>();
  private readonly inflight = new Set<Promise<SealedBlob>>();
  private readonly closing = new Set<Promise<void>>();
  private readonly pending = new Set<BlobId>();
  private writes: PackWrite[] = [];
  /** Packs written since the last index file; their entries are read back from the index. */
  private unindexed: string[] = [];
  private readonly headers = new Map<string, PackHeader>();
  private readonly slotKeys = new Map<string, Buffer>();
  private writeError: Error | null = null;
  private indexLoaded = false;
  /** Where listings keep snapshot metadata between runs (absent: every listing reads every file). */
  snapshotCache: SnapshotCache | undefined;
  /** Where opens keep the loaded index between runs (absent: every open reads every index file). */
  indexCache: IndexCache | undefined;
  /** The index in memory came (in part) from indexCache, not only from the index files. */
  indexFromCache = false;
  /** Restores without blob workers write on the main thread. */
  private localWriter: ReturnType<typeof makeBlobWriter> | undefined;

  constructor(
    store: BlobStore,
    config: RepoConfig,
    keys: MasterKeys,
    o: { canRead: boolean; identities: string[]; keyId: string; hostname: string; lowPriority?: boolean },
  ) {
    this.lowPriority = o.lowPriority === true;
    this.store = store;
    this.config = config;
    this.mode = config.mode;
    this.canRead = o.canRead;
    this.keys = keys;
    this.identities = o.identities;
    this.keyId = o.keyId;
    this.hostname = o.hostname;
    this.gearTable = deriveGearTable(keys.gearSeed);
    this.headerKey = subkey(keys.metaKey, 'pack-header');
    this.indexKey = subkey(keys.metaKey, 'index');
    this.snapshotKey = subkey(keys.metaKey, 'snapshot');
  }

  get id(): string {
    return this.config.id;
  }

  get chunkerParams(): ChunkerParams {
    return this.config.chunker;
  }

  /** A chunker with this repository's parameters and secret Gear table. */
  newChunker(): Chunker {
    return new Chunker(this.config.chunker, this.gearTable);
  }

  private chunkerConfig: ChunkerConfig | undefined;

  /** The worker pool for this repository's blob work: the low-priority one for a --nice profile. */
  blobPool(): BlobWorkerPool | null {
    return sharedBlobPool({ lowPriority: this.lowPriority });
  }

  /**
   * Reads, chunks and hashes a host file on a worker thread (file-chunker.ts), giving the same
   * chunks and ids as `newChunker()` and `blobId()` on the archiver's main-thread path; null when
   * blob workers are disabled.
   */
  readHostFile(file: ListedFile, readSize: number): HostFileReader | null {
    const pool = this.blobPool();
    if (!pool) return null;
    if (!this.chunkerConfig || this.chunkerConfig.readSize !== readSize) {
      const { min, avg, max } = this.config.chunker;
      // Names the secrets without revealing them: workers keep one chunker per distinct key.
      const key = createHash('sha256')
        .update(this.keys.macKey)
        .update(new Uint8Array(this.gearTable.buffer))
        .update(`${min}/${avg}/${max}/${readSize}`)
        .digest('hex');
      this.chunkerConfig = { key, gear: this.gearTable, min, avg, max, macKey: this.keys.macKey, readSize };
    }
    return pool.readHostFile(this.chunkerConfig, file);
  }

  // ------------------------------------------------------------------ index

  /**
   * Reads every index file (with an index cache, only those it does not hold yet; index-cache.ts).
   * A damaged one is skipped and recorded in `damagedIndex` (its blobs then read as missing,
   * naming the file), so `check` can still run and a backup can still add.
   */
  async loadIndex(opts: { cache?: boolean } = {}): Promise<void> {
    this.indexLoaded = true;
    this.indexFromCache = false;
    const listed = await this.listFiles(DIRS.index);
    const cache = opts.cache === false ? undefined : this.indexCache;
    let files = listed;
    const cached = cache !== undefined && this.index.isEmpty ? cache.load(listed) : undefined;
    if (cached) {
      try {
        this.index.adopt(cached.image);
        this.indexFromCache = true;
        files = cached.missing;
      } catch {
        // An image whose parts disagree is refused before anything is taken: read the files.
      }
    }
    const read = async (f: string): Promise<{ f: string; bytes?: Uint8Array; err?: unknown }> => {
      try {
        return { f, bytes: await this.store.read(`${DIRS.index}/${f}`) };
      } catch (err) {
        return { f, err };
      }
    };
    // A few reads ahead, but one file decoded at a time and added in listing order: the decoded
    // entries (one object per blob) are garbage as soon as the compact index holds them.
    const ahead: (Promise<{ f: string; bytes?: Uint8Array; err?: unknown }> | undefined)[] = files
      .slice(0, INDEX_READS_AHEAD)
      .map(read);
    for (let i = 0; i < files.length; i++) {
      const r = await ahead[i]!;
      ahead[i] = undefined;
      if (i + INDEX_READS_AHEAD < files.length) ahead.push(read(files[i + INDEX_READS_AHEAD]!));
      try {
        if (r.bytes === undefined) throw r.err;
        if (sha256Hex(r.bytes) !== r.f) throw new AuthError('content does not match its name');
        this.index.addFile(r.f, decodeIndex(this.indexKey, r.bytes).packs);
      } catch (err) {
        this.damagedIndex.push({ file: `${DIRS.index}/${r.f}`, why: (err as Error).message });
      }
    }
    // Only an index read whole and intact is kept for the next open.
    if (cache && (!this.indexFromCache || files.length > 0) && this.damagedIndex.length === 0)
      cache.save(listed, this.index.image());
  }

  /**
   * Reads the index files unless they were read already (a repository opened with `index: false`).
   * `cache: false` reads them again when the index came from the host's cache (check: a damaged
   * index file must be found even when the cache still has its content).
   */
  async ensureIndex(opts: { cache?: boolean } = {}): Promise<void> {
    if (this.indexLoaded) {
      if (opts.cache !== false || !this.indexFromCache) return;
      this.index.clear();
      this.damagedIndex.length = 0;
    }
    await this.loadIndex(opts);
  }

  /** File names under a top-level directory, without in-progress temp files. */
  async listFiles(dir: string): Promise<string[]> {
    return (await this.store.list(dir)).filter((p) => !p.split('/').pop()!.startsWith(TEMP_PREFIX));
  }

  // ------------------------------------------------------------------ blobs

  blobId(plaintext: Uint8Array): BlobId {
    return hmacHex(this.keys.macKey, plaintext);
  }

  hasBlob(id: BlobId): boolean {
    return this.index.has(id) || this.pending.has(id);
  }

  async saveBlob(
    type: BlobType,
    plaintext: Uint8Array,
    opts: SaveBlobOptions = {},
  ): Promise<{ id: BlobId; isNew: boolean; storedBytes: number }> {
    if (this.writeError) throw this.writeError;
    const id = opts.id ?? this.blobId(plaintext);
    return this.addBlob(type, id, plaintext.length, (key) =>
      this.seal(key, type, id, plaintext, opts.transfer === true),
    );
  }

  async saveHeldBlob(
    type: BlobType,
    id: BlobId,
    length: number,
    seal: (key: Buffer) => Promise<SealedBlob>,
  ): Promise<{ id: BlobId; isNew: boolean; storedBytes: number }> {
    if (this.writeError) throw this.writeError;
    return this.addBlob(type, id, length, seal);
  }

  /** Adds a blob to a pack unless it is present; `seal` runs (synchronously started) only when new. */
  private async addBlob(
    type: BlobType,
    id: BlobId,
    rawLength: number,
    seal: (key: Buffer) => Promise<SealedBlob>,
  ): Promise<{ id: BlobId; isNew: boolean; storedBytes: number }> {
    if (this.hasBlob(id)) return { id, isNew: false, storedBytes: 0 };
    this.pending.add(id);
    const packer = (this.packer ??= this.openBuilder());
    packer.outstanding++;
    packer.outstandingBytes += rawLength;
    // Many saves may be in flight at once: count them (at their plaintext size) towards the pack.
    if (packer.size + packer.outstandingBytes >= PACK_TARGET_SIZE) this.packer = null;
    const job = seal(packer.key);
    this.inflight.add(job);
    let sealed: SealedBlob;
    try {
      sealed = await job;
    } catch (err) {
      this.pending.delete(id);
      throw err;
    } finally {
      this.inflight.delete(job);
      packer.outstanding--;
      packer.outstandingBytes -= rawLength;
    }
    packer.addSealed(type, id, sealed.sealed, rawLength, sealed.compressed, 0);
    const storedBytes = sealedLength(sealed.sealed);
    // The pack holds a copy now.
    sealed.release?.();
    // Blobs still being sealed with this pack's key join it after it is detached; it is written
    // when the last of them arrives.
    if (packer === this.packer && packer.size >= PACK_TARGET_SIZE) this.packer = null;
    if (packer !== this.packer && packer.outstanding === 0) await this.closeBuilder(packer);
    return { id, isNew: true, storedBytes };
  }

  private openBuilder(): PackBuilder {
    const b = this.newPackBuilder();
    this.open.add(b);
    return b;
  }

  /** Compression + encryption: on a worker thread for data-sized blobs, inline for small ones. */
  private async seal(
    key: Buffer,
    type: BlobType,
    id: BlobId,
    plaintext: Uint8Array,
    transfer: boolean,
  ): Promise<SealedBlob> {
    // A buffer given up by the caller is moved, not copied, so it pays to seal it on a worker.
    const pool = transfer || plaintext.length >= WORKER_MIN_BYTES ? this.blobPool() : null;
    if (pool) {
      return pool.encrypt(key, type === 'tree' ? 1 : 0, blobAad(type, false, id), plaintext, { transfer });
    }
    return encryptBlob(key, type, id, plaintext);
  }

  /** Wraps a pack key for the repository's key mode. */
  async wrapPackKey(key: Buffer): Promise<KeySlot> {
    if (this.mode === 'passphrase') return { t: 'm', k: seal(this.keys.dataKey!, key).toString('base64') };
    return { t: 'a', k: Buffer.from(await ageEncrypt(this.config.recipients ?? [], key)).toString('base64') };
  }

  private closeBuilder(packer: PackBuilder): Promise<void> {
    if (!this.open.delete(packer)) return Promise.resolve();
    if (this.packer === packer) this.packer = null;
    if (packer.count === 0) return Promise.resolve();
    const done = (async () => {
      packer.addSlot(await this.wrapPackKey(packer.key));
      await this.writePack(packer);
    })();
    this.closing.add(done);
    return done.finally(() => this.closing.delete(done));
  }

  /** Finishes a builder and writes it in the background (bounded); used by prune too. */
  async writePack(packer: PackBuilder): Promise<{ id: string; entries: BlobEntry[] }> {
    const { id, size, entries, write } = packer.finish(this.headerKey);
    const ids = entries.map((e) => e.id);
    const w: PackWrite = {
      ids,
      done: write((path, bytes) => this.store.write(path, bytes)).then(
        () => {
          const p = { id, size, blobs: entries };
          this.index.addPack(p);
          this.unindexed.push(id);
          for (const b of ids) this.pending.delete(b);
        },
        (err: Error) => {
          this.writeError ??= err;
        },
      ),
    };
    this.writes.push(w);
    while (this.writes.length > (this.store.packWrites ?? PACK_WRITES)) await this.writes.shift()!.done;
    if (this.writeError) throw this.writeError;
    if (this.unindexed.length >= PACKS_PER_INDEX) await this.writeIndex();
    return { id, entries };
  }

  /** A pack builder that writes through to the store when it can (see PackBuilder). */
  newPackBuilder(key?: Buffer): PackBuilder {
    const store = this.store;
    return new PackBuilder(key, store.openSink ? () => store.openSink!(DIRS.data) : undefined);
  }

  private async waitWrites(): Promise<void> {
    const ws = this.writes;
    this.writes = [];
    await Promise.all(ws.map((w) => w.done));
    if (this.writeError) throw this.writeError;
  }

  /** Writes an index file for the packs written since the last one; returns its id. */
  async writeIndex(supersedes: string[] = []): Promise<string | null> {
    if (this.unindexed.length === 0 && supersedes.length === 0) return null;
    const ids = this.unindexed;
    this.unindexed = [];
    // Entries are built from the compact index for the encoding only, one pack at a time: holding
    // them as objects until the next index file (64 packs: ~150,000 blobs of small files) cost
    // ~40 MiB of heap, and building all of them at once ~15 MiB at the end of a backup.
    const index = this.index;
    function* packs(): Generator<IndexPack> {
      for (const p of ids) {
        const pack = index.packs.get(p);
        if (!pack) throw new Error(`pack ${p} is written but no longer in the index`);
        yield pack;
      }
    }
    const { id, bytes } = encodeIndex(this.indexKey, packs(), supersedes);
    await this.store.write(`${DIRS.index}/${id}`, bytes);
    this.index.files.set(id, ids);
    return id;
  }

  async flush(): Promise<void> {
    await this.flushPacks();
    await this.writeIndex();
    dropSpareBuffers();
  }

  /** Writes buffered blobs as packs without writing an index (what an interrupted backup leaves). */
  async flushPacks(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.packer = null;
    await Promise.all([...this.open].map((b) => this.closeBuilder(b)));
    while (this.closing.size > 0) await Promise.all([...this.closing]);
    await this.waitWrites();
  }

  async loadBlob(id: BlobId): Promise<Uint8Array> {
    if (!this.canRead) throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
    if (this.pending.has(id)) await this.flush();
    const entry = this.index.get(id);
    if (!entry) throw this.notIndexed(id);
    const path = packPath(entry.pack);
    try {
      const sealed = await this.store.readRange(path, entry.offset, entry.length);
      const key = await this.packKey(entry.pack, entry.slot);
      return decryptBlob(key, this.keys.macKey, entry, sealed);
    } catch (err) {
      if (err instanceof UserError) throw err;
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'pack is missing' : (err as Error).message;
      throw damaged(this.store, path, `blob ${id.slice(0, 16)}: ${why}`);
    }
  }

  /** Plaintext length of a stored blob, from the index; undefined when no index lists it. */
  blobSize(id: BlobId): number | undefined {
    return this.index.get(id)?.rawLength;
  }

  /**
   * Loads many blobs, reading each pack once: the blobs of a pack are read in offset order, in
   * ranges of up to RANGE_MAX bytes, and opened (AEAD, zstd, id check) on the blob workers, one
   * range per worker in flight (at least two), so reading, opening and the
   * caller's work overlap and every core is busy. `each` is called once per distinct id, pack after
   * pack (in the order the ids first name them), and awaited, so the caller bounds what it holds.
   * A blob that cannot be read (not indexed, missing pack, altered bytes) gets a UserError naming
   * the pack and the blob; the other blobs are still delivered. `plan` gives a blob's writes
   * (ports.ts): the worker that opens it writes it (restore-writer.ts) and `each` gets the outcome.
   * Memory: the ranges in flight, each at most RANGE_MAX sealed and RANGE_RAW_MAX opened.
   */
  async readBlobs(
    ids: Iterable<BlobId>,
    each: (id: BlobId, r: BlobRead) => Promise<void> | void,
    opts: { plan?: (id: BlobId) => Promise<BlobWrite[] | undefined> | BlobWrite[] | undefined } = {},
  ): Promise<void> {
    if (!this.canRead) throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
    if (this.pending.size > 0) await this.flush();
    const byPack = new Map<string, BlobEntry[]>();
    const unknown: BlobId[] = [];
    const seen = new Set<BlobId>();
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const e = this.index.get(id);
      if (!e) {
        unknown.push(id);
        continue;
      }
      let list = byPack.get(e.pack);
      if (!list) byPack.set(e.pack, (list = []));
      list.push(e);
    }
    for (const id of unknown) await each(id, { error: this.notIndexed(id) });
    const ranges: BlobEntry[][] = [];
    for (const list of byPack.values()) {
      list.sort((a, b) => a.offset - b.offset);
      let cur: BlobEntry[] = [];
      let raw = 0;
      for (const e of list) {
        const first = cur[0];
        const last = cur[cur.length - 1];
        if (
          first &&
          last &&
          (e.offset - (last.offset + last.length) > RANGE_GAP ||
            e.offset + e.length - first.offset > RANGE_MAX ||
            raw + e.rawLength > RANGE_RAW_MAX)
        ) {
          ranges.push(cur);
          cur = [];
          raw = 0;
        }
        cur.push(e);
        raw += e.rawLength;
      }
      if (cur.length > 0) ranges.push(cur);
    }
    const pool = this.blobPool();
    // A range more than there are workers, handed over as any finishes: with one per worker, taken
    // in order, a worker that finished first sat idle until the oldest range was done.
    const depth = Math.max(2, (pool?.size ?? 0) + 1);
    const inflight = new Set<Promise<void>>();
    // Each range's blobs are handed to `each` in turn, never two ranges' at once.
    let delivered: Promise<void> = Promise.resolve();
    try {
      for (const range of ranges) {
        while (inflight.size >= depth) await Promise.race(inflight);
        const p: Promise<void> = this.openRange(range, pool, opts.plan)
          .then((results) => {
            delivered = delivered.then(async () => {
              for (const { entry, r } of results) await each(entry.id, r);
            });
            return delivered;
          })
          .finally(() => inflight.delete(p));
        p.catch(() => undefined);
        inflight.add(p);
      }
      await Promise.all(inflight);
    } finally {
      // When `each` stops early, no range may still be writing once this returns.
      await Promise.allSettled(inflight);
    }
  }

  private notIndexed(id: BlobId): UserError {
    const extra =
      this.damagedIndex.length > 0
        ? ` (damaged index: ${this.damagedIndex.map((d) => d.file).join(', ')})`
        : '';
    return new UserError(`blob ${id.slice(0, 16)} is not in the repository${extra}`, {
      hint: 'run `nightshift backup check` to find which snapshots are affected',
      exitCode: EXIT.failed,
      code: 'damaged',
    });
  }

  /**
   * Reads one range of a pack and opens its blobs (and writes those `plan` places) on a blob
   * worker, or on the main thread when workers are disabled.
   */
  private async openRange(
    entries: BlobEntry[],
    pool: BlobWorkerPool | null,
    plan: ((id: BlobId) => Promise<BlobWrite[] | undefined> | BlobWrite[] | undefined) | undefined,
  ): Promise<ReadResult[]> {
    const packId = entries[0]!.pack;
    const path = packPath(packId);
    const fail = (e: BlobEntry, why: string): UserError =>
      damaged(this.store, path, `blob ${e.id.slice(0, 16)}: ${why}`);
    const start = entries[0]!.offset;
    const last = entries[entries.length - 1]!;
    let buf: Uint8Array;
    const keys = new Map<number, Buffer>();
    try {
      const length = last.offset + last.length - start;
      buf = await this.store.readRange(path, start, length, pool?.rangeBuffer(length));
      for (const e of entries) if (!keys.has(e.slot)) keys.set(e.slot, await this.packKey(packId, e.slot));
    } catch (err) {
      if (err instanceof UserError) throw err;
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'pack is missing' : (err as Error).message;
      return entries.map((entry) => ({ entry, r: { error: fail(entry, why) } }));
    }
    const writes: (BlobWrite[] | null)[] = [];
    if (plan) for (const e of entries) writes.push((await plan(e.id)) ?? null);
    const out: ReadResult[] = [];
    // Blobs sealed under different pack keys (rare) are opened one key at a time.
    for (const slot of keys.keys()) {
      const idx = entries.flatMap((e, i) => (e.slot === slot ? [i] : []));
      const group = idx.map((i) => entries[i]!);
      const ws = plan ? idx.map((i) => writes[i]!) : undefined;
      const key = keys.get(slot)!;
      if (!pool) {
        const plains = group.map((e) => {
          try {
            const sealed = buf.subarray(e.offset - start, e.offset - start + e.length);
            return decryptBlob(key, this.keys.macKey, e, sealed);
          } catch (err) {
            return err as Error;
          }
        });
        const written = ws
          ? (this.localWriter ??= makeBlobWriter(fs, utimeSecondsOf))(
              plains.map((p) => (p instanceof Error ? null : p)),
              ws,
            )
          : undefined;
        group.forEach((entry, i) => {
          const p = plains[i]!;
          const w = written?.[i];
          out.push({
            entry,
            r: p instanceof Error ? { error: fail(entry, p.message) } : w ? { written: w } : { plain: p },
          });
        });
        continue;
      }
      const from = group[0]!.offset;
      const to = group[group.length - 1]!.offset + group[group.length - 1]!.length;
      const part = keys.size === 1 ? buf : buf.slice(from - start, to - start);
      const blobs: RangeBlob[] = group.map((e) => ({
        id: e.id,
        type: e.type === 'tree' ? 1 : 0,
        compressed: e.compressed,
        offset: e.offset - from,
        length: e.length,
        rawLength: e.rawLength,
      }));
      let opened: WrittenBlob[];
      try {
        opened = await pool.openAndWrite(key, this.keys.macKey, part, blobs, ws ?? group.map(() => null));
      } catch (err) {
        opened = group.map(() => ({ error: (err as Error).message }));
      }
      group.forEach((entry, i) => {
        const o = opened[i]!;
        out.push({ entry, r: 'error' in o ? { error: fail(entry, o.error) } : o });
      });
    }
    // Delivered in pack order, whatever the key order.
    if (keys.size > 1) out.sort((a, b) => a.entry.offset - b.entry.offset);
    return out;
  }

  /** The authenticated header of a pack (cached). */
  async readPackHeader(packId: string): Promise<PackHeader> {
    const cached = this.headers.get(packId);
    if (cached) return cached;
    const path = packPath(packId);
    const size = await this.store.size(path);
    const tailLen = Math.min(size, 64 * 1024);
    const tail = await this.store.readRange(path, size - tailLen, tailLen);
    const hlen = headerLength(tail);
    if (hlen + 4 > size) throw new AuthError('pack header length is out of range');
    const sealedHeader =
      hlen + 4 <= tail.length
        ? tail.subarray(tail.length - 4 - hlen, tail.length - 4)
        : await this.store.readRange(path, size - 4 - hlen, hlen);
    const h = openHeader(this.headerKey, sealedHeader);
    this.headers.set(packId, h);
    return h;
  }

  /** Unwraps a pack's key slot; needs read access. */
  async packKey(packId: string, slot: number): Promise<Buffer> {
    const header = await this.readPackHeader(packId);
    const s = header.slots[slot];
    if (!s) throw new AuthError(`pack header has no key slot ${slot}`);
    return this.unwrapSlot(s);
  }

  async unwrapSlot(s: KeySlot): Promise<Buffer> {
    const cached = this.slotKeys.get(s.k);
    if (cached) return cached;
    if (!this.canRead) throw new UserError(READ_NEEDS_IDENTITY, { exitCode: EXIT.auth, code: 'auth' });
    const raw = Buffer.from(s.k, 'base64');
    let key: Buffer;
    if (s.t === 'm') {
      if (!this.keys.dataKey)
        throw new AuthError('pack key is wrapped with a master key this repository lacks');
      key = unseal(this.keys.dataKey, raw);
    } else {
      const k = await ageDecrypt(this.identities, raw);
      if (!k) throw new AuthError('pack key is not encrypted to this identity');
      key = Buffer.from(k);
    }
    if (key.length !== 32) throw new AuthError('pack key has a wrong length');
    this.slotKeys.set(s.k, key);
    return key;
  }

  // ------------------------------------------------------------------ snapshots

  async saveSnapshot(
    meta: Omit<SnapshotMeta, 'id'>,
    referencedBlobs: Iterable<BlobId>,
  ): Promise<SnapshotMeta> {
    // Packs and index first: a snapshot must never point at blobs that are not durable.
    await this.flush();
    // The caller's set is used as it is (a million-file snapshot references a million blobs).
    const given: ReadonlySet<BlobId> =
      referencedBlobs instanceof Set ? (referencedBlobs as Set<BlobId>) : new Set(referencedBlobs);
    const blobs = given.has(meta.tree) ? given : new Set(given).add(meta.tree);
    for (const b of blobs) {
      if (!this.index.has(b))
        throw new Error(`snapshot references blob ${b.slice(0, 16)} that is not in the repository`);
    }
    const json: SnapshotJson = {
      v: 1,
      time: meta.time,
      hostname: meta.hostname,
      tags: [...meta.tags],
      tree: meta.tree,
    };
    if (meta.username !== undefined) json.username = meta.username;
    if (meta.parent !== undefined) json.parent = meta.parent;
    if (meta.summary !== undefined) json.summary = meta.summary;
    if (this.mode === 'passphrase') json.paths = [...meta.paths];
    else {
      const age = await ageEncrypt(
        this.config.recipients ?? [],
        Buffer.from(JSON.stringify({ paths: meta.paths })),
      );
      json.sealedPaths = Buffer.from(age).toString('base64');
    }
    const { id, bytes } = encodeSnapshot(this.snapshotKey, json, blobs);
    await this.store.write(snapshotPath(id), bytes);
    // The next listing then need not read back the file just written (tens of MB for a million files).
    this.snapshotCache?.add(id, json);
    return { ...meta, id, paths: [...meta.paths] };
  }

  /**
   * Decodes one snapshot file; throws AuthError when it is damaged. The blob list is turned into
   * ids only when `blobs` is first read: listing snapshots needs just the metadata.
   */
  async readSnapshot(id: string): Promise<SnapshotRecord> {
    const bytes = await this.store.read(snapshotPath(id));
    if (sha256Hex(bytes) !== id) throw new AuthError('content does not match its name');
    const { json, ids } = decodeSnapshot(this.snapshotKey, bytes);
    const meta = await this.metaOf(id, json);
    let blobs: BlobId[] | undefined;
    return {
      meta,
      json,
      ids,
      get blobs(): BlobId[] {
        return (blobs ??= blobIdsOf(ids));
      },
    };
  }

  /** A snapshot's metadata from its JSON head (paths decrypted when they are sealed and readable). */
  private async metaOf(id: string, json: SnapshotJson): Promise<SnapshotMeta> {
    const meta: SnapshotMeta = {
      id,
      time: json.time,
      hostname: json.hostname,
      paths: json.paths ?? [],
      tags: json.tags ?? [],
      tree: json.tree,
    };
    if (json.username !== undefined) meta.username = json.username;
    if (json.parent !== undefined) meta.parent = json.parent;
    if (json.summary !== undefined) meta.summary = json.summary;
    if (json.sealedPaths !== undefined) {
      if (this.canRead) {
        const plain = await ageDecrypt(this.identities, Buffer.from(json.sealedPaths, 'base64'));
        if (!plain) throw new AuthError('snapshot paths are not encrypted to this identity');
        meta.paths = (JSON.parse(Buffer.from(plain).toString('utf8')) as { paths: string[] }).paths;
      } else {
        meta.pathsHidden = true;
      }
    }
    return meta;
  }

  async snapshotIds(): Promise<string[]> {
    return (await this.listFiles(DIRS.snapshots)).filter((f) => /^[0-9a-f]{64}$/.test(f));
  }

  /** All snapshots, oldest first. A damaged snapshot file raises a UserError naming it. */
  async listSnapshots(): Promise<SnapshotMeta[]> {
    const cache = this.snapshotCache;
    if (!cache) return (await this.listSnapshotRecords()).map((r) => r.meta);
    const ids = await this.snapshotIds();
    const cached = cache.load();
    const fresh = await this.readSnapshots(ids.filter((id) => !cached.has(id)));
    const heads = new Map<string, SnapshotJson>();
    for (const id of ids) {
      const json = cached.get(id);
      if (json) heads.set(id, json);
    }
    for (const r of fresh) heads.set(r.meta.id, r.json);
    if (fresh.length > 0 || heads.size !== cached.size) cache.save(heads);
    const out: SnapshotMeta[] = [];
    for (const [id, json] of heads) {
      try {
        out.push(await this.metaOf(id, json));
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw damaged(this.store, snapshotPath(id), (err as Error).message);
      }
    }
    return out.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  }

  async listSnapshotRecords(): Promise<SnapshotRecord[]> {
    const out = await this.readSnapshots(await this.snapshotIds());
    return out.sort((a, b) => a.meta.time.localeCompare(b.meta.time) || a.meta.id.localeCompare(b.meta.id));
  }

  /** Reads snapshot files, a few at a time; the first damaged one (in the given order) raises a UserError. */
  private async readSnapshots(ids: string[]): Promise<SnapshotRecord[]> {
    // A few reads at a time: a remote store's latency, not the decoding, is what they wait on.
    const settled: PromiseSettledResult<SnapshotRecord>[] = [];
    for (let i = 0; i < ids.length; i += SNAPSHOT_READS) {
      settled.push(
        ...(await Promise.allSettled(ids.slice(i, i + SNAPSHOT_READS).map((id) => this.readSnapshot(id)))),
      );
    }
    const out: SnapshotRecord[] = [];
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') return out.push(r.value);
      const err = r.reason as Error;
      if (err instanceof UserError) throw err;
      throw damaged(this.store, snapshotPath(ids[i]!), err.message);
    });
    return out;
  }

  /** Full id or a unique prefix (at least 4 hex digits), or `latest`. */
  async resolveSnapshotId(idOrPrefix: string): Promise<string> {
    if (idOrPrefix === 'latest') {
      const all = await this.listSnapshots();
      const last = all[all.length - 1];
      if (!last)
        throw new UserError('the repository has no snapshots yet', {
          exitCode: EXIT.notFound,
          code: 'not_found',
        });
      return last.id;
    }
    if (!/^[0-9a-f]{4,64}$/.test(idOrPrefix)) {
      throw new UserError(`invalid snapshot id ${JSON.stringify(idOrPrefix)}`, {
        hint: 'pass a snapshot id or a prefix of at least 4 hex digits (see `nightshift backup snapshots`), or latest',
      });
    }
    const hits = (await this.snapshotIds()).filter((i) => i.startsWith(idOrPrefix));
    if (hits.length === 0) {
      throw new UserError(`no snapshot ${idOrPrefix} in the repository`, {
        hint: 'list them with `nightshift backup snapshots`',
        exitCode: EXIT.notFound,
        code: 'not_found',
      });
    }
    if (hits.length > 1) {
      throw new UserError(`snapshot prefix ${idOrPrefix} is ambiguous (${hits.length} snapshots)`, {
        hint: 'pass more digits of the id',
      });
    }
    return hits[0]!;
  }

  async loadSnapshot(idOrPrefix: string): Promise<SnapshotMeta> {
    const id = await this.resolveSnapshotId(idOrPrefix);
    try {
      // The cached head spares reading the whole file, whose blob list may be tens of MB.
      const cached = this.snapshotCache?.load().get(id);
      if (cached) return await this.metaOf(id, cached);
      return (await this.readSnapshot(id)).meta;
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw damaged(this.store, snapshotPath(id), (err as Error).message);
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.store.close?.();
  }

  /** Packs present in the store (ids), temp leftovers excluded. */
  async listPacks(): Promise<string[]> {
    const out: string[] = [];
    for (const p of await this.listFiles(DIRS.data)) {
      const id = packIdFromPath(p);
      if (id) out.push(id);
    }
    return out;
  }
}
