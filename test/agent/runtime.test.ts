import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeDanglingToolCalls, resolveFallbacks } from '../../src/agent/runtime.ts';
import type { AgentConfig } from '../../src/config/config.ts';
import type { ChatMessage } from '../../src/domain/chat.ts';

const own: AgentConfig = {
  baseUrl: 'http://127.0.0.1:11434/v1',
  model: 'llama3.1:8b',
  kind: 'ollama',
  fallbacks: [],
  heartbeatEveryMs: 1_800_000,
};
const gateway: AgentConfig = {
  baseUrl: 'https://gateway.example/v1',
  model: 'gpt-4o',
  apiKeyRef: 'env:GATEWAY_KEY',
  fallbacks: [],
  heartbeatEveryMs: 1_800_000,
};

describe('agent runtime', () => {
  test('fallbacks: a bare model stays on the agent endpoint, agent/model uses that agent, other slashes are model names', () => {
    const agents = { default: own, gateway };
    assert.deepEqual(
      resolveFallbacks(['qwen2.5:7b', 'gateway/gpt-4o-mini', 'meta-llama/Llama-3.1-8B'], own, agents),
      [
        { baseUrl: own.baseUrl, model: 'qwen2.5:7b', kind: 'ollama' },
        { baseUrl: gateway.baseUrl, model: 'gpt-4o-mini', apiKeyRef: 'env:GATEWAY_KEY' },
        { baseUrl: own.baseUrl, model: 'meta-llama/Llama-3.1-8B', kind: 'ollama' },
      ],
    );
    assert.throws(() => resolveFallbacks(['gateway/'], own, agents), /fallback "gateway\/" names no model/);
  });

  test('unanswered tool calls are closed so the stored conversation stays valid', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'exec', arguments: '{}' } },
          { id: 'b', type: 'function', function: { name: 'exec', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: 'done' },
    ];
    assert.deepEqual(closeDanglingToolCalls(messages, 'the turn timed out').slice(2), [
      { role: 'tool', tool_call_id: 'a', content: 'done' },
      { role: 'tool', tool_call_id: 'b', content: 'not run: the turn timed out' },
    ]);
    const complete: ChatMessage[] = [...messages, { role: 'tool', tool_call_id: 'b', content: 'ok' }];
    assert.deepEqual(closeDanglingToolCalls(complete, 'x'), complete);
  });
});
