import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SecretResolver } from '../../src/secrets/resolver.ts';
import { Redactor } from '../../src/secrets/redact.ts';
import { createChannel } from '../../src/delivery/create-channel.ts';
import { parseChannelsConfig } from '../../src/config/channel-config.ts';
import { startRecorder } from './http-recorder.ts';

describe('createChannel with the secret resolver', () => {
  test('builds every kind, resolving references through SecretResolver at send time', async () => {
    const server = await startRecorder([{ status: 200, body: '{"ok":true,"result":{}}' }]);
    try {
      const redactor = new Redactor();
      const env = { NTFY_TOKEN: 'tk_resolver_0123456789', TG_TOKEN: '42:resolver-token-abcdef' };
      const resolver = new SecretResolver({}, { env, redactor });
      const deps = { resolveSecret: async (ref: string) => (await resolver.resolve(ref)).reveal() };
      const configs = parseChannelsConfig({
        hook: { kind: 'webhook', url: server.url },
        team: { kind: 'slack', webhookUrl: 'env:SLACK_URL' },
        chat: { kind: 'discord', webhookUrl: 'env:DISCORD_URL' },
        phone: { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: 1, apiBase: server.url },
        push: { kind: 'ntfy', server: server.url, topic: 'ns', token: 'env:NTFY_TOKEN' },
        mail: { kind: 'email', host: '127.0.0.1', from: 'a@example.com', to: 'b@example.com' },
      });
      const channels = configs.map((c) => createChannel(c, deps));
      assert.deepEqual(
        channels.map((c) => `${c.name}:${c.kind}`),
        ['hook:webhook', 'team:slack', 'chat:discord', 'phone:telegram', 'push:ntfy', 'mail:email'],
      );

      const push = channels[4]!;
      assert.equal((await push.send({ title: 't', text: 'x', severity: 'info' })).ok, true);
      assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer tk_resolver_0123456789');
      // The resolver registered the value with its redactor, as it does for every output path.
      assert.equal(redactor.redact('token tk_resolver_0123456789'), 'token [REDACTED]');

      // A reference the resolver cannot satisfy: the result names it, nothing is sent.
      const before = server.requests.length;
      const team = channels[1]!;
      const result = await team.send({ title: 't', text: 'x', severity: 'error' });
      assert.equal(result.ok, false);
      assert.equal(result.attempts, 0);
      assert.match(
        result.error ?? '',
        /^cannot resolve secret env:SLACK_URL for slack channel team: .*SLACK_URL/,
      );
      assert.equal(server.requests.length, before);
    } finally {
      await server.close();
    }
  });
});
