/**
 * Chat messages as the OpenAI chat-completions protocol has them, and the model endpoints an agent
 * talks to. The agent runtime speaks them, the store keeps transcripts of them and the
 * configuration lists endpoints, so they live below all three.
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
