/**
 * The MCP server's scheduler tools: the same operations as `nightshift cron …`, over the same app
 * (store, run path, validation), with the same result shapes as `--json` and the same error
 * messages. Every tool is listed whatever the client's scope, so an agent can see what exists;
 * a call outside the scope returns a structured denial (and is logged) instead of running.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod/v4';
import type { App } from '../../app/app.ts';
import { addJob, editJob, listJobs, newJob, removeJob, requireJob, showJob } from '../../app/jobs.ts';
import { getRun, listRuns, runNow } from '../../app/runs.ts';
import type { RunRequester } from '../../app/runs.ts';
import { statusReport } from '../../app/status.ts';
import { MCP_TERMS } from '../../app/terms.ts';
import { publicJob, runDetail, runView } from '../../app/views.ts';
import { parseDuration } from '../../domain/duration.ts';
import { UserError } from '../../domain/errors.ts';
import { RUN_STATUSES } from '../../domain/job.ts';
import type { RunStatus } from '../../domain/job.ts';
import type { JobInput } from '../../domain/job-validation.ts';
import type { Scope } from './scopes.ts';
import { scopeAllows } from './scopes.ts';
import { defaultRedactor } from '../../secrets/redact.ts';
import { registerBackupTools } from './backup-tools.ts';

/** What the server reports about itself; never argument values (they may hold secrets). */
export type McpLogEvent =
  | { event: 'mcp.denied'; tool: string; scope: Scope; required: Scope }
  | { event: 'mcp.secret_refused'; tool: string; field: string }
  | { event: 'mcp.tool_error'; tool: string; code: string; message: string }
  | { event: 'mcp.run_failed'; runId: string | null; message: string };

export type { RunRequester };

export interface McpServerDeps {
  app: App;
  scope: Scope;
  log?: (event: McpLogEvent) => void;
  /** Reported to clients as the server version. */
  version?: string;
  /**
   * Inside the daemon: its engine's requestRun, so a run asked for here starts at once. Absent,
   * runs go the way of `cron run` (queued for a daemon, or run by this process when there is none).
   */
  requestRun?: RunRequester;
  /**
   * Called after a tool added, changed or removed a job. Inside the daemon: its engine's refresh,
   * since the daemon does not see its own connection's writes as outside changes.
   */
  onJobsChanged?: () => Promise<void>;
}

/** The longest a `job_run` call with `wait` holds the request open (MCP clients time out too). */
export const MAX_WAIT_SECONDS = 600;
export const DEFAULT_WAIT_SECONDS = 60;

/** How a tool asks for a manual run. */
export interface RunArgs {
  due?: boolean;
  wait?: boolean;
  timeoutSeconds?: number;
}

/**
 * Argument names that can only carry a secret value. Job fields never hold secrets (only
 * references, where a kind needs one), so any of these in job input is a mistake or an attempt to
 * smuggle a secret into the store: refused, and logged without the value.
 */
const SECRET_FIELD =
  /passphrase|password|secret|token|api[-_]?key|private[-_]?key|writer[-_]?key|identity|credential/i;

/** Values that can only be key material: age identities, nightshift writer keys, PEM private keys. */
const SECRET_VALUE =
  /AGE-SECRET-KEY-1[0-9A-Z]{20,}|NIGHTSHIFT-WRITER-KEY-1 |-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/i;

// ---------------------------------------------------------------------------------------------
// Schemas. Job input is kept loose where the domain validates: its messages name the field
// (`schedule.expr: …`) and say how to fix it, which is more use to an agent than a type error.

export const jobRef = z.string().min(1).describe('job id or exact name (case-sensitive)');

const scheduleIn = z
  .looseObject({
    kind: z.enum(['cron', 'every', 'at']),
    expr: z.string().optional().describe('cron: 5 or 6 fields, or @daily etc.'),
    tz: z.string().optional().describe('IANA time zone, e.g. Europe/Berlin'),
    everyMs: z
      .union([z.number(), z.string()])
      .optional()
      .describe('every: milliseconds, or a duration such as "30m"'),
    anchorMs: z.number().optional(),
    at: z.string().optional().describe('at: ISO 8601 time (offset-less = UTC unless tz), or "+20m"'),
  })
  .describe('when the job fires: {kind:"cron",expr,tz?}, {kind:"every",everyMs} or {kind:"at",at,tz?}');

const payloadIn = z
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

const jobFields = {
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
    .describe('what proves success besides exit 0: expectFile, expectMinBytes, expectOutput'),
  history: z.looseObject({}).optional().describe('maxRuns, maxAgeMs, outputTailBytes'),
  alerts: z
    .looseObject({})
    .nullable()
    .optional()
    .describe(
      'afterFailures, cooldownMs, recovery, ifNoSuccessWithinMs, channels, anomalyFactor, maxRepoBytes',
    ),
  delivery: z
    .looseObject({ mode: z.enum(['none', 'announce', 'webhook']) })
    .nullable()
    .optional()
    .describe('{mode:"announce",channel,to?} | {mode:"webhook",url} | {mode:"none"}; failureDestination?'),
  healthcheck: z.looseObject({ url: z.string() }).nullable().optional().describe('ping URL'),
};

const jobOut = z
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

const runOut = z.object({
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

const runDetailOut = runOut.extend({
  signal: z.string().nullable(),
  evidence: z.array(z.object({ check: z.string(), ok: z.boolean(), detail: z.string() })),
  jobName: z.string().nullable(),
});

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

// ---------------------------------------------------------------------------------------------

type Structured = Record<string, unknown>;

/**
 * Every result goes through the redactor: a value the secret resolver has produced in this process
 * (a token, a passphrase) cannot leave through MCP even if some message were to carry it.
 */
function success(structured: Structured): CallToolResult {
  const clean = defaultRedactor.redactValue(structured);
  return {
    content: [{ type: 'text', text: JSON.stringify(clean, null, 2) }],
    structuredContent: clean,
  };
}

function failure(text: string, structured: Structured): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: defaultRedactor.redact(text) }],
    structuredContent: defaultRedactor.redactValue(structured),
  };
}

/**
 * The first argument path whose name says it carries a secret (env variable names excepted), or
 * whose value is key material (anywhere, env values included).
 */
function secretField(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return SECRET_VALUE.test(value) ? path || '(argument)' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const p = path === '' ? k : Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`;
    if (path !== 'payload.env' && SECRET_FIELD.test(k)) return p;
    const inner = secretField(v, p);
    if (inner) return inner;
  }
  return undefined;
}

/** `everyMs: "30m"` is accepted for agents' convenience; the domain wants milliseconds. */
function normalizeSchedule(schedule: unknown): unknown {
  if (typeof schedule !== 'object' || schedule === null) return schedule;
  const s = schedule as Record<string, unknown>;
  if (typeof s.everyMs !== 'string') return s;
  try {
    return { ...s, everyMs: parseDuration(s.everyMs) };
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(`schedule.everyMs: ${err.message}`, { hint: err.hint ?? 'e.g. "30m" or 1800000' });
    throw err;
  }
}

const settling = new WeakMap<McpServer, Set<Promise<unknown>>>();
const stoppers = new WeakMap<McpServer, AbortController>();

/**
 * Ends the runs this server is executing itself (their whole process groups; each is recorded
 * with how it ended). For shutdown on a signal; follow with whenRunsSettled.
 */
export function stopMcpRuns(server: McpServer): void {
  stoppers.get(server)?.abort();
}

/**
 * Resolves when every run this server started in its own process (no daemon was running) has
 * finished. Call before closing the app.
 */
export async function whenRunsSettled(server: McpServer): Promise<void> {
  const set = settling.get(server);
  while (set && set.size > 0) await Promise.allSettled([...set]);
}

export function createMcpServer(deps: McpServerDeps): McpServer {
  const { app, scope } = deps;
  const log = deps.log ?? ((): void => {});
  const jobsChanged = async (): Promise<void> => {
    await deps.onJobsChanged?.();
  };
  const server = new McpServer(
    { name: 'nightshift', version: deps.version ?? '0.0.0' },
    { capabilities: { tools: {} } },
  );
  const background = new Set<Promise<unknown>>();
  settling.set(server, background);
  const stopper = new AbortController();
  stoppers.set(server, stopper);

  /**
   * Runs a tool body under the scope check, after refusing arguments that carry a secret, turning
   * refusals and errors into tool errors.
   */
  async function guarded(
    tool: string,
    required: Scope,
    args: unknown,
    body: () => Promise<Structured>,
  ): Promise<CallToolResult> {
    if (!scopeAllows(scope, required)) {
      log({ event: 'mcp.denied', tool, scope, required });
      return failure(`denied: ${tool} needs scope "${required}"; this client has scope "${scope}"`, {
        denied: true,
        tool,
        scope,
        required,
      });
    }
    try {
      refuseSecrets(tool, args);
      return success(await body());
    } catch (err) {
      if (err instanceof UserError) {
        const message = defaultRedactor.redact(err.message);
        if (err.code !== 'secret_refused') log({ event: 'mcp.tool_error', tool, code: err.code, message });
        return failure(err.hint ? `${err.message}\nhint: ${err.hint}` : err.message, {
          error: { code: err.code, message: err.message, hint: err.hint ?? null },
        });
      }
      const message = defaultRedactor.redact(err instanceof Error ? err.message : String(err));
      log({ event: 'mcp.tool_error', tool, code: 'internal', message });
      return failure(`internal error: ${message}`, { error: { code: 'internal', message, hint: null } });
    }
  }

  function refuseSecrets(tool: string, args: unknown): void {
    const field = secretField(args, '');
    if (field === undefined) return;
    log({ event: 'mcp.secret_refused', tool, field });
    throw new UserError(
      `${field}: secret values are not accepted through MCP (the value given is not shown)`,
      {
        hint: 'no tool takes a secret, passphrase, identity or key; where one is needed, a reference such as env:NAME or file:/path is configured outside MCP (see docs/secrets.md)',
        code: 'secret_refused',
      },
    );
  }

  /**
   * Requests a manual run of a job (already checked to exist) the way `cron run` does, or through
   * the daemon's engine when the server runs inside it; with `wait`, waits for the run's end.
   */
  async function startRun(jobId: string, args: RunArgs): Promise<Structured> {
    if (args.timeoutSeconds !== undefined && args.wait !== true) {
      throw new UserError('timeoutSeconds: only applies with wait=true', {
        hint: 'add "wait": true, or drop timeoutSeconds',
      });
    }
    const { result, executor, run } = await runNow(
      app,
      jobId,
      {
        due: args.due === true,
        wait: args.wait === true,
        deadlineMs: Date.now() + (args.timeoutSeconds ?? DEFAULT_WAIT_SECONDS) * 1000,
        ...(deps.requestRun ? { requestRun: deps.requestRun } : {}),
        signal: stopper.signal,
        // An in-process run keeps going after this call returns; it is tracked so shutdown waits for it.
        track: (running) => {
          const tracked = running.catch((err: unknown) => {
            log({
              event: 'mcp.run_failed',
              runId: null,
              message: defaultRedactor.redact(err instanceof Error ? err.message : String(err)),
            });
          });
          background.add(tracked);
          void tracked.finally(() => background.delete(tracked));
        },
      },
      { terms: MCP_TERMS },
    );
    return {
      ok: result.ok,
      enqueued: result.enqueued,
      runId: result.runId ?? null,
      ...(result.reason !== undefined ? { reason: result.reason } : {}),
      executedBy: executor.by,
      ...(run ? { run: runView(run) } : {}),
    };
  }

  const scopeNote = (required: Scope): string => ` Needs scope "${required}".`;

  server.registerTool(
    'jobs_list',
    {
      title: 'List jobs',
      description:
        'All jobs (disabled ones only with all=true), ordered by name, with schedule, status and next run.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ all: z.boolean().optional().describe('include disabled jobs') }),
      outputSchema: outputShape({ jobs: z.array(jobOut) }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('jobs_list', 'read', args, async () => {
        const now = Date.now();
        const jobs = await listJobs(app, { all: args.all === true });
        return { jobs: jobs.map((j) => publicJob(j, now)) };
      }),
  );

  server.registerTool(
    'job_show',
    {
      title: 'Show a job',
      description:
        'One job with its execution contract in plain words (what runs, where, timeout, what counts as ' +
        'success, retries, overlap, misses) and its next 5 fire times. Environment values are never shown.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ job: jobRef }),
      outputSchema: outputShape({
        job: jobOut,
        contract: z.array(z.string()),
        nextRuns: z.array(z.string()).describe('ISO 8601, UTC'),
        timeZone: z.string(),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('job_show', 'read', args, async () => {
        const now = Date.now();
        const shown = await showJob(app, args.job, { nowMs: now, terms: MCP_TERMS });
        return {
          job: publicJob(shown.job, now),
          contract: shown.contract,
          nextRuns: shown.nextFires.map((f) => new Date(f).toISOString()),
          timeZone: shown.timeZone,
        };
      }),
  );

  server.registerTool(
    'job_add',
    {
      title: 'Add a job',
      description:
        'Create a job: a unique name, one schedule and a command. Secrets never go into a job: put ' +
        'references (env:NAME, file:/path) where a secret is needed.' +
        scopeNote('admin'),
      inputSchema: z.looseObject({
        name: z.string().describe('unique job name'),
        schedule: scheduleIn,
        payload: payloadIn,
        ...jobFields,
      }),
      outputSchema: outputShape({ job: jobOut }),
    },
    (args) =>
      guarded('job_add', 'admin', args, async () => {
        const now = Date.now();
        const input = { ...args, schedule: normalizeSchedule(args.schedule) } as unknown as JobInput;
        const job = await addJob(app, newJob(input, now), { terms: MCP_TERMS });
        await jobsChanged();
        return { job: publicJob(job, now) };
      }),
  );

  server.registerTool(
    'job_edit',
    {
      title: 'Edit a job',
      description:
        'Change a job: only the fields given change. payload, policy, evidence and history merge into ' +
        'the current values (evidence keys set to null are removed); schedule is replaced whole.' +
        scopeNote('admin'),
      inputSchema: z.looseObject({
        job: jobRef,
        name: z.string().optional().describe('new name'),
        schedule: scheduleIn.optional(),
        payload: payloadIn.partial().optional(),
        ...jobFields,
      }),
      outputSchema: outputShape({ job: jobOut }),
    },
    (args) =>
      guarded('job_edit', 'admin', args, async () => {
        const { job: ref, ...rest } = args;
        const job = await requireJob(app, ref, { terms: MCP_TERMS });
        const patch = { ...rest } as Record<string, unknown>;
        if (patch.schedule !== undefined) patch.schedule = normalizeSchedule(patch.schedule);
        const now = Date.now();
        const updated = await editJob(app, job, patch as Partial<JobInput>, { nowMs: now, terms: MCP_TERMS });
        await jobsChanged();
        return { job: publicJob(updated, now) };
      }),
  );

  server.registerTool(
    'job_remove',
    {
      title: 'Remove a job',
      description: 'Delete a job and its run history.' + scopeNote('admin'),
      inputSchema: z.looseObject({ job: jobRef }),
      outputSchema: outputShape({ ok: z.boolean(), removed: z.boolean(), id: z.string(), name: z.string() }),
      annotations: { destructiveHint: true },
    },
    (args) =>
      guarded('job_remove', 'admin', args, async () => {
        const { job, removed } = await removeJob(app, args.job, { terms: MCP_TERMS });
        await jobsChanged();
        return { ok: true, removed, id: job.id, name: job.name };
      }),
  );

  server.registerTool(
    'job_run',
    {
      title: 'Run a job now',
      description:
        'Run a job now: queued for the daemon when one is running, else run by this server. Returns ' +
        `{ok, enqueued, runId}. With wait=true, waits up to timeoutSeconds (default ${DEFAULT_WAIT_SECONDS}, ` +
        `at most ${MAX_WAIT_SECONDS}) and returns the run; a run still going then keeps going (follow it ` +
        'with run_get).' +
        scopeNote('operate'),
      inputSchema: z.looseObject({ job: jobRef, ...runArgs }),
      outputSchema: outputShape(runResultShape),
    },
    (args) => guarded('job_run', 'operate', args, async () => startRun(args.job, args)),
  );

  server.registerTool(
    'runs_list',
    {
      title: 'List runs',
      description:
        'Run history, newest first, of one job or of all jobs; filter by status; page with limit/offset. ' +
        'Entries have the `nightshift cron runs --json` shape.' +
        scopeNote('read'),
      inputSchema: z.looseObject({
        job: jobRef
          .optional()
          .describe('job id or exact name (or the id of a deleted one-shot job); all jobs when absent'),
        status: z.enum(RUN_STATUSES).optional(),
        limit: z.number().int().min(1).max(500).optional().describe('default 20'),
        offset: z.number().int().min(0).optional().describe('default 0'),
      }),
      outputSchema: outputShape({ entries: z.array(runOut), total: z.number(), hasMore: z.boolean() }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('runs_list', 'read', args, async () => {
        const page = await listRuns(
          app,
          {
            ...(args.job !== undefined ? { job: args.job } : {}),
            ...(args.status ? { status: args.status as RunStatus } : {}),
            ...(args.limit !== undefined ? { limit: args.limit } : {}),
            ...(args.offset !== undefined ? { offset: args.offset } : {}),
          },
          { terms: MCP_TERMS },
        );
        return { entries: page.entries.map(runView), total: page.total, hasMore: page.hasMore };
      }),
  );

  server.registerTool(
    'run_get',
    {
      title: 'Get a run',
      description:
        'One run: status, the reason it ended so (error), exit code, evidence checks and the output tail.' +
        scopeNote('read'),
      inputSchema: z.looseObject({ runId: z.string().min(1) }),
      outputSchema: outputShape(runDetailOut.shape),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('run_get', 'read', args, async () => {
        const { run, jobName } = await getRun(app, args.runId, { terms: MCP_TERMS });
        return { ...runDetail(run), jobName };
      }),
  );

  server.registerTool(
    'status',
    {
      title: 'Scheduler status',
      description:
        'Is the daemon running, how many jobs, what fires next, which jobs are failing.' + scopeNote('read'),
      inputSchema: z.looseObject({}),
      outputSchema: outputShape({
        home: z.string(),
        daemon: z.object({
          running: z.boolean(),
          pid: z.number().nullable(),
          host: z.string().nullable(),
          startedAtMs: z.number().nullable(),
        }),
        jobs: z.object({ total: z.number(), enabled: z.number() }),
        nextFire: z
          .object({ jobId: z.string(), name: z.string(), atMs: z.number(), at: z.string() })
          .nullable(),
        failing: z.array(
          z.object({
            id: z.string(),
            name: z.string(),
            lastRunStatus: z.string().nullable(),
            lastError: z.string().nullable(),
            consecutiveErrors: z.number(),
          }),
        ),
        scope: z.enum(['read', 'operate', 'admin']).describe("this client's scope"),
      }),
      annotations: { readOnlyHint: true },
    },
    (args) =>
      guarded('status', 'read', args, async () => ({ ...(await statusReport(app, Date.now())), scope })),
  );

  registerBackupTools(server, {
    app,
    guarded,
    startRun,
    scopeNote,
    schemas: { jobRef, runArgs, runResultShape, outputShape },
  });

  return server;
}
