/**
 * A small client for the OpenAI chat-completions protocol (`POST {baseUrl}/chat/completions`) over
 * fetch, as spoken by OpenAI, Ollama, vLLM, LM Studio, llama.cpp server and compatible gateways.
 * Non-streamed and streamed (SSE) replies, tool calls and token usage. The bearer key is only ever
 * placed in the Authorization header; error texts are scrubbed of it (a gateway may echo it back).
 */
import { REDACTED } from '../secrets/redact.ts';
import type { ChatMessage, ToolCall } from '../domain/chat.ts';
import type { ToolDefinition, Usage } from './types.ts';

export type FetchLike = typeof fetch;

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  stream?: boolean;
}

export interface ChatResponse {
  message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] };
  /** Absent when the server reports none. */
  usage?: Usage;
  /** The model name the server reports (may differ in spelling from the requested one). */
  model?: string;
  finishReason?: string;
}

/**
 * connection: the server could not be reached or dropped the connection; http: a non-2xx status;
 * timeout: no complete answer in time; aborted: the caller cancelled; malformed: a 2xx reply that
 * is not a chat completion.
 */
export type ChatErrorKind = 'connection' | 'http' | 'timeout' | 'aborted' | 'malformed';

export class ChatError extends Error {
  readonly kind: ChatErrorKind;
  readonly status: number | undefined;

  constructor(kind: ChatErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'ChatError';
    this.kind = kind;
    this.status = status;
  }

  /** Worth trying the next endpoint of the fallback chain: the server is down, overloaded or slow. */
  get retryable(): boolean {
    if (this.kind === 'connection' || this.kind === 'timeout') return true;
    return this.kind === 'http' && this.status !== undefined && (this.status >= 500 || this.status === 429);
  }
}

export interface ChatClientOptions {
  baseUrl: string;
  /** The resolved bearer key, if the endpoint needs one. */
  apiKey?: string;
  fetch?: FetchLike;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** How much of an error body goes into a message. */
const BODY_EXCERPT = 300;

export class ChatClient {
  private readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchFn: FetchLike;

  constructor(opts: ChatClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey === '' ? undefined : opts.apiKey;
    this.fetchFn = opts.fetch ?? fetch;
  }

  async complete(req: ChatRequest, opts: CallOptions = {}): Promise<ChatResponse> {
    const url = `${this.baseUrl}/chat/completions`;
    const body: Record<string, unknown> = { model: req.model, messages: req.messages };
    if (req.tools && req.tools.length > 0) {
      body.tools = req.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
      if (req.toolChoice !== undefined) {
        body.tool_choice =
          typeof req.toolChoice === 'string'
            ? req.toolChoice
            : { type: 'function', function: { name: req.toolChoice.name } };
      }
    }
    if (req.stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;

    return this.withSignal(opts, url, async (signal) => {
      const res = await this.fetchFn(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        throw new ChatError(
          'http',
          `HTTP ${res.status} from ${displayUrl(url)}${text ? `: ${this.excerpt(text)}` : ''}`,
          res.status,
        );
      }
      const type = res.headers.get('content-type') ?? '';
      // Some servers answer a stream request with one JSON object; accept whichever arrives.
      if (req.stream && type.includes('text/event-stream')) return this.readStream(res, url);
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new ChatError(
          'malformed',
          `${displayUrl(url)} answered with something that is not JSON: ${this.excerpt(text)}`,
        );
      }
      return this.parseCompletion(json, url);
    });
  }

  /** GET a path relative to the base URL or absolute; used by preflight. Throws ChatError like complete(). */
  async probe(url: string, opts: CallOptions = {}): Promise<void> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    await this.withSignal(opts, url, async (signal) => {
      const res = await this.fetchFn(url, { headers, signal });
      const text = await res.text().catch(() => '');
      if (!res.ok) {
        throw new ChatError(
          'http',
          `HTTP ${res.status} from ${displayUrl(url)}${text ? `: ${this.excerpt(text)}` : ''}`,
          res.status,
        );
      }
    });
  }

  /** Runs `fn` under the caller's signal plus the timeout, and turns low-level failures into ChatErrors. */
  private async withSignal<T>(
    opts: CallOptions,
    url: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const signals: AbortSignal[] = [];
    const timeout =
      opts.timeoutMs !== undefined ? AbortSignal.timeout(Math.max(1, opts.timeoutMs)) : undefined;
    if (timeout) signals.push(timeout);
    if (opts.signal) signals.push(opts.signal);
    const signal = signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals);
    try {
      return await fn(signal);
    } catch (err) {
      if (err instanceof ChatError) throw err;
      if (opts.signal?.aborted) throw new ChatError('aborted', `request to ${displayUrl(url)} was cancelled`);
      if (timeout?.aborted) {
        throw new ChatError('timeout', `no answer from ${displayUrl(url)} within ${opts.timeoutMs} ms`);
      }
      throw new ChatError(
        'connection',
        `cannot reach ${displayUrl(url)}: ${this.excerpt(networkReason(err))}`,
      );
    }
  }

  private parseCompletion(json: unknown, url: string): ChatResponse {
    const obj = asRecord(json);
    const choice = asRecord(Array.isArray(obj?.choices) ? obj.choices[0] : undefined);
    const message = asRecord(choice?.message);
    if (!obj || !message) {
      const err = asRecord(obj?.error);
      if (err && typeof err.message === 'string') {
        throw new ChatError('http', `${displayUrl(url)} reported an error: ${this.excerpt(err.message)}`);
      }
      throw new ChatError(
        'malformed',
        `${displayUrl(url)} answered without choices[0].message; is the base URL an OpenAI-compatible endpoint?`,
      );
    }
    const content = message.content;
    if (content !== undefined && content !== null && typeof content !== 'string') {
      throw new ChatError('malformed', `${displayUrl(url)} answered with a non-text message content`);
    }
    const toolCalls = parseToolCalls(message.tool_calls, url);
    const out: ChatResponse = {
      message: { role: 'assistant', content: typeof content === 'string' ? content : null },
    };
    if (toolCalls.length > 0) out.message.tool_calls = toolCalls;
    const usage = parseUsage(obj.usage);
    if (usage) out.usage = usage;
    if (typeof obj.model === 'string') out.model = obj.model;
    if (typeof choice?.finish_reason === 'string') out.finishReason = choice.finish_reason;
    return out;
  }

  /** Reads SSE `data:` lines until `[DONE]`, assembling content and tool-call deltas (by index). */
  private async readStream(res: Response, url: string): Promise<ChatResponse> {
    if (!res.body) throw new ChatError('malformed', `${displayUrl(url)} sent an empty stream`);
    const decoder = new TextDecoder();
    let buffer = '';
    let content = '';
    let sawContent = false;
    let model: string | undefined;
    let finishReason: string | undefined;
    let usage: Usage | undefined;
    let done = false;
    const calls = new Map<number, { id?: string; name: string; arguments: string }>();

    const handleData = (data: string): void => {
      if (data === '[DONE]') {
        done = true;
        return;
      }
      let chunk: Record<string, unknown> | undefined;
      try {
        chunk = asRecord(JSON.parse(data));
      } catch {
        throw new ChatError(
          'malformed',
          `${displayUrl(url)} sent a stream event that is not JSON: ${this.excerpt(data)}`,
        );
      }
      if (!chunk) return;
      const err = asRecord(chunk.error);
      if (err) {
        const msg = typeof err.message === 'string' ? err.message : JSON.stringify(err);
        throw new ChatError(
          'http',
          `${displayUrl(url)} reported an error mid-stream: ${this.excerpt(msg)}`,
          500,
        );
      }
      if (typeof chunk.model === 'string') model = chunk.model;
      const u = parseUsage(chunk.usage);
      if (u) usage = u;
      const choice = asRecord(Array.isArray(chunk.choices) ? chunk.choices[0] : undefined);
      if (!choice) return;
      if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
      const delta = asRecord(choice.delta);
      if (!delta) return;
      if (typeof delta.content === 'string') {
        content += delta.content;
        sawContent = true;
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const raw of delta.tool_calls) {
          const d = asRecord(raw);
          if (!d) continue;
          const index = typeof d.index === 'number' ? d.index : calls.size;
          const entry = calls.get(index) ?? { name: '', arguments: '' };
          if (typeof d.id === 'string' && d.id !== '') entry.id = d.id;
          const fn = asRecord(d.function);
          if (typeof fn?.name === 'string') entry.name += fn.name;
          if (typeof fn?.arguments === 'string') entry.arguments += fn.arguments;
          calls.set(index, entry);
        }
      }
    };

    const processLines = (final: boolean): void => {
      const lines = buffer.split(/\r?\n/);
      buffer = final ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        if (done) return;
        // Comments (": keep-alive"), event names and ids carry nothing we need.
        if (!line.startsWith('data:')) continue;
        handleData(line.slice(5).trim());
      }
    };

    const reader = res.body.getReader();
    try {
      while (!done) {
        const { value, done: end } = await reader.read();
        if (end) {
          buffer += decoder.decode();
          processLines(true);
          break;
        }
        buffer += decoder.decode(value, { stream: true });
        processLines(false);
      }
    } finally {
      // Release the connection also when we stop early ([DONE] or a bad event).
      await reader.cancel().catch(() => undefined);
    }
    if (!done && finishReason === undefined) {
      throw new ChatError('connection', `${displayUrl(url)} ended the stream before it was complete`);
    }
    const toolCalls: ToolCall[] = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({
        id: c.id ?? `call_${index}`,
        type: 'function' as const,
        function: { name: c.name, arguments: c.arguments },
      }));
    for (const c of toolCalls) {
      if (c.function.name === '') {
        throw new ChatError('malformed', `${displayUrl(url)} streamed a tool call without a function name`);
      }
    }
    const out: ChatResponse = { message: { role: 'assistant', content: sawContent ? content : null } };
    if (toolCalls.length > 0) out.message.tool_calls = toolCalls;
    if (usage) out.usage = usage;
    if (model !== undefined) out.model = model;
    if (finishReason !== undefined) out.finishReason = finishReason;
    return out;
  }

  private excerpt(text: string): string {
    let t = text.replace(/\s+/g, ' ').trim();
    if (this.apiKey !== undefined) t = t.split(this.apiKey).join(REDACTED);
    return t.length > BODY_EXCERPT ? `${t.slice(0, BODY_EXCERPT)}…` : t;
  }
}

function parseToolCalls(raw: unknown, url: string): ToolCall[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    throw new ChatError('malformed', `${displayUrl(url)} answered with tool_calls that is not a list`);
  return raw.map((item, i) => {
    const call = asRecord(item);
    const fn = asRecord(call?.function);
    if (!call || !fn || typeof fn.name !== 'string' || fn.name === '') {
      throw new ChatError(
        'malformed',
        `${displayUrl(url)} answered with a tool call without a function name`,
      );
    }
    // Some servers send the arguments as an object rather than a JSON string.
    const args =
      typeof fn.arguments === 'string'
        ? fn.arguments
        : fn.arguments === undefined
          ? '{}'
          : JSON.stringify(fn.arguments);
    return {
      id: typeof call.id === 'string' && call.id !== '' ? call.id : `call_${i}`,
      type: 'function' as const,
      function: { name: fn.name, arguments: args },
    };
  });
}

function parseUsage(raw: unknown): Usage | undefined {
  const u = asRecord(raw);
  if (!u) return undefined;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const promptTokens = num(u.prompt_tokens);
  const completionTokens = num(u.completion_tokens);
  const totalTokens =
    typeof u.total_tokens === 'number' ? num(u.total_tokens) : promptTokens + completionTokens;
  return { promptTokens, completionTokens, totalTokens };
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** fetch wraps the socket error in `cause`; its code (ECONNREFUSED, ENOTFOUND) is what a user can act on. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** A URL for messages: without user:password and query (either may carry a credential). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
