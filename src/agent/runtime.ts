/**
 * What agent-turn jobs and heartbeats share: turning an agent's configuration and a job's payload
 * into one turn (endpoint, model override, fallbacks, API key by reference), running it on a
 * session (its history in, the turn's new messages appended), and mapping the TurnResult to a run
 * outcome with `details.agent`. One Preflight is shared so its 5-minute cache spans turns.
 */
import type { App } from '../config/app-context.ts';
import type { AgentConfig } from '../config/config.ts';
import type { Clock } from '../domain/clock.ts';
import { UserError } from '../domain/errors.ts';
import { DEFAULT_HISTORY, DEFAULT_TIMEOUT_SECONDS } from '../domain/job.ts';
import type { AgentRunDetails, AgentTurnPayload, Job } from '../domain/job.ts';
import type { ExecutionOutcome } from '../payloads/executor.ts';
import { displayUrl } from './chat-client.ts';
import type { FetchLike } from './chat-client.ts';
import { Preflight } from './preflight.ts';
import { runAgentTurn } from './turn.ts';
import type { AgentTurnInput } from './turn.ts';
import type { ChatMessage, ModelEndpoint } from '../domain/chat.ts';
import type { ToolHandler, TurnResult } from './types.ts';

export interface AgentRuntimeDeps {
  app: App;
  clock: Clock;
  fetch?: FetchLike;
  /** Handlers by tool name beside the built-in `exec`. */
  toolHandlers?: Record<string, ToolHandler>;
  /** Ask for streamed (SSE) replies (default false: plain replies report usage everywhere). */
  stream?: boolean;
  /** Messages of session history sent with a turn (default 100). */
  historyLimit?: number;
}

export const DEFAULT_HISTORY_LIMIT = 100;
/** `timeoutSeconds: 0` means no limit; the turn still needs a finite timer (setTimeout's maximum). */
const NO_LIMIT_MS = 2 ** 31 - 1;

/** The parts of a payload a turn is built from. */
export type TurnRequest = Pick<
  AgentTurnPayload,
  'message' | 'model' | 'fallbacks' | 'tools' | 'execAllowlist' | 'lightContext' | 'timeoutSeconds'
> & { agent: string; sessionId: string };

export interface SessionTurn {
  result: TurnResult;
  /** The messages this turn added to the session (empty when it was skipped). */
  appended: ChatMessage[];
}

/** The agent's configuration, or a UserError naming the configured ones. */
export function requireAgent(app: App, name: string): AgentConfig {
  const agents = app.config().agents;
  const agent = agents[name];
  if (agent) return agent;
  const names = Object.keys(agents);
  throw new UserError(`no agent named "${name}" in the configuration`, {
    code: 'agent_unknown',
    hint:
      names.length > 0
        ? `configured agents: ${names.join(', ')}`
        : 'add it under "agents" in config.json (baseUrl, model; see docs/agent-turns.md)',
  });
}

/**
 * Fallback names to endpoints: `agent/model` uses that configured agent's endpoint (URL, key, kind)
 * with the model; anything else is a model on the job's own agent endpoint (model names may hold a
 * slash, e.g. `meta-llama/Llama-3.1-8B`, so only a configured agent name counts as a prefix).
 */
export function resolveFallbacks(
  specs: string[],
  own: AgentConfig,
  agents: Record<string, AgentConfig>,
): ModelEndpoint[] {
  return specs.map((spec) => {
    const slash = spec.indexOf('/');
    const other = slash > 0 ? agents[spec.slice(0, slash)] : undefined;
    const base = other ?? own;
    const model = other ? spec.slice(slash + 1) : spec;
    if (model.trim() === '')
      throw new UserError(`fallback "${spec}" names no model`, { hint: 'write agent/model or just model' });
    const e: ModelEndpoint = { baseUrl: base.baseUrl, model };
    if (base.apiKeyRef !== undefined) e.apiKeyRef = base.apiKeyRef;
    if (base.kind !== undefined) e.kind = base.kind;
    return e;
  });
}

/**
 * Closes tool calls the turn left unanswered (a denied call, a timeout mid-tool) with a `tool`
 * message, so the stored transcript stays a valid conversation for the next request.
 */
export function closeDanglingToolCalls(messages: ChatMessage[], why: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as ChatMessage;
    out.push(m);
    if (m.role !== 'assistant' || !m.tool_calls?.length) continue;
    const answered = new Set<string>();
    for (let j = i + 1; j < messages.length; j++) {
      const next = messages[j] as ChatMessage;
      if (next.role !== 'tool') break;
      answered.add(next.tool_call_id);
    }
    const missing = m.tool_calls.filter((c) => !answered.has(c.id));
    // Unanswered calls go right after the answered ones, before the next non-tool message.
    let k = i + 1;
    while (k < messages.length && (messages[k] as ChatMessage).role === 'tool') out.push(messages[k++]!);
    for (const c of missing) out.push({ role: 'tool', tool_call_id: c.id, content: `not run: ${why}` });
    i = k - 1;
  }
  return out;
}

/** History may be cut anywhere; a request must not begin with tool results or their calls. */
function trimToUserStart(history: ChatMessage[]): ChatMessage[] {
  const first = history.findIndex((m) => m.role === 'user');
  return first < 0 ? [] : history.slice(first);
}

export class AgentRuntime {
  readonly app: App;
  readonly clock: Clock;
  private readonly fetch: FetchLike | undefined;
  private readonly toolHandlers: Record<string, ToolHandler>;
  private readonly stream: boolean;
  private readonly historyLimit: number;
  readonly preflight: Preflight;

  constructor(deps: AgentRuntimeDeps) {
    this.app = deps.app;
    this.clock = deps.clock;
    this.fetch = deps.fetch;
    this.toolHandlers = deps.toolHandlers ?? {};
    this.stream = deps.stream ?? false;
    this.historyLimit = deps.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.preflight = new Preflight({ clock: deps.clock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  }

  /** Builds the turn's input from the agent's configuration and the request; throws UserError. */
  buildInput(req: TurnRequest, history: ChatMessage[]): AgentTurnInput {
    const config = this.app.config();
    const agent = requireAgent(this.app, req.agent);
    const seconds = req.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const input: AgentTurnInput = {
      message: req.message,
      model: req.model ?? agent.model,
      endpoint: {
        baseUrl: agent.baseUrl,
        ...(agent.apiKeyRef !== undefined ? { apiKeyRef: agent.apiKeyRef } : {}),
        ...(agent.kind !== undefined ? { kind: agent.kind } : {}),
      },
      fallbacks: req.fallbacks ? resolveFallbacks(req.fallbacks, agent, config.agents) : agent.fallbacks,
      tools: req.tools ?? [],
      execAllowlist: req.execAllowlist ?? [],
      lightContext: req.lightContext === true,
      timeoutMs: seconds > 0 ? Math.min(seconds * 1000, NO_LIMIT_MS) : NO_LIMIT_MS,
      history,
      stream: this.stream,
    };
    if (agent.systemPrompt !== undefined) input.systemPrompt = agent.systemPrompt;
    return input;
  }

  /**
   * Runs one turn on a session that exists: sends its history (unless lightContext), appends the
   * turn's new messages to its transcript (not when the turn was skipped: the model saw nothing).
   */
  async runOnSession(req: TurnRequest, runId: string, signal: AbortSignal): Promise<SessionTurn> {
    const sessions = this.app.store.sessions;
    const history = req.lightContext
      ? []
      : trimToUserStart(await sessions.transcript(req.sessionId, this.historyLimit));
    const input = this.buildInput(req, history);
    const result = await runAgentTurn(input, {
      clock: this.clock,
      ...(this.fetch ? { fetch: this.fetch } : {}),
      resolveSecret: async (ref) => (await this.app.secrets().resolve(ref)).reveal(),
      toolHandlers: this.toolHandlers,
      signal,
      preflight: this.preflight,
    });
    if (result.status === 'skipped') return { result, appended: [] };
    // The result's transcript is system prompt + history sent + this turn: keep only this turn.
    const sent = (input.systemPrompt ? 1 : 0) + (input.lightContext ? 0 : history.length);
    const fresh = result.transcript.slice(sent);
    const appended = closeDanglingToolCalls(fresh, result.reason ?? `the turn ended ${result.status}`);
    if (appended.length > 0) await sessions.append(req.sessionId, appended, runId, this.clock.now());
    return { result, appended };
  }
}

/** The run outcome of a finished turn: status, reason, reply as output, and `details.agent`. */
export function turnOutcome(
  result: TurnResult,
  agent: string,
  sessionId: string,
  job: Job,
  note?: string,
): ExecutionOutcome {
  const details: AgentRunDetails = {
    agent,
    model: result.model,
    endpoint: displayUrl(result.endpoint),
    sessionId,
    usage: result.usage,
    toolCalls: result.toolCalls.map((c) => ({
      name: c.name,
      allowed: c.allowed,
      ...(c.denial !== undefined ? { denial: c.denial } : {}),
    })),
  };
  if (result.reply !== undefined) details.reply = result.reply;
  if (result.suppressed) details.suppressed = true;
  const outcome: ExecutionOutcome = { status: result.status, details: { agent: details } };
  const reasons = [result.reason, note].filter((r): r is string => r !== undefined && r !== '');
  if (reasons.length > 0) outcome.error = reasons.join('; ');
  if (result.reply !== undefined) outcome.outputTail = tail(result.reply, job);
  return outcome;
}

/** A run outcome for a turn that could not be started (unknown agent, bad configuration). */
export function setupFailure(err: unknown): ExecutionOutcome {
  if (err instanceof UserError)
    return { status: 'error', error: err.hint ? `${err.message} (${err.hint})` : err.message };
  throw err;
}

function tail(text: string, job: Job): string {
  const max = job.history?.outputTailBytes ?? DEFAULT_HISTORY.outputTailBytes;
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  // Cut at a character boundary: drop continuation bytes at the start of the kept tail.
  let start = buf.length - max;
  while (start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
