/**
 * A repository in a directory on an SSH server, over SFTP (ssh2, pure JS). A file is written to
 * a `.tmp-*` name in its directory, fsynced where the server supports it, and renamed into place,
 * so a dropped connection or a killed process never leaves a half-written file under a real
 * name. The server's host key must be listed in known_hosts; a changed key is refused.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client, SFTPWrapper, Stats } from 'ssh2';
import { UserError } from '../../domain/errors.ts';
import { TEMP_PREFIX } from '../format.ts';
import type { BlobStore } from '../ports.ts';
import { checkHostKey, fingerprint, knownHostsName, type HostKeyVerdict } from './known-hosts.ts';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from './retry.ts';

export interface SftpStoreOptions {
  host: string;
  port: number;
  username: string;
  /** Directory on the server; relative paths are relative to the login directory. */
  path: string;
  /** A private key (OpenSSH or PEM text). */
  privateKey?: string | Buffer;
  passphrase?: string;
  /** An ssh-agent socket, used when no key is given. */
  agent?: string;
  /** The text of the known_hosts file the host key is checked against. */
  knownHosts: string;
  /** Where that text came from, for messages. */
  knownHostsFile: string;
  retry?: RetryOptions;
  readyTimeoutMs?: number;
}

interface Conn {
  client: Client;
  sftp: SFTPWrapper;
  closed: boolean;
}

/** SFTP status codes (draft-ietf-secsh-filexfer). */
const NO_SUCH_FILE = 2;

function sftpCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

function enoent(path: string, cause?: unknown): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${path} does not exist`, { cause });
  e.code = 'ENOENT';
  return e;
}

function p<T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

export class SftpBlobStore implements BlobStore {
  readonly location: string;
  private readonly opts: SftpStoreOptions;
  private conn: Promise<Conn> | null = null;
  private readonly madeDirs = new Set<string>();

  constructor(location: string, opts: SftpStoreOptions) {
    this.location = location;
    this.opts = opts;
  }

  private connect(): Promise<Conn> {
    if (this.conn) return this.conn;
    const o = this.opts;
    const attempt = (async () => {
      const { Client } = await import('ssh2');
      const client = new Client();
      let verdict: HostKeyVerdict | undefined;
      let presented: Buffer | undefined;
      const conn = await new Promise<Conn>((resolve, reject) => {
        const state: Partial<Conn> = { client, closed: false };
        client.on('error', (err) => {
          state.closed = true;
          reject(err);
        });
        client.on('close', () => {
          state.closed = true;
          if (this.conn === attempt) this.conn = null;
          reject(
            Object.assign(new Error(`connection to ${o.host}:${o.port} closed`), { code: 'ERR_SSH_CLOSED' }),
          );
        });
        client.on('ready', () => {
          client.sftp((err, sftp) => {
            if (err) return reject(err);
            state.sftp = sftp;
            resolve(state as Conn);
          });
        });
        client.connect({
          host: o.host,
          port: o.port,
          username: o.username,
          readyTimeout: o.readyTimeoutMs ?? 20_000,
          keepaliveInterval: 15_000,
          ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : {}),
          ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
          ...(o.privateKey === undefined && o.agent !== undefined ? { agent: o.agent } : {}),
          hostVerifier: (key: Buffer) => {
            presented = key;
            verdict = checkHostKey(o.knownHosts, o.host, o.port, key);
            return verdict === 'match';
          },
        });
      }).catch((err: unknown) => {
        client.end();
        throw this.connectError(err, verdict, presented);
      });
      return conn;
    })();
    this.conn = attempt;
    attempt.catch(() => {
      if (this.conn === attempt) this.conn = null;
    });
    return attempt;
  }

  private connectError(err: unknown, verdict: HostKeyVerdict | undefined, key: Buffer | undefined): unknown {
    const o = this.opts;
    const name = knownHostsName(o.host, o.port);
    if (verdict === 'changed' || verdict === 'revoked')
      return new UserError(
        `the host key of ${name} (${fingerprint(key!)}) does not match ${o.knownHostsFile}: refusing to connect (someone may be intercepting the connection, or the server was reinstalled)`,
        {
          hint: `if the server's key changed on purpose, remove its old line with \`ssh-keygen -R '${name}' -f ${o.knownHostsFile}\` and add the new one after checking its fingerprint`,
          code: 'host_key',
        },
      );
    if (verdict === 'unknown')
      return new UserError(`the host key of ${name} (${fingerprint(key!)}) is not in ${o.knownHostsFile}`, {
        hint: `check the fingerprint with the server's administrator, then add it: ssh-keyscan -p ${o.port} ${o.host} >> ${o.knownHostsFile} (or pass --known-hosts FILE)`,
        code: 'host_key',
      });
    const e = err as { level?: string; message?: string };
    if (e?.level === 'client-authentication')
      return new UserError(`the SSH server ${name} refused user ${o.username}'s key`, {
        hint: "check the key given by --ssh-key-ref (or $NIGHTSHIFT_SSH_KEY) and the server's authorized_keys",
        code: 'auth',
      });
    return err;
  }

  private full(path: string): string {
    if (path.split('/').some((s) => s === '..' || s === '.') || path.startsWith('/'))
      throw new Error(`invalid repository path ${JSON.stringify(path)}`);
    return path === '' ? this.opts.path : posix.join(this.opts.path, path);
  }

  /** Runs one operation, reconnecting and trying again when the connection broke under it. */
  private op<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    return withRetry(async () => {
      const c = await this.connect();
      try {
        return await fn(c.sftp);
      } catch (err) {
        if (c.closed) {
          this.conn = null;
          throw Object.assign(err instanceof Error ? err : new Error(String(err)), { transient: true });
        }
        throw err;
      }
    }, this.opts.retry ?? DEFAULT_RETRY);
  }

  private async mkdirp(sftp: SFTPWrapper, dir: string): Promise<void> {
    if (this.madeDirs.has(dir) || dir === '.' || dir === '/' || dir === '') return;
    try {
      const st = await p<Stats>((cb) => sftp.stat(dir, cb));
      if (!st.isDirectory()) throw new Error(`${dir} on ${this.opts.host} is not a directory`);
    } catch (err) {
      if (sftpCode(err) !== NO_SUCH_FILE) throw err;
      await this.mkdirp(sftp, posix.dirname(dir));
      await p<void>((cb) => sftp.mkdir(dir, { mode: 0o700 }, (e) => cb(e, undefined))).catch(async (e) => {
        // Another writer may have made it meanwhile.
        const st = await p<Stats>((cb) => sftp.stat(dir, cb)).catch(() => null);
        if (!st?.isDirectory()) throw e;
      });
    }
    this.madeDirs.add(dir);
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    const target = this.full(path);
    const dir = posix.dirname(target);
    await this.op(async (sftp) => {
      await this.mkdirp(sftp, dir);
      const tmp = posix.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
      try {
        const h = await p<Buffer>((cb) => sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
        try {
          if (data.length > 0)
            await p<void>((cb) =>
              sftp.write(h, Buffer.from(data.buffer, data.byteOffset, data.length), 0, data.length, 0, (e) =>
                cb(e, undefined),
              ),
            );
          // Durable before it gets its real name; servers without the extension still rename atomically.
          await p<void>((cb) => sftp.ext_openssh_fsync(h, (e) => cb(e, undefined))).catch(() => {});
        } finally {
          await p<void>((cb) => sftp.close(h, (e) => cb(e, undefined))).catch(() => {});
        }
        if (await this.statOrNull(sftp, target)) {
          // Named by content (or randomly): an existing file already holds these bytes.
          await p<void>((cb) => sftp.unlink(tmp, (e) => cb(e, undefined)));
          return;
        }
        await p<void>((cb) => sftp.rename(tmp, target, (e) => cb(e, undefined)));
      } catch (err) {
        await p<void>((cb) => sftp.unlink(tmp, (e) => cb(e, undefined))).catch(() => {});
        throw err;
      }
    });
  }

  private async statOrNull(sftp: SFTPWrapper, path: string): Promise<Stats | null> {
    try {
      return await p<Stats>((cb) => sftp.stat(path, cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return null;
      throw err;
    }
  }

  async read(path: string): Promise<Uint8Array> {
    const full = this.full(path);
    return this.op(async (sftp) => {
      const st = await this.statOrNull(sftp, full);
      if (!st) throw enoent(path);
      return this.readAt(sftp, full, 0, st.size);
    });
  }

  async readRange(path: string, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const full = this.full(path);
    return this.op((sftp) => this.readAt(sftp, full, offset, length, into));
  }

  private async readAt(
    sftp: SFTPWrapper,
    full: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Buffer> {
    let h: Buffer;
    try {
      h = await p<Buffer>((cb) => sftp.open(full, 'r', cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) throw enoent(full, err);
      throw err;
    }
    try {
      const buf =
        into && into.length >= length
          ? Buffer.from(into.buffer, into.byteOffset, length)
          : Buffer.alloc(length);
      // Pieces requested together: one round trip per piece would make pack reads crawl.
      const PIECE = 256 * 1024;
      const pieces: Promise<void>[] = [];
      for (let off = 0; off < length; off += PIECE) {
        const len = Math.min(PIECE, length - off);
        pieces.push(this.readFully(sftp, h, buf, off, len, offset + off, full));
      }
      await Promise.all(pieces);
      return buf;
    } finally {
      await p<void>((cb) => sftp.close(h, (e) => cb(e, undefined))).catch(() => {});
    }
  }

  private async readFully(
    sftp: SFTPWrapper,
    h: Buffer,
    buf: Buffer,
    off: number,
    len: number,
    pos: number,
    name: string,
  ): Promise<void> {
    let done = 0;
    while (done < len) {
      const n = await new Promise<number>((resolve, reject) =>
        sftp.read(h, buf, off + done, len - done, pos + done, (err, bytesRead) => {
          // ssh2 reports end of file as an error with code 1 (EOF).
          if (err) return (err as { code?: unknown }).code === 1 ? resolve(0) : reject(err);
          resolve(bytesRead);
        }),
      );
      if (n === 0) throw new Error(`${name} is shorter than expected (wanted ${pos + len} bytes)`);
      done += n;
    }
  }

  async exists(path: string): Promise<boolean> {
    const full = this.full(path);
    return this.op(async (sftp) => (await this.statOrNull(sftp, full)) !== null);
  }

  async list(dir: string): Promise<string[]> {
    return (await this.listSizes(dir)).map((f) => f.path);
  }

  async listSizes(dir: string): Promise<{ path: string; size: number }[]> {
    const root = this.full(dir);
    return this.op(async (sftp) => {
      const out: { path: string; size: number }[] = [];
      const walk = async (abs: string, rel: string): Promise<void> => {
        let entries;
        try {
          entries = await p<{ filename: string; attrs: Stats }[]>((cb) => sftp.readdir(abs, cb));
        } catch (err) {
          if (sftpCode(err) === NO_SUCH_FILE) return;
          throw err;
        }
        for (const e of entries) {
          if (e.filename === '.' || e.filename === '..') continue;
          const r = rel === '' ? e.filename : `${rel}/${e.filename}`;
          if (e.attrs.isDirectory()) await walk(posix.join(abs, e.filename), r);
          else if (e.attrs.isFile()) out.push({ path: r, size: e.attrs.size });
        }
      };
      await walk(root, '');
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    });
  }

  async size(path: string): Promise<number> {
    const full = this.full(path);
    return this.op(async (sftp) => {
      const st = await this.statOrNull(sftp, full);
      if (!st) throw enoent(path);
      return st.size;
    });
  }

  async remove(path: string): Promise<void> {
    const full = this.full(path);
    await this.op(async (sftp) => {
      await p<void>((cb) => sftp.unlink(full, (e) => cb(e, undefined))).catch((err) => {
        if (sftpCode(err) !== NO_SUCH_FILE) throw err;
      });
    });
  }

  /** Ends the SSH connection; a later call connects again. */
  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    const conn = await c?.catch(() => null);
    conn?.client.end();
  }
}
