/**
 * One agent turn: send the job's message to a model endpoint, run the tool calls the model asks
 * for (only those on the job's allowlist), hand their results back, and repeat until the model
 * answers in words. Preflight skips the turn when every endpoint is down; a connection error, 5xx
 * or timeout moves on to the next endpoint of the fallback chain. A tool call outside the
 * allowlist ends the turn as `error` with a `denied:` reason: a job never reports `ok` after the
 * model tried something it was not allowed to do.
 *
 * The turn's timeout and the exec tool's timeouts use real time: they bound real network calls and
 * processes, whatever clock schedules the job. The injected clock drives the preflight cache.
 */
import type { Clock } from '../domain/clock.ts';
import { UserError } from '../domain/errors.ts';
import { REDACTED } from '../secrets/redact.ts';
import { ChatClient, ChatError, displayUrl } from './chat-client.ts';
import type { ChatResponse, FetchLike } from './chat-client.ts';
import { Preflight, describeDown } from './preflight.ts';
import type { PreflightResult } from './preflight.ts';
import { createExecTool } from './tools/exec.ts';
import { ZERO_USAGE, addUsage } from './types.ts';
import type { ChatMessage, EndpointKind, ModelEndpoint } from '../domain/chat.ts';
import type { ToolCallRecord, ToolDefinition, ToolHandler, TurnResult } from './types.ts';

export interface AgentTurnInput {
  message: string;
  systemPrompt?: string;
  /** Model on the primary endpoint. */
  model: string;
  endpoint: { baseUrl: string; apiKeyRef?: string; kind?: EndpointKind };
  /** Tried in order after the primary when it is down, answers 5xx/429 or times out. */
  fallbacks?: ModelEndpoint[];
  /** Names of the tools the model may call (`exec`, `message`, `backup_run`, …). */
  tools: string[];
  /** Argv prefixes `exec` may run, e.g. `[["git","status"],["df","-h"]]`. */
  execAllowlist?: string[][];
  /** Leave the session history out: only the system prompt and this message are sent. */
  lightContext?: boolean;
  /** The whole turn, all rounds and tools included. */
  timeoutMs: number;
  /** One model request; when it passes, the next endpoint is tried (default: what is left of timeoutMs). */
  requestTimeoutMs?: number;
  /** Model replies with tool calls before the turn gives up (default 10). */
  maxToolRounds?: number;
  /** Earlier messages of the session. */
  history?: ChatMessage[];
  /** Ask for a streamed (SSE) reply. */
  stream?: boolean;
}

export interface AgentTurnDeps {
  fetch?: FetchLike;
  clock: Clock;
  /** Turns a secret reference into its value; the value is only ever put in an Authorization header. */
  resolveSecret: (ref: string) => Promise<string>;
  /** Handlers by tool name; `exec` defaults to the built-in one. */
  toolHandlers: Record<string, ToolHandler>;
  /** Aborted on shutdown: the turn stops (tools included) and reports `interrupted`. */
  signal?: AbortSignal;
  /** Shared across turns so its 5-minute cache works; a fresh one is made when absent. */
  preflight?: Preflight;
}

export const DEFAULT_MAX_TOOL_ROUNDS = 10;
export const NO_REPLY = 'NO_REPLY';

/** Checks a turn's configuration; throws a UserError naming the field and the fix. */
export function validateAgentTurnInput(input: AgentTurnInput): void {
  if (typeof input.message !== 'string' || input.message.trim() === '') {
    throw new UserError('the agent turn has an empty message', { hint: 'set --message TEXT' });
  }
  const chain = [{ ...input.endpoint, model: input.model }, ...(input.fallbacks ?? [])];
  chain.forEach((e, i) => {
    const where = i === 0 ? 'the endpoint' : `fallback ${i}`;
    if (typeof e.model !== 'string' || e.model.trim() === '') {
      throw new UserError(`${where} has no model`, { hint: 'set --model (and a model for every fallback)' });
    }
    let url: URL;
    try {
      url = new URL(e.baseUrl);
    } catch {
      throw new UserError(`${where} has an invalid base URL`, {
        hint: 'use a URL such as http://127.0.0.1:11434/v1 or https://api.openai.com/v1',
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UserError(`${where} base URL must use http or https, not ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw new UserError(`${where} base URL holds credentials`, {
        hint: 'remove user:password from the URL and give the key as a secret reference (--api-key-ref env:NAME)',
      });
    }
    if (e.kind !== undefined && e.kind !== 'openai' && e.kind !== 'ollama') {
      throw new UserError(`${where} has an unknown kind "${String(e.kind)}"`, {
        hint: 'use openai or ollama',
      });
    }
  });
  if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0) {
    throw new UserError('the agent turn needs a positive timeout', { hint: 'set --timeout-seconds N' });
  }
  if (
    input.maxToolRounds !== undefined &&
    (!Number.isInteger(input.maxToolRounds) || input.maxToolRounds < 0)
  ) {
    throw new UserError('maxToolRounds must be a whole number of 0 or more');
  }
  for (const prefix of input.execAllowlist ?? []) {
    if (
      !Array.isArray(prefix) ||
      prefix.length === 0 ||
      !prefix.every((p) => typeof p === 'string' && p !== '')
    ) {
      throw new UserError('each exec allowlist entry must be a non-empty argv prefix of non-empty strings', {
        hint: 'e.g. ["git","status"] allows `git status` with any further arguments',
      });
    }
  }
}

interface ChainEntry {
  baseUrl: string;
  model: string;
  kind: EndpointKind | undefined;
  apiKey: string | undefined;
  /** Why it is not usable before even asking (its key could not be resolved). */
  unusable?: string;
}

export async function runAgentTurn(input: AgentTurnInput, deps: AgentTurnDeps): Promise<TurnResult> {
  validateAgentTurnInput(input);
  const keys: string[] = [];
  const result = await turn(input, deps, keys);
  return scrub(result, keys);
}

async function turn(input: AgentTurnInput, deps: AgentTurnDeps, keys: string[]): Promise<TurnResult> {
  const transcript: ChatMessage[] = [];
  if (input.systemPrompt) transcript.push({ role: 'system', content: input.systemPrompt });
  if (!input.lightContext) transcript.push(...(input.history ?? []));
  transcript.push({ role: 'user', content: input.message });

  const toolCalls: ToolCallRecord[] = [];
  let usage = ZERO_USAGE;
  let answered = { model: input.model, endpoint: input.endpoint.baseUrl };
  const finish = (
    status: TurnResult['status'],
    extra: { reason?: string; reply?: string } = {},
  ): TurnResult => ({
    status,
    ...extra,
    suppressed: status === 'ok' && (extra.reply ?? '').trim() === NO_REPLY,
    model: answered.model,
    endpoint: answered.endpoint,
    usage,
    toolCalls,
    transcript,
  });

  // Tools first: a job allowing a tool this host cannot provide is a configuration problem.
  const allowed = new Set(input.tools);
  const handlers = new Map<string, ToolHandler>();
  for (const name of allowed) {
    const handler = deps.toolHandlers[name] ?? (name === 'exec' ? createExecTool() : undefined);
    if (!handler)
      return finish('error', { reason: `tool ${name} is allowed for this job but not available here` });
    handlers.set(name, handler);
  }
  const definitions: ToolDefinition[] = [...handlers.values()].map((h) => h.definition);

  // One signal for the whole turn: its timeout and the caller's shutdown.
  const turnAbort = new AbortController();
  let ended: 'timeout' | 'interrupted' | undefined;
  const end = (why: 'timeout' | 'interrupted'): void => {
    if (ended) return;
    ended = why;
    turnAbort.abort();
  };
  const deadline = Date.now() + input.timeoutMs;
  const timer = setTimeout(() => end('timeout'), input.timeoutMs);
  const onAbort = (): void => end('interrupted');
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  if (deps.signal?.aborted) end('interrupted');
  const stopped = (): TurnResult | undefined => {
    if (ended === 'timeout')
      return finish('timeout', { reason: `the turn timed out after ${input.timeoutMs / 1000}s` });
    if (ended === 'interrupted')
      return finish('interrupted', { reason: 'interrupted: nightshift is shutting down' });
    return undefined;
  };

  try {
    const chain = await resolveChain(input, deps, keys);
    const preflight = deps.preflight ?? new Preflight({ clock: deps.clock, fetch: deps.fetch });
    const checks = await Promise.all(
      chain.map(async (e): Promise<{ baseUrl: string; result: PreflightResult }> => {
        if (e.unusable) {
          return {
            baseUrl: e.baseUrl,
            result: { up: false, reason: e.unusable, url: e.baseUrl, checkedAtMs: 0 },
          };
        }
        return { baseUrl: e.baseUrl, result: await preflight.check(e, turnAbort.signal) };
      }),
    ).catch((err: unknown) => {
      if (ended) return undefined;
      throw err;
    });
    if (!checks) return stopped() as TurnResult;
    const live = chain.filter((_, i) => checks[i]?.result.up);
    if (live.length === 0) {
      return finish('skipped', { reason: `all model endpoints unreachable: ${describeDown(checks)}` });
    }

    const maxRounds = input.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS;
    let current = 0;
    for (let round = 0; ; round++) {
      // Ask the live endpoints in order, starting with the one that answered last.
      let response: ChatResponse | undefined;
      const failures: string[] = [];
      while (current < live.length) {
        const e = live[current] as ChainEntry;
        const client = new ChatClient({ baseUrl: e.baseUrl, apiKey: e.apiKey, fetch: deps.fetch });
        const left = deadline - Date.now();
        const budget = Math.min(input.requestTimeoutMs ?? left, left);
        try {
          response = await client.complete(
            {
              model: e.model,
              messages: transcript,
              tools: definitions,
              toolChoice: definitions.length > 0 ? 'auto' : undefined,
              stream: input.stream,
            },
            { signal: turnAbort.signal, timeoutMs: budget },
          );
          answered = { model: e.model, endpoint: e.baseUrl };
          break;
        } catch (err) {
          // When the request had the whole remaining turn, its deadline is the turn's: the two timers
          // can fire in either order, and the turn must end as timeout either way.
          if (err instanceof ChatError && err.kind === 'timeout' && budget >= left) end('timeout');
          const s = stopped();
          if (s) return s;
          if (!(err instanceof ChatError)) throw err;
          failures.push(`${e.model} at ${displayUrl(e.baseUrl)}: ${err.message}`);
          if (!err.retryable)
            return finish('error', { reason: `model request failed: ${failures.join('; ')}` });
          preflight.forget(e);
          current++;
        }
      }
      if (!response)
        return finish('error', { reason: `every model endpoint failed: ${failures.join('; ')}` });
      if (response.usage) usage = addUsage(usage, response.usage);
      transcript.push(response.message);

      const calls = response.message.tool_calls ?? [];
      if (calls.length === 0) return finish('ok', { reply: response.message.content ?? '' });
      if (round >= maxRounds) {
        return finish('error', {
          reason: `the model still asked for tools after ${maxRounds} rounds; raise maxToolRounds or narrow the task`,
        });
      }

      // Check the whole batch before running any of it: nothing runs next to a denied call.
      const denied = calls.filter((c) => !allowed.has(c.function.name));
      if (denied.length > 0) {
        for (const c of calls) {
          const args = parseArgs(c.function.arguments).value;
          if (allowed.has(c.function.name)) {
            toolCalls.push({
              name: c.function.name,
              args,
              allowed: true,
              result: 'not run: another call was denied',
            });
          } else {
            const denial = `tool ${c.function.name} is not allowed for this job`;
            toolCalls.push({ name: c.function.name, args, allowed: false, denial });
          }
        }
        const names = [...new Set(denied.map((c) => c.function.name))].join(', ');
        return finish('error', {
          reason: `denied: tool ${names} ${denied.length > 1 ? 'are' : 'is'} not allowed for this job`,
        });
      }

      for (const c of calls) {
        const name = c.function.name;
        const parsed = parseArgs(c.function.arguments);
        let content: string;
        if (!parsed.ok) {
          content = JSON.stringify({ error: 'the arguments are not valid JSON; send a JSON object' });
          toolCalls.push({ name, args: parsed.value, allowed: true, result: content });
        } else {
          const handler = handlers.get(name) as ToolHandler;
          let outcome;
          try {
            outcome = await handler.run(parsed.value, {
              signal: turnAbort.signal,
              execAllowlist: input.execAllowlist ?? [],
            });
          } catch (err) {
            outcome = { result: JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) };
          }
          const s = stopped();
          if (s) {
            toolCalls.push({ name, args: parsed.value, allowed: true, result: 'stopped: the turn ended' });
            return s;
          }
          if ('denied' in outcome) {
            toolCalls.push({ name, args: parsed.value, allowed: false, denial: outcome.denied });
            return finish('error', { reason: `denied: ${outcome.denied}` });
          }
          content = outcome.result;
          toolCalls.push({ name, args: parsed.value, allowed: true, result: content });
        }
        transcript.push({ role: 'tool', tool_call_id: c.id, content });
      }
    }
  } finally {
    clearTimeout(timer);
    deps.signal?.removeEventListener('abort', onAbort);
  }
}

async function resolveChain(
  input: AgentTurnInput,
  deps: AgentTurnDeps,
  keys: string[],
): Promise<ChainEntry[]> {
  const specs: ModelEndpoint[] = [{ ...input.endpoint, model: input.model }, ...(input.fallbacks ?? [])];
  const out: ChainEntry[] = [];
  for (const s of specs) {
    const entry: ChainEntry = { baseUrl: s.baseUrl, model: s.model, kind: s.kind, apiKey: undefined };
    if (s.apiKeyRef !== undefined && s.apiKeyRef !== '') {
      try {
        const key = await deps.resolveSecret(s.apiKeyRef);
        if (key !== '') {
          entry.apiKey = key;
          keys.push(key);
        }
      } catch (err) {
        // The resolver's messages name the reference, never a value.
        const why = err instanceof Error ? err.message : String(err);
        entry.unusable = `API key ${s.apiKeyRef} could not be resolved: ${why}`;
      }
    }
    out.push(entry);
  }
  return out;
}

function parseArgs(raw: string): { ok: boolean; value: unknown } {
  if (raw.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false, value: raw };
  }
}

/** Last line of defence: no resolved key leaves the turn, whatever a server echoed back. */
function scrub(result: TurnResult, keys: string[]): TurnResult {
  const needles = keys.filter((k) => k.length >= 4);
  if (needles.length === 0) return result;
  let text = JSON.stringify(result);
  for (const k of needles) {
    text = text.split(k).join(REDACTED);
    text = text.split(JSON.stringify(k).slice(1, -1)).join(REDACTED);
  }
  return JSON.parse(text) as TurnResult;
}
