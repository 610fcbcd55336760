/**
 * Secret references: the only form in which a secret is ever written down. A reference says where
 * the value lives (`env:NAME`, `file:/path`, `cmd:...`, `vault:mount/path#field`,
 * `mcp:server/tool`); the value is fetched at run time by the SecretResolver and never stored.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { UserError } from '../domain/errors.ts';

export type SecretRef = EnvRef | FileRef | CmdRef | VaultRef | McpRef;

interface RefBase {
  /** The reference as the user wrote it (safe to show: it names a place, not a value). */
  readonly text: string;
}

export interface EnvRef extends RefBase {
  readonly scheme: 'env';
  readonly name: string;
}

export interface FileRef extends RefBase {
  readonly scheme: 'file';
  /** Absolute path (a leading `~/` is expanded to the user's home). */
  readonly path: string;
}

export interface CmdRef extends RefBase {
  readonly scheme: 'cmd';
  /** `argv` runs the program directly; `shell` runs the string with `/bin/sh -c`. */
  readonly argv?: readonly string[];
  readonly shell?: string;
}

export interface VaultRef extends RefBase {
  readonly scheme: 'vault';
  /** KV v2 mount (the first path segment). */
  readonly mount: string;
  /** Secret path under the mount. */
  readonly path: string;
  readonly field: string;
}

export interface McpRef extends RefBase {
  readonly scheme: 'mcp';
  readonly server: string;
  readonly tool: string;
  /** String arguments passed to the tool, from `?key=value&...`. */
  readonly args: Readonly<Record<string, string>>;
}

export const SECRET_SCHEMES = ['env', 'file', 'cmd', 'vault', 'mcp'] as const;
export type SecretScheme = (typeof SECRET_SCHEMES)[number];

export const REF_SYNTAX =
  'env:NAME, file:/path, cmd:<command or ["argv","json"]>, vault:<mount>/<path>#<field> or mcp:<server>/<tool>';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const VAULT_SEGMENT = /^[A-Za-z0-9_.@+=-]+$/;

/** True when `text` looks like a reference with a known scheme (it may still be malformed). */
export function looksLikeSecretRef(text: string): boolean {
  const m = /^([a-z]+):/.exec(text);
  return m !== null && (SECRET_SCHEMES as readonly string[]).includes(m[1] ?? '');
}

/**
 * Parses and validates a reference. Anything that is not a reference is refused without echoing
 * it, since a user who pasted the secret itself must not see it printed back into logs.
 */
export function parseSecretRef(input: string): SecretRef {
  if (typeof input !== 'string' || !looksLikeSecretRef(input.trim())) {
    throw new UserError(
      `not a secret reference (the value given is not shown, in case it is a secret itself); expected ${REF_SYNTAX}`,
      {
        code: 'secret_ref_invalid',
        hint: 'store a reference to where the secret lives, never the secret itself: e.g. env:BACKUP_PASSPHRASE or file:~/.config/nightshift/backup.key (mode 0600)',
      },
    );
  }
  const text = input.trim();
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon) as SecretScheme;
  const body = text.slice(colon + 1);
  switch (scheme) {
    case 'env':
      return parseEnv(text, body);
    case 'file':
      return parseFile(text, body);
    case 'cmd':
      return parseCmd(text, body);
    case 'vault':
      return parseVault(text, body);
    case 'mcp':
      return parseMcp(text, body);
  }
}

function bad(text: string, problem: string, hint: string): UserError {
  return new UserError(`invalid secret reference ${text}: ${problem}`, { code: 'secret_ref_invalid', hint });
}

function parseEnv(text: string, body: string): EnvRef {
  if (!ENV_NAME.test(body))
    throw bad(
      text,
      'expected an environment variable name (letters, digits, _)',
      'write env:NAME, e.g. env:BACKUP_PASSPHRASE',
    );
  return { scheme: 'env', text, name: body };
}

function parseFile(text: string, body: string): FileRef {
  let path = body;
  if (path === '~' || path.startsWith('~/')) path = join(homedir(), path.slice(1));
  if (!isAbsolute(path) || path.includes('\0'))
    throw bad(
      text,
      'the path must be absolute',
      'write file:/absolute/path or file:~/path, e.g. file:~/.config/nightshift/backup.key',
    );
  return { scheme: 'file', text, path };
}

function parseCmd(text: string, body: string): CmdRef {
  const trimmed = body.trim();
  if (trimmed === '')
    throw bad(text, 'no command given', 'write cmd:pass show backup or cmd:["pass","show","backup"]');
  if (trimmed.startsWith('[')) {
    let argv: unknown;
    try {
      argv = JSON.parse(trimmed);
    } catch (err) {
      throw bad(
        text,
        `the argv is not valid JSON (${(err as Error).message})`,
        'write cmd:["program","arg1","arg2"] with double-quoted strings',
      );
    }
    if (
      !Array.isArray(argv) ||
      argv.length === 0 ||
      !argv.every((a) => typeof a === 'string') ||
      argv[0] === ''
    )
      throw bad(
        text,
        'the argv must be a non-empty JSON array of strings',
        'write cmd:["program","arg1","arg2"]',
      );
    return { scheme: 'cmd', text, argv: argv as string[] };
  }
  return { scheme: 'cmd', text, shell: trimmed };
}

function parseVault(text: string, body: string): VaultRef {
  const hash = body.lastIndexOf('#');
  const hint = 'write vault:<mount>/<path>#<field>, e.g. vault:secret/nightshift/backup#passphrase';
  if (hash < 0) throw bad(text, 'no #field given', hint);
  const field = body.slice(hash + 1);
  const segments = body.slice(0, hash).split('/');
  if (field === '') throw bad(text, 'the #field is empty', hint);
  if (segments.length < 2) throw bad(text, 'expected a mount and a path separated by /', hint);
  if (!segments.every((s) => VAULT_SEGMENT.test(s) && s !== '.' && s !== '..'))
    throw bad(text, 'a path segment is empty or has characters Vault paths do not use', hint);
  const [mount, ...rest] = segments as [string, ...string[]];
  return { scheme: 'vault', text, mount, path: rest.join('/'), field };
}

function parseMcp(text: string, body: string): McpRef {
  const hint =
    'write mcp:<server>/<tool> or mcp:<server>/<tool>?arg=value, e.g. mcp:keys/get_secret?name=backup';
  const q = body.indexOf('?');
  const target = q < 0 ? body : body.slice(0, q);
  const slash = target.indexOf('/');
  if (slash < 0) throw bad(text, 'expected <server>/<tool>', hint);
  const server = target.slice(0, slash);
  const tool = target.slice(slash + 1);
  if (!NAME.test(server)) throw bad(text, 'the server name is empty or has unusual characters', hint);
  if (!/^[A-Za-z0-9_./-]+$/.test(tool))
    throw bad(text, 'the tool name is empty or has unusual characters', hint);
  const args: Record<string, string> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(body.slice(q + 1))) {
      if (k === '') throw bad(text, 'an argument has no name', hint);
      args[k] = v;
    }
  }
  return { scheme: 'mcp', text, server, tool, args };
}
