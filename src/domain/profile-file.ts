/**
 * A backup profile declared in a job file: a document with `kind: backup-profile` whose keys are
 * the `nightshift backup profile add` flags without the dashes (`repo:`, `password-ref:`,
 * `path:`, `keep-daily:` …). Secrets only by reference: there is no key for a secret's value.
 * This module holds the document's shape (zod, published with the job format), its reading into
 * the same words the flags give (app/profile-fields.ts builds the profile from them), the shortest
 * document that gives a profile back (`export`), and drift between two profiles.
 */
import { z } from 'zod';
import type { BackupProfile } from './backup-profile.ts';
import { formatDuration } from './duration.ts';
import { duration, jobDocumentJsonSchema, nonEmpty, oneOrMore, size } from './job-file-schema.ts';
import { fieldsDiff, type FieldDrift } from './job-drift.ts';
import type { RetentionFlags } from './retention-flags.ts';
import { formatSpan } from './retention.ts';

export const PROFILE_KIND = 'backup-profile';

const keep = z.union([z.int().min(0), z.string().regex(/^\d+$/)]);
const span = z.string().regex(/^\s*(\d+[ymwdh])+\s*$/, 'a span such as 7d, 1y6m, 36h');
const ref = nonEmpty.describe('a secret reference: env:NAME, file:/path, cmd:..., vault:..., mcp:...');

export const PROFILE_FILE_KEYS = {
  kind: z.literal(PROFILE_KIND).describe('this document declares a backup profile, not a job'),
  name: nonEmpty.describe('unique profile name (jobs say backup: NAME)'),
  repo: nonEmpty.describe(
    'repository: an absolute directory, s3:https://host/bucket/prefix or sftp:user@host:/path',
  ),
  'password-ref': ref.optional().describe('passphrase repository: where the passphrase lives (a reference)'),
  'recipients-repo': z
    .literal(true)
    .optional()
    .describe('recipients repository: written with the writer key in the home'),
  'writer-key': nonEmpty.optional().describe('recipients repository: another writer key file'),
  'identity-ref': ref.optional().describe('recipients repository: reference to the age identity (drills)'),
  's3-access-key-ref': ref.optional().describe('s3: repository: where the access key id lives'),
  's3-secret-key-ref': ref.optional().describe('s3: repository: where the secret access key lives'),
  'ssh-key-ref': ref.optional().describe('sftp: repository: where the SSH private key lives'),
  'known-hosts': nonEmpty.optional().describe('sftp: repository: known_hosts file'),
  path: oneOrMore(nonEmpty).optional().describe('files or directories to back up (relative: to this file)'),
  postgres: oneOrMore(nonEmpty).optional().describe('PostgreSQL databases, [name=]db or URL'),
  mysql: oneOrMore(nonEmpty).optional().describe('MariaDB/MySQL databases, [name=]db or URL'),
  redis: oneOrMore(nonEmpty).optional().describe('Redis servers, [name=]redis://host:port'),
  sqlite: oneOrMore(nonEmpty).optional().describe('SQLite databases, [name=]file'),
  git: oneOrMore(nonEmpty).optional().describe('git repositories, [name=]dir'),
  'command-source': oneOrMore(nonEmpty).optional().describe("any command's output, name=command"),
  optional: oneOrMore(nonEmpty).optional().describe('sources that may be down (skipped with a warning)'),
  'source-password-ref': oneOrMore(nonEmpty)
    .optional()
    .describe('database passwords of sources, name=reference'),
  'copy-to': oneOrMore(nonEmpty).optional().describe('copy each snapshot to these repositories too'),
  'drill-query': nonEmpty.optional().describe('drills run this query on each restored database'),
  nice: z
    .boolean()
    .optional()
    .describe("dump tools at nice 19 + idle I/O, the backup's worker threads at nice 19"),
  'limit-upload': z
    .union([nonEmpty, z.number()])
    .optional()
    .describe('at most this many bytes per second to remote repositories (2MiB/s)'),
  exclude: oneOrMore(nonEmpty).optional().describe('leave out matching paths'),
  tag: oneOrMore(nonEmpty).optional().describe('tag the snapshots'),
  'keep-last': keep.optional().describe('retention: the n newest snapshots'),
  'keep-hourly': keep.optional().describe('retention: the newest of each of the last n hours'),
  'keep-daily': keep.optional().describe('retention: … days'),
  'keep-weekly': keep.optional().describe('retention: … ISO weeks'),
  'keep-monthly': keep.optional().describe('retention: … months'),
  'keep-yearly': keep.optional().describe('retention: … years'),
  'keep-within': span.optional().describe('retention: every snapshot within span of the newest'),
  'keep-within-hourly': span.optional().describe('retention: within span, the newest of each hour'),
  'keep-within-daily': span.optional().describe('retention: within span, the newest of each day'),
  'keep-within-weekly': span.optional().describe('retention: within span, the newest of each week'),
  'keep-within-monthly': span.optional().describe('retention: within span, the newest of each month'),
  'keep-within-yearly': span.optional().describe('retention: within span, the newest of each year'),
  'keep-tag': oneOrMore(nonEmpty).optional().describe('retention: keep snapshots with these tags'),
  'prune-every': duration.optional().describe('free the space of forgotten snapshots at most this often'),
  'verify-subset': z
    .union([z.number(), nonEmpty])
    .optional()
    .describe('after each backup, check this share of packs (5%, 1/10)'),
  'min-free': size.optional().describe('refuse to start below this free space on the repository disk (2G)'),
} as const;

export const profileDocumentSchema = z.strictObject(PROFILE_FILE_KEYS);
export type ProfileDocument = z.infer<typeof profileDocumentSchema>;

/** The `add` words (app/profile-fields.ts's input) a checked document gives. */
export interface ProfileWords extends RetentionFlags {
  repo?: string;
  passwordRef?: string;
  recipientsRepo?: boolean;
  writerKey?: string;
  identityRef?: string;
  exclude?: string[];
  path?: string[];
  tag?: string[];
  pruneEvery?: string;
  verifySubset?: string;
  minFree?: string;
  s3AccessKeyRef?: string;
  s3SecretKeyRef?: string;
  sshKeyRef?: string;
  knownHosts?: string;
  postgres?: string[];
  mysql?: string[];
  redis?: string[];
  sqlite?: string[];
  git?: string[];
  commandSource?: string[];
  optional?: string[];
  sourcePasswordRef?: string[];
  nice?: boolean;
  drillQuery?: string;
  copyTo?: string[];
  limitUpload?: string;
}

/** Keys that are repeatable flags: one value or a list. */
const LIST_KEYS = new Set([
  'path',
  'postgres',
  'mysql',
  'redis',
  'sqlite',
  'git',
  'command-source',
  'optional',
  'source-password-ref',
  'copy-to',
  'exclude',
  'tag',
  'keep-tag',
]);

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The document as the flags would say it: one word per key, lists for repeatable ones, text for numbers. */
export function profileDocumentToWords(d: ProfileDocument): ProfileWords {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === 'kind' || k === 'name' || v === undefined) continue;
    const key = camel(k);
    if (LIST_KEYS.has(k)) out[key] = (Array.isArray(v) ? v : [v]).map(String);
    else if (typeof v === 'number') out[key] = String(v);
    else out[key] = v;
  }
  return out as ProfileWords;
}

/** Flag-worded messages (`--repo: …`) in the file's words (`repo: …`). */
export function inProfileFileTerms(message: string): { key: string; message: string } {
  const m = /^--([a-z0-9-]+)/.exec(message);
  if (m && m[1]! in PROFILE_FILE_KEYS) return { key: m[1]!, message: message.slice(2) };
  if (message.startsWith('NAME')) return { key: 'name', message: 'name' + message.slice(4) };
  return { key: 'repo', message };
}

const one = <T>(xs: T[]): T | T[] => (xs.length === 1 ? xs[0]! : xs);

/** The document that declares exactly this profile (`nightshift export`). */
export function profileToDocument(p: BackupProfile): Record<string, unknown> {
  const d: Record<string, unknown> = { kind: PROFILE_KIND, name: p.name, repo: p.repository };
  if (p.key.kind === 'passphrase') d['password-ref'] = p.key.ref;
  else {
    d['recipients-repo'] = true;
    if (p.key.writerKeyFile !== undefined) d['writer-key'] = p.key.writerKeyFile;
    if (p.key.identityRef !== undefined) d['identity-ref'] = p.key.identityRef;
  }
  const r = p.remote ?? {};
  if (r.s3AccessKeyRef !== undefined) d['s3-access-key-ref'] = r.s3AccessKeyRef;
  if (r.s3SecretKeyRef !== undefined) d['s3-secret-key-ref'] = r.s3SecretKeyRef;
  if (r.sshKeyRef !== undefined) d['ssh-key-ref'] = r.sshKeyRef;
  if (r.knownHostsFile !== undefined) d['known-hosts'] = r.knownHostsFile;
  if (p.paths.length > 0) d.path = one(p.paths);
  const sources = p.sources ?? [];
  for (const kind of ['postgres', 'mysql', 'redis', 'sqlite', 'git', 'command'] as const) {
    const of = sources.filter((s) => s.kind === kind).map((s) => `${s.name}=${s.target}`);
    if (of.length > 0) d[kind === 'command' ? 'command-source' : kind] = one(of);
  }
  const optional = sources.filter((s) => s.optional).map((s) => s.name);
  if (optional.length > 0) d.optional = one(optional);
  const refs = sources.filter((s) => s.passwordRef !== undefined).map((s) => `${s.name}=${s.passwordRef}`);
  if (refs.length > 0) d['source-password-ref'] = one(refs);
  if (p.copyTo !== undefined) d['copy-to'] = one(p.copyTo);
  if (p.drillQuery !== undefined) d['drill-query'] = p.drillQuery;
  if (p.lowPriority) d.nice = true;
  if (p.limitUploadBytesPerSec !== undefined) d['limit-upload'] = p.limitUploadBytesPerSec;
  if (p.excludes.length > 0) d.exclude = one(p.excludes);
  if (p.tags.length > 0) d.tag = one(p.tags);
  const k = p.retention;
  const counts = [
    ['keep-last', k.last],
    ['keep-hourly', k.hourly],
    ['keep-daily', k.daily],
    ['keep-weekly', k.weekly],
    ['keep-monthly', k.monthly],
    ['keep-yearly', k.yearly],
  ] as const;
  for (const [key, v] of counts) if (v !== undefined) d[key] = v;
  const spans = [
    ['keep-within', k.within],
    ['keep-within-hourly', k.withinHourly],
    ['keep-within-daily', k.withinDaily],
    ['keep-within-weekly', k.withinWeekly],
    ['keep-within-monthly', k.withinMonthly],
    ['keep-within-yearly', k.withinYearly],
  ] as const;
  for (const [key, v] of spans) if (v !== undefined) d[key] = formatSpan(v);
  if (k.keepTags !== undefined && k.keepTags.length > 0) d['keep-tag'] = one(k.keepTags);
  if (p.pruneEveryMs !== undefined) d['prune-every'] = formatDuration(p.pruneEveryMs);
  if (p.verifySubset !== undefined) d['verify-subset'] = p.verifySubset;
  if (p.minFreeBytes !== undefined) d['min-free'] = p.minFreeBytes;
  return d;
}

/** The fields of a profile a file declares (not its times, nor where it was declared). */
const PROFILE_FIELDS = [
  'name',
  'repository',
  'key',
  'remote',
  'paths',
  'sources',
  'lowPriority',
  'copyTo',
  'limitUploadBytesPerSec',
  'drillQuery',
  'excludes',
  'tags',
  'retention',
  'pruneEveryMs',
  'verifySubset',
  'minFreeBytes',
] as const;

/** Field-by-field differences of two profiles' definitions; empty when in sync. */
export function profileDiff(file: BackupProfile, store: BackupProfile): FieldDrift[] {
  return fieldsDiff(PROFILE_FIELDS, file, store);
}

/**
 * The JSON Schema of a job file document (`nightshift schema jobs`): a job, or with
 * `kind: backup-profile` a backup profile. `if`/`then` on `kind` lets editors complete the right keys.
 */
export function jobFileJsonSchema(): Record<string, unknown> {
  const job = jobDocumentJsonSchema();
  const { $schema, $id, title, description, ...jobSchema } = job;
  const { $schema: _s, ...profile } = z.toJSONSchema(profileDocumentSchema, { io: 'input' });
  return {
    $schema,
    $id,
    title,
    description:
      `${String(description)} A document with kind: ${PROFILE_KIND} declares a backup profile ` +
      '(keys: the `nightshift backup profile add` flags without the dashes).',
    if: { type: 'object', properties: { kind: { const: PROFILE_KIND } }, required: ['kind'] },
    then: profile,
    else: jobSchema,
  };
}
