/**
 * Where a repository lives, in restic's spelling: a local path, `s3:http[s]://host[:port]/bucket/prefix`
 * (or `s3:host/bucket/prefix`, https), `sftp:user@host:/path` or `sftp://user@host[:port]//abs/path`.
 * Parsing is pure; the backends (src/backup/backends/) turn a parsed location into a blob store.
 * Credentials never go into a location: one with a password or secret in it is refused.
 */
import { UserError } from './errors.ts';

export type RepositoryLocation =
  | { kind: 'local'; path: string }
  | { kind: 's3'; endpoint: string; bucket: string; prefix: string }
  | { kind: 'sftp'; user?: string; host: string; port: number; path: string };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function bad(text: string, problem: string, hint: string): never {
  throw new UserError(`repository location ${JSON.stringify(text)}: ${problem}`, {
    hint,
    code: 'bad_location',
  });
}

/** Whether the text names a remote repository (s3: or sftp:), as opposed to a local path. */
export function isRemoteLocation(text: string): boolean {
  return /^(s3|sftp):/.test(text);
}

/** Parses a repository location; throws a UserError naming the problem and the expected spelling. */
export function parseRepositoryLocation(text: string): RepositoryLocation {
  if (text.startsWith('s3:')) return parseS3(text);
  if (text.startsWith('sftp:')) return parseSftp(text);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    bad(
      text,
      'this kind of location is not supported',
      'use a directory, s3:https://host/bucket/prefix, or sftp:user@host:/path',
    );
  if (text.trim() === '') bad(text, 'is empty', 'give a directory, an s3: or an sftp: location');
  return { kind: 'local', path: text };
}

function parseS3(text: string): RepositoryLocation {
  let rest = text.slice(3);
  if (!/^https?:\/\//.test(rest)) rest = `https://${rest}`;
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    bad(text, 'is not a valid URL', 'e.g. s3:https://s3.eu-central-1.amazonaws.com/my-bucket/host1');
  }
  if (url.username !== '' || url.password !== '')
    bad(
      text,
      'has credentials in it (they would be stored and shown)',
      'give the keys by reference (--s3-access-key-ref/--s3-secret-key-ref) or in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY',
    );
  if (url.search !== '' || url.hash !== '')
    bad(text, 'has a query or fragment', 'e.g. s3:https://host/bucket/prefix');
  const parts = decodeURIComponent(url.pathname).split('/').filter(Boolean);
  const bucket = parts.shift();
  if (bucket === undefined) bad(text, 'names no bucket', 'e.g. s3:https://s3.amazonaws.com/my-bucket/prefix');
  if (!BUCKET.test(bucket))
    bad(
      text,
      `${JSON.stringify(bucket)} is not a valid bucket name`,
      'bucket names are 3-63 lower-case letters, digits, dots and hyphens',
    );
  if (parts.some((p) => p === '.' || p === '..'))
    bad(text, 'the prefix has . or .. in it', 'give a plain prefix such as backups/host1');
  return { kind: 's3', endpoint: `${url.protocol}//${url.host}`, bucket, prefix: parts.join('/') };
}

function parseSftp(text: string): RepositoryLocation {
  if (text.startsWith('sftp://')) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      bad(
        text,
        'is not a valid URL',
        'e.g. sftp://backup@nas.local:2222//srv/restic (two slashes: absolute path)',
      );
    }
    if (url.password !== '')
      bad(
        text,
        'has a password in it (it would be stored and shown)',
        'use a key file: --ssh-key-ref file:/path/id_ed25519',
      );
    // restic's rule: the path after host[:port]/ is relative to the login directory; `//abs` is absolute.
    const path = decodeURIComponent(url.pathname.slice(1));
    if (path === '') bad(text, 'names no directory', 'e.g. sftp://backup@nas.local:2222//srv/backups');
    const port = url.port === '' ? 22 : Number(url.port);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const loc: RepositoryLocation = { kind: 'sftp', host, port, path };
    if (url.username !== '') loc.user = decodeURIComponent(url.username);
    return loc;
  }
  const m = /^sftp:(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/@]+):(.+)$/.exec(text);
  if (!m)
    bad(
      text,
      'is not of the form sftp:user@host:/path',
      'e.g. sftp:backup@nas.local:/srv/backups (or sftp://user@host:port//path for another port)',
    );
  const loc: RepositoryLocation = {
    kind: 'sftp',
    host: m[2]!.replace(/^\[(.*)\]$/, '$1'),
    port: 22,
    path: m[3]!,
  };
  if (m[1] !== undefined) loc.user = m[1];
  return loc;
}
