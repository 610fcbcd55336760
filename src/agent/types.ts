/**
 * The shapes of an agent turn: tools, usage and the turn's result. Kept free of I/O so the payload
 * wiring can use them without pulling in the runtime. Chat messages and model endpoints, which the
 * store and the configuration keep too, are in domain/chat.ts.
 */
import type { ChatMessage } from '../domain/chat.ts';

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
