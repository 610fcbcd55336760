/**
 * The shapes of an agent turn: chat messages as the OpenAI chat-completions protocol has them,
 * model endpoints, tools and the turn's result. Kept free of I/O so the payload wiring and the
 * store can use them without pulling in the runtime.
 */

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A function tool as offered to the model (`tools: [{type:'function', function: …}]`). */
export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export const ZERO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

export type EndpointKind = 'openai' | 'ollama';

/** One model endpoint of a fallback chain. */
export interface ModelEndpoint {
  /** The chat-completions base URL, e.g. `http://127.0.0.1:11434/v1` or `https://api.openai.com/v1`. */
  baseUrl: string;
  model: string;
  /** Secret reference (`env:OPENAI_API_KEY`, `vault:…`) for the bearer key; only the reference is kept. */
  apiKeyRef?: string;
  /** How preflight checks it: `ollama` asks `/api/tags` at the server root, `openai` asks `{baseUrl}/models`. */
  kind?: EndpointKind;
}

/** What a tool handler returns: a result for the model, or a denial that ends the turn. */
export type ToolOutcome = { result: string } | { denied: string };

export interface ToolContext {
  /** Aborted when the turn times out or is interrupted; the tool stops its work. */
  signal: AbortSignal;
  /** Argv prefixes the job allows `exec` to run. */
  execAllowlist: string[][];
}

export interface ToolHandler {
  definition: ToolDefinition;
  run(args: unknown, ctx: ToolContext): Promise<ToolOutcome>;
}

export interface ToolCallRecord {
  name: string;
  /** Parsed arguments, or the raw string when the model sent invalid JSON. */
  args: unknown;
  allowed: boolean;
  result?: string;
  denial?: string;
}

export type TurnStatus = 'ok' | 'error' | 'skipped' | 'timeout' | 'interrupted';

export interface TurnResult {
  status: TurnStatus;
  reason?: string;
  reply?: string;
  /** The final reply was exactly `NO_REPLY` (trimmed): nothing is delivered. */
  suppressed: boolean;
  /** The model that gave the last answer (the configured name), or the primary one if none answered. */
  model: string;
  /** Base URL of the endpoint that gave the last answer. */
  endpoint: string;
  usage: Usage;
  toolCalls: ToolCallRecord[];
  transcript: ChatMessage[];
}
