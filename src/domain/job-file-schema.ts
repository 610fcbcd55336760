/**
 * The job file format: one job per YAML (or JSON) document, its keys the words of the `cron add`
 * flags without the dashes (`cron:`, `tz:`, `message:`, `retries:`, `alert-after:` …), plus
 * `after:`/`within:` for chains and `vars:` for templates. This zod schema is the single source:
 * it checks each document's shape and is published as JSON Schema (`nightshift schema jobs`);
 * job-file.ts turns a checked document into a job input, where the job model's own validation
 * takes over. Durations are strings with a unit ("30s", "2h"), as on the command line.
 */
import { z } from 'zod';
import { SIZE_HINT, parseSize } from './size.ts';

function isSize(v: string): boolean {
  try {
    parseSize(v, 'size');
    return true;
  } catch {
    return false;
  }
}

export const duration = z
  .string({ error: 'must be a duration with a unit, e.g. 30s, 5m, 1h30m, 2d (a bare number is ambiguous)' })
  .regex(/^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*)+$/i, 'a duration with a unit, e.g. 30s, 5m, 1h30m, 2d');
const count = z.int().min(0);
export const nonEmpty = z.string().min(1);
/**
 * A size: a whole number of bytes, or text with a unit read by domain/size.ts (the one size
 * reader of flags and files): 4M, 4MiB, 500 GB, 1.5T; K, M, G, T are powers of 1024.
 */
export const size = z.union([
  count,
  z
    .string()
    .refine((v) => isSize(v), `a size: ${SIZE_HINT}`)
    .describe(`a size: ${SIZE_HINT}`),
]);
export const oneOrMore = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

const chainLink = z.union([
  nonEmpty.describe('the job this one runs after (when its run ends ok)'),
  z.strictObject({
    job: nonEmpty.describe('the predecessor job'),
    on: z
      .enum(['success', 'failure', 'always'])
      .optional()
      .describe('which end of its run starts this job (default success)'),
  }),
]);

export const JOB_FILE_KEYS = {
  kind: z.literal('job').optional().describe('job (the default); kind: backup-profile declares a profile'),
  name: nonEmpty.describe('unique job name'),
  description: z.string().optional().describe('free text shown by list/show'),
  enabled: z.boolean().optional().describe('false: the job does not fire (default true)'),
  vars: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('template values for {{...}} in this document (merged over --values)'),

  cron: nonEmpty.optional().describe('cron expression: 5 fields, or 6 with seconds first; @daily, L, #'),
  tz: nonEmpty.optional().describe('IANA time zone of cron (default: host zone) or of an offset-less at'),
  every: duration.optional().describe('fixed interval: 1s, 90m, 2h, 1d'),
  at: nonEmpty.optional().describe('one shot: ISO-8601 date-time (UTC unless tz)'),
  after: z
    .union([chainLink, z.array(chainLink).min(1)])
    .optional()
    .describe('chain: run when these jobs\u2019 runs end (all of them, in the same cycle)'),
  within: duration
    .optional()
    .describe('with after: all predecessors end within this span of the first, else the chain is broken'),

  command: z
    .union([nonEmpty, z.array(z.string()).min(1)])
    .optional()
    .describe('a shell string (run by /bin/sh -c) or an argv list (run without a shell)'),
  'command-cwd': nonEmpty.optional().describe('absolute working directory of the command'),
  'command-env': z.record(z.string(), z.string()).optional().describe('environment variables of the command'),
  'command-input': z.string().optional().describe("text written to the command's stdin"),
  'timeout-seconds': count.optional().describe('kill after n seconds (0 = none)'),
  backup: nonEmpty.optional().describe('run the backup of this backup profile'),
  drill: nonEmpty.optional().describe('run a restore drill of this backup profile'),
  'drill-repo': nonEmpty
    .optional()
    .describe(
      'run a restore drill of this repository, with identity-ref (where the identity lives; no profile)',
    ),
  'identity-ref': nonEmpty
    .optional()
    .describe('with drill-repo: secret reference to the age identity (file:/path, vault:..., cmd:...)'),
  'drill-sample': z
    .union([z.int().min(1), z.string().regex(/^\d+(\.\d+)?%$/)])
    .optional()
    .describe('with drill: files to restore, a count or a percentage ("5%")'),
  'system-event': nonEmpty.optional().describe("put this text into a session's inbox; executes nothing"),
  message: nonEmpty.optional().describe('run an agent turn with this instruction'),
  session: nonEmpty
    .optional()
    .describe('main, isolated, current or session:<id> (default: main for events, isolated for turns)'),
  wake: z.enum(['now', 'next-heartbeat']).optional().describe('with system-event: when the heartbeat runs'),
  agent: nonEmpty.optional().describe('the agent (from the configuration\u2019s "agents")'),
  model: nonEmpty.optional().describe('with message: the model, instead of the agent\u2019s'),
  fallbacks: z
    .array(nonEmpty)
    .optional()
    .describe('with message: models tried in order when the model fails'),
  tools: z.array(nonEmpty).optional().describe('with message: tools the model may call (exec, message, ...)'),
  'exec-allow': z
    .array(z.union([nonEmpty, z.array(z.string()).min(1)]))
    .optional()
    .describe('with tools [exec]: command prefixes exec may run ("git status" or [git, status])'),
  'light-context': z.boolean().optional().describe('with message: send no session history'),

  'expect-file': nonEmpty
    .optional()
    .describe('evidence: a matching file exists and was modified during the run'),
  'expect-min-bytes': size
    .optional()
    .describe('evidence: with expect-file, the file has at least this size (4K, 1M)'),
  'expect-output': nonEmpty.optional().describe('evidence: the output matches this regular expression'),

  overlap: z.enum(['skip', 'queue-one', 'allow']).optional().describe('when the previous run is still going'),
  catchup: z.enum(['skip', 'one', 'all']).optional().describe('slots missed while the daemon was down'),
  'catchup-window': duration.optional().describe('with catchup all: only slots this recent (default 24h)'),
  'catchup-max': z.int().min(1).optional().describe('with catchup all: at most n slots (default 10)'),
  retries: count.optional().describe('extra attempts after a failed run (default 0)'),
  'retry-backoff': z
    .array(duration)
    .min(1)
    .optional()
    .describe('delays before retries (default 30s,1m,5m,15m,60m)'),
  'keep-after-run': z.boolean().optional().describe('one-shot jobs: keep (disabled) after success'),
  'history-max-runs': z.int().min(1).optional().describe('keep at most n finished runs (default 200)'),
  'history-max-age': duration.optional().describe('drop finished runs older than this (default 30d)'),
  'output-tail-bytes': size.optional().describe('output kept with each run (default 16K)'),

  announce: z.boolean().optional().describe('announce the result on channel (to to)'),
  channel: nonEmpty.optional().describe('with announce: the channel'),
  to: nonEmpty.optional().describe('with announce: the destination on the channel'),
  'thread-id': z
    .union([nonEmpty, z.int().min(1)])
    .optional()
    .describe('with announce: the thread or topic to post into (Telegram topic, Discord thread)'),
  webhook: z.url().optional().describe('POST the result as JSON to this URL'),
  deliver: z.literal(false).optional().describe('false: deliver nothing'),
  'failure-channel': nonEmpty.optional().describe('where failure notices of a delivering job go first'),
  'failure-to': nonEmpty.optional().describe('with failure-channel: the destination on it'),

  'alert-after': count.optional().describe('alert after n consecutive failed runs (0 = never)'),
  'alert-cooldown': duration.optional().describe('no repeated failure alert within this span (default 1h)'),
  'alert-no-recovery': z.boolean().optional().describe('send no recovery notice'),
  'alert-if-no-success-within': duration.optional().describe("dead-man's switch span"),
  'alert-channel': oneOrMore(nonEmpty).optional().describe('channels for this job\u2019s alerts'),
  'alert-anomaly-factor': z.number().optional().describe('backups: alert above x times the median'),
  'alert-max-repo-bytes': size.optional().describe('backups: alert above this repository size (500G)'),
  'alert-repo-usage': z
    .union([z.string(), z.number()])
    .optional()
    .describe('backups: alert when the local repository\'s filesystem is fuller than this, e.g. "80%"'),
  'failure-alert-include-skipped': z
    .boolean()
    .optional()
    .describe('skipped runs (overlap) count toward alert-after like failed ones'),
  'healthcheck-url': z.url().optional().describe('ping URL/start, URL and URL/fail with the run id'),
} as const;

export const jobDocumentSchema = z.strictObject(JOB_FILE_KEYS);

/** One job document after its shape was checked (before its meaning is). */
export type JobDocument = z.infer<typeof jobDocumentSchema>;
export type JobFileKey = keyof typeof JOB_FILE_KEYS;

/** The JSON Schema of one job document, for editors (`# yaml-language-server: $schema=...`). */
export function jobDocumentJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(jobDocumentSchema, { io: 'input' }),
    $id: 'https://nightshift.local/schemas/jobs.schema.json',
    title: 'nightshift job file',
    description:
      'One job per YAML document; keys are the `nightshift cron add` flags without the dashes. See docs/jobs-as-code.md.',
  };
}
