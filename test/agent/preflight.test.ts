import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/domain/clock.ts';
import { Preflight, probeUrl, PREFLIGHT_CACHE_MS } from '../../src/agent/preflight.ts';
import { startFakeLlmServer, unreachableBaseUrl } from './fake-llm-server.ts';
import type { FakeLlmServer } from './fake-llm-server.ts';

describe('preflight', () => {
  let llm: FakeLlmServer;
  before(async () => {
    llm = await startFakeLlmServer();
  });
  after(() => llm.close());

  test('Ollama is asked /api/tags at the server root, others {baseUrl}/models', () => {
    assert.equal(
      probeUrl({ baseUrl: 'http://127.0.0.1:11434/v1', kind: 'ollama' }),
      'http://127.0.0.1:11434/api/tags',
    );
    assert.equal(probeUrl({ baseUrl: 'http://gpu:11434/', kind: 'ollama' }), 'http://gpu:11434/api/tags');
    assert.equal(probeUrl({ baseUrl: 'https://api.example.com/v1/' }), 'https://api.example.com/v1/models');
  });

  test('checks each kind with the right request and sends the key', async () => {
    llm.requests.length = 0;
    const p = new Preflight({ clock: new ManualClock(0) });
    const ollama = await p.check({ baseUrl: llm.baseUrl, kind: 'ollama' });
    const openai = await p.check({ baseUrl: llm.baseUrl, kind: 'openai', apiKey: 'sk-preflight-key' });
    assert.equal(ollama.up, true);
    assert.equal(openai.up, true);
    assert.deepEqual(
      llm.requests.map((r) => [r.method, r.path, r.headers.authorization]),
      [
        ['GET', '/api/tags', undefined],
        ['GET', '/v1/models', 'Bearer sk-preflight-key'],
      ],
    );
  });

  test('answers are cached per endpoint for 5 minutes of clock time, then checked again', async () => {
    llm.requests.length = 0;
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const p = new Preflight({ clock });
    llm.probeStatus = 500;
    try {
      const first = await p.check({ baseUrl: llm.baseUrl });
      assert.equal(first.up, false);
      assert.equal(first.reason, 'HTTP 500');
      llm.probeStatus = 200;
      await clock.advance(PREFLIGHT_CACHE_MS - 1);
      assert.equal((await p.check({ baseUrl: llm.baseUrl })).up, false, 'still the cached answer');
      assert.equal(llm.requests.length, 1);
      await clock.advance(1);
      assert.equal((await p.check({ baseUrl: llm.baseUrl })).up, true);
      assert.equal(llm.requests.length, 2);
    } finally {
      llm.probeStatus = 200;
    }
  });

  test('an unreachable endpoint is down with the connection error as reason', async () => {
    const r = await new Preflight({ clock: new ManualClock(0) }).check({
      baseUrl: await unreachableBaseUrl(),
    });
    assert.equal(r.up, false);
    assert.match(r.reason ?? '', /ECONNREFUSED/);
  });
});
