/**
 * The MCP tools' shared argument and result schemas (zod), which the HTTP API validates its job
 * bodies with and documents too: job input kept loose where the domain validates, the job and run shapes of `--json`, the run-request arguments and result, and the
 * output-schema wrapper that lets a refusal fit every tool's schema.
 */
import * as z from 'zod/v4';
import { parseDuration } from '../../domain/duration.ts';
import { UserError } from '../../domain/errors.ts';
import { RUN_STATUSES } from '../../domain/job.ts';

/** The longest a `job_run` call with `wait` holds the request open (MCP clients time out too). */
export const MAX_WAIT_SECONDS = 600;
export const DEFAULT_WAIT_SECONDS = 60;

/** How a tool asks for a manual run. */
export interface RunArgs {
  due?: boolean;
  wait?: boolean;
  timeoutSeconds?: number;
}

// Job input is kept loose where the domain validates: its messages name the field
// (`schedule.expr: …`) and say how to fix it, which is more use to an agent than a type error.

export const jobRef = z.string().min(1).describe('job id or exact name (case-sensitive)');

const chainLinkIn = z.union([
  z.string().describe('the job this one runs after (when its run ends ok)'),
  z.looseObject({
    job: z.string().describe('the predecessor job'),
    on: z
      .enum(['success', 'failure', 'always'])
      .optional()
      .describe('which end of its run (default success)'),
  }),
]);

export const scheduleIn = z
  .looseObject({
    kind: z.enum(['cron', 'every', 'at', 'after']),
    expr: z.string().optional().describe('cron: 5 or 6 fields, or @daily etc.'),
    tz: z.string().optional().describe('IANA time zone, e.g. Europe/Berlin'),
    everyMs: z
      .union([z.number(), z.string()])
      .optional()
      .describe('every: milliseconds, or a duration such as "30m"'),
    anchorMs: z.number().optional(),
    at: z.string().optional().describe('at: ISO 8601 time (offset-less = UTC unless tz), or "+20m"'),
    after: z
      .union([chainLinkIn, z.array(chainLinkIn)])
      .optional()
      .describe('after: the jobs whose runs end start this one (all of them, in the same cycle)'),
    within: z.string().optional().describe('after: same as withinMs, as a duration such as "30m"'),
    withinMs: z
      .union([z.number(), z.string()])
      .optional()
      .describe(
        'after: all predecessors end within this span of the first (ms or "30m"), else the chain is broken',
      ),
  })
  .describe(
    'when the job fires: {kind:"cron",expr,tz?}, {kind:"every",everyMs}, {kind:"at",at,tz?} or ' +
      '{kind:"after",after:"prep"|["a",{job:"b",on:"failure"}],withinMs?} (a chain: runs when those jobs\u2019 runs end)',
  );

export const payloadIn = z
  .looseObject({
    kind: z
      .enum(['command', 'backup', 'drill', 'systemEvent', 'agentTurn', 'heartbeat'])
      .optional()
      .describe('default command (when command or argv is given)'),
    command: z.string().optional().describe('a shell string, run by /bin/sh -c'),
    argv: z.array(z.string()).optional().describe('program and arguments, no shell'),
    cwd: z.string().optional().describe('absolute working directory'),
    env: z
      .record(z.string(), z.string())
      .optional()
      .describe('extra environment; never put secret values here (values are stored in plain text)'),
    input: z.string().optional().describe('written to stdin, then closed'),
    timeoutSeconds: z.number().optional().describe('default 600 (backup, drill: none); 0 = none'),
    profile: z.string().optional().describe('backup, drill: the backup profile name'),
    repository: z
      .string()
      .optional()
      .describe('drill without a profile: the repository, with identityRef (where the identity lives)'),
    identityRef: z
      .string()
      .optional()
      .describe(
        'drill with repository: secret reference to the age identity (file:/path, vault:...); never the identity',
      ),
    sampleFiles: z.number().optional().describe('drill: files to restore and verify (default 20)'),
    samplePercent: z.number().optional().describe('drill: or a percentage of the files'),
    text: z.string().optional().describe('systemEvent: the text put into the session inbox'),
    message: z.string().optional().describe('agentTurn: the instruction for the agent'),
    session: z
      .string()
      .optional()
      .describe('systemEvent, agentTurn: main, isolated (agentTurn only), current or session:<id>'),
    wake: z
      .enum(['now', 'next-heartbeat'])
      .optional()
      .describe('systemEvent: run the heartbeat now or later'),
    agent: z
      .string()
      .optional()
      .describe('systemEvent, agentTurn, heartbeat: agent name (default "default")'),
    model: z.string().optional().describe("agentTurn: overrides the agent's model"),
    fallbacks: z.array(z.string()).optional().describe('agentTurn: models tried when the primary fails'),
    tools: z
      .array(z.string())
      .optional()
      .describe('agentTurn: tools the model may call (exec, backup_run, …)'),
    execAllowlist: z
      .array(z.array(z.string()))
      .optional()
      .describe('agentTurn: argv prefixes the exec tool may run'),
    lightContext: z.boolean().optional().describe('agentTurn: leave the session history out'),
  })
  .describe(
    'what the job runs: {command}|{argv} (command), {kind:"backup",profile}, {kind:"drill",profile}, ' +
      '{kind:"systemEvent",text}, {kind:"agentTurn",message} or {kind:"heartbeat",agent}',
  );

export const jobFields = {
  description: z.string().optional(),
  enabled: z.boolean().optional(),
  deleteAfterRun: z.boolean().optional(),
  policy: z
    .looseObject({})
    .optional()
    .describe('overlap (skip|queue-one|allow), catchup (skip|one|all), retries, retryBackoffMs, …'),
  evidence: z
    .looseObject({})
    .optional()
    .describe(
      'what proves success besides exit 0: expectFile, expectMinBytes (bytes or a size such as "4K"), expectOutput',
    ),
  history: z
    .looseObject({})
    .optional()
    .describe('maxRuns, maxAgeMs, outputTailBytes (bytes or a size such as "64K")'),
  alerts: z
    .looseObject({})
    .nullable()
    .optional()
    .describe(
      'afterFailures, cooldownMs, recovery, ifNoSuccessWithinMs, channels, anomalyFactor, maxRepoBytes, maxRepoUsagePercent, includeSkipped (skipped runs count toward afterFailures)',
    ),
  delivery: z
    .looseObject({ mode: z.enum(['none', 'announce', 'webhook']) })
    .nullable()
    .optional()
    .describe(
      '{mode:"announce",channel,to?,threadId?} | {mode:"webhook",url} | {mode:"none"}; failureDestination?',
    ),
  healthcheck: z.looseObject({ url: z.string() }).nullable().optional().describe('ping URL'),
};

export const jobOut = z
  .looseObject({
    id: z.string(),
    name: z.string(),
    enabled: z.boolean(),
    status: z.string(),
    schedule: z.looseObject({ kind: z.string() }),
    payload: z.looseObject({ kind: z.string(), envKeys: z.array(z.string()).optional() }),
    nextRunAtMs: z.number().nullable(),
  })
  .describe('the job; payload.env values and payload.input are never returned (envKeys, inputBytes)');

/** A page of runs (runPageView). */
export const runPageShape = () => ({
  entries: z.array(runOut),
  total: z.number(),
  hasMore: z.boolean(),
  nextCursor: z
    .string()
    .nullable()
    .describe('pass as cursor for the next page (by key: fast at any depth); null on the last page'),
});

export const runOut = z.object({
  runId: z.string(),
  jobId: z.string(),
  status: z.enum(RUN_STATUSES),
  trigger: z.string(),
  attempt: z.number(),
  slotMs: z.number(),
  startedAtMs: z.number().nullable(),
  finishedAtMs: z.number().nullable(),
  durationMs: z.number().nullable(),
  exitCode: z.number().nullable(),
  error: z.string().nullable().describe('why the run ended as it did'),
  outputTail: z.string().nullable(),
  evidence: z
    .array(z.object({ check: z.string(), ok: z.boolean(), detail: z.string() }))
    .nullable()
    .describe('every check behind the status'),
  details: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe('what the payload kind recorded: backup, drill, agent, alerts, delivery'),
});

/** The arguments of a tool that requests a run (job_run, backup_run, drill_run). */
export const runArgs = {
  due: z.boolean().optional().describe('only run if the job has a slot due now'),
  wait: z.boolean().optional().describe('wait for the run to finish'),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_WAIT_SECONDS)
    .optional()
    .describe(`with wait: at most this long (default ${DEFAULT_WAIT_SECONDS})`),
};

/** What a tool that requests a run returns. */
export const runResultShape = {
  ok: z.boolean(),
  enqueued: z.boolean(),
  runId: z.string().nullable(),
  reason: z.string().optional().describe('why nothing was queued'),
  executedBy: z.enum(['daemon', 'nobody-yet', 'this-process']),
  run: runOut.optional().describe('with wait: the run as it stands (terminal unless the wait ran out)'),
};

export const runDetailOut = runOut.extend({
  signal: z.string().nullable(),
  evidence: z.array(z.object({ check: z.string(), ok: z.boolean(), detail: z.string() })),
  jobName: z.string().nullable(),
});

/** A snapshot (app/backups.ts SnapshotView): the snapshots_list tool and the API's. */
export const snapshotOut = z.object({
  id: z.string(),
  shortId: z.string(),
  time: z.string().describe('ISO 8601'),
  hostname: z.string(),
  paths: z.array(z.string()).describe('empty when pathsHidden'),
  pathsHidden: z
    .boolean()
    .describe('recipients repository read with the writer key only: paths are encrypted'),
  tags: z.array(z.string()),
  summary: z
    .record(z.string(), z.number())
    .nullable()
    .describe('files, dirs, bytesRead, bytesNew, durationMs, …'),
  keptBy: z
    .array(z.string())
    .nullable()
    .describe(
      'every rule of the profile\'s retention that keeps it (e.g. "daily 2026-11-20"); null without a policy',
    ),
  removeReason: z
    .string()
    .nullable()
    .describe("why the next backup's retention would remove it; null when kept or without a policy"),
});

/** The status report (app/status.ts, `cron status --json`) with the caller's scope: the MCP tool and the API's. */
export const statusShape = {
  home: z.string(),
  daemon: z.object({
    running: z.boolean(),
    pid: z.number().nullable(),
    host: z.string().nullable(),
    startedAtMs: z.number().nullable(),
  }),
  jobs: z.object({ total: z.number(), enabled: z.number() }),
  nextFire: z.object({ jobId: z.string(), name: z.string(), atMs: z.number(), at: z.string() }).nullable(),
  failing: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      lastRunStatus: z.string().nullable(),
      lastError: z.string().nullable(),
      consecutiveErrors: z.number(),
    }),
  ),
  scope: z.enum(['read', 'operate', 'admin']).describe("the caller's scope"),
};

/**
 * A tool's output schema: its result fields, plus the fields of a refusal. MCP clients check
 * `structuredContent` against the output schema even on `isError` results, so the denial
 * (`{denied, tool, scope, required}`) and error (`{error}`) shapes must fit it too; hence every
 * field is optional in the schema. A successful result always has all of the tool's own fields.
 */
export function outputShape<S extends Record<string, z.ZodType>>(
  shape: S,
): { [K in keyof S]: z.ZodOptional<S[K]> } & typeof refusalShape {
  const out: Record<string, z.ZodType> = { ...refusalShape };
  for (const [k, v] of Object.entries(shape)) {
    // run_get's `error` (the run's reason) shares its name with a failed call's `error`.
    const refusal = (refusalShape as Record<string, z.ZodType>)[k];
    out[k] = refusal ? z.union([v, refusal]) : v.optional();
  }
  return out as { [K in keyof S]: z.ZodOptional<S[K]> } & typeof refusalShape;
}

const refusalShape = {
  denied: z.literal(true).optional().describe('set when the call was refused for lack of scope'),
  tool: z.string().optional().describe('with denied: the tool called'),
  scope: z.enum(['read', 'operate', 'admin']).optional().describe("with denied: this client's scope"),
  required: z.enum(['read', 'operate', 'admin']).optional().describe('with denied: the scope the tool needs'),
  error: z
    .object({ code: z.string(), message: z.string(), hint: z.string().nullable() })
    .optional()
    .describe('set when the call failed (isError): what is wrong and how to fix it'),
};

/** `everyMs: "30m"` and `withinMs: "30m"` (or `within`) are accepted for agents' convenience; the domain wants milliseconds. */
export function normalizeSchedule(schedule: unknown): unknown {
  if (typeof schedule !== 'object' || schedule === null) return schedule;
  let s = schedule as Record<string, unknown>;
  // `within` is the word of the CLI flag and the job file key.
  if (s.within !== undefined) {
    const { within, ...rest } = s;
    if (rest.withinMs !== undefined)
      throw new UserError('schedule.within: give within or withinMs, not both', {
        hint: 'e.g. within: "30m"',
      });
    s = { ...rest, withinMs: within };
  }
  for (const key of ['everyMs', 'withinMs'] as const) {
    const v = s[key];
    if (typeof v !== 'string') continue;
    try {
      s = { ...s, [key]: parseDuration(v) };
    } catch (err) {
      if (err instanceof UserError)
        throw new UserError(`schedule.${key}: ${err.message}`, { hint: err.hint ?? 'e.g. "30m" or 1800000' });
      throw err;
    }
  }
  return s;
}
