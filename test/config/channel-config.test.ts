import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/domain/errors.ts';
import { parseChannelConfig, parseChannelsConfig } from '../../src/config/channel-config.ts';

function refused(raw: unknown, pattern: RegExp, name = 'ops'): UserError {
  let caught: unknown;
  try {
    parseChannelConfig(raw, name);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `expected a UserError for ${JSON.stringify(raw)}`);
  assert.match(caught.message, pattern);
  assert.equal(caught.code, 'channel_config_invalid');
  assert.ok(caught.hint, 'every refusal carries a hint');
  return caught;
}

describe('channel configuration', () => {
  test('accepts each kind and keeps only references for secrets', () => {
    const channels = parseChannelsConfig({
      hook: {
        kind: 'webhook',
        url: 'https://hooks.example/in',
        secret: 'env:WH_SECRET',
        headers: { 'X-Team': 'ops' },
      },
      team: { kind: 'slack', webhookUrl: 'env:SLACK_WEBHOOK_URL' },
      chat: { kind: 'discord', webhookUrl: 'file:/etc/nightshift/discord-url', username: 'nightshift' },
      phone: { kind: 'telegram', botToken: 'env:TG_TOKEN', chatId: 123456 },
      push: { kind: 'ntfy', topic: 'ns-alerts', token: 'env:NTFY_TOKEN', retry: { attempts: 2 } },
      mail: {
        kind: 'email',
        host: 'smtp.example.com',
        user: 'alerts',
        password: 'env:SMTP_PASSWORD',
        from: 'nightshift <alerts@example.com>',
        to: 'ops@example.com',
      },
    });
    assert.deepEqual(
      channels.map((c) => [c.name, c.kind]),
      [
        ['hook', 'webhook'],
        ['team', 'slack'],
        ['chat', 'discord'],
        ['phone', 'telegram'],
        ['push', 'ntfy'],
        ['mail', 'email'],
      ],
    );
    assert.deepEqual(channels[3], {
      name: 'phone',
      kind: 'telegram',
      botToken: 'env:TG_TOKEN',
      chatId: '123456',
    });
    assert.deepEqual(channels[4]!.retry, { attempts: 2 });
    const mail = channels[5]!;
    assert.equal(mail.kind, 'email');
    if (mail.kind === 'email') assert.deepEqual(mail.to, ['ops@example.com']);
    // What is stored is JSON and round-trips unchanged.
    assert.deepEqual(
      parseChannelsConfig(
        JSON.parse(JSON.stringify(Object.fromEntries(channels.map((c) => [c.name, c])))),
      ).map((c) => c.name),
      channels.map((c) => c.name),
    );
  });

  test('a literal where a secret reference belongs is refused without echoing it', () => {
    const token = '7012345678:AAHk3-pasted-token';
    const err = refused(
      { kind: 'telegram', botToken: token, chatId: 1 },
      /ops: botToken: not a secret reference/,
    );
    assert.ok(!err.message.includes(token));
    assert.ok(!(err.hint ?? '').includes(token));
    assert.match(err.hint ?? '', /env:TELEGRAM_BOT_TOKEN/);
    const url = 'https://hooks.slack.com/services/T0/B0/secretpart';
    const slack = refused({ kind: 'slack', webhookUrl: url }, /webhookUrl: not a secret reference/);
    assert.ok(!slack.message.includes('secretpart'));
  });

  test('literal credential headers are refused; secret headers are accepted', () => {
    const err = refused(
      { kind: 'webhook', url: 'https://h.example', headers: { Authorization: 'Bearer abcdef123' } },
      /headers\.Authorization: holds a literal value, but it looks like a credential/,
    );
    assert.ok(!err.message.includes('abcdef123'));
    const ok = parseChannelConfig(
      {
        kind: 'webhook',
        url: 'https://h.example',
        headers: { Authorization: { secret: 'env:T', prefix: 'Bearer ' } },
      },
      'ops',
    );
    assert.deepEqual(ok.kind === 'webhook' && ok.headers, {
      Authorization: { secret: 'env:T', prefix: 'Bearer ' },
    });
    refused(
      { kind: 'webhook', url: 'https://h.example', headers: { 'X-Key': { secret: 'oops' } } },
      /headers\.X-Key\.secret: not a secret reference/,
    );
  });

  test('names the field at fault for each kind of mistake', () => {
    refused(
      { url: 'https://h.example' },
      /ops: kind: is required: one of webhook, slack, discord, telegram, ntfy, email/,
    );
    refused({ kind: 'pager' }, /kind: must be one of/);
    refused({ kind: 'webhook' }, /url: is required/);
    refused({ kind: 'webhook', url: 'ftp://h.example' }, /url: must use http or https/);
    refused(
      { kind: 'webhook', url: 'https://user:pw@h.example' },
      /url: must not contain a user or password/,
    );
    refused({ kind: 'webhook', url: 'not a url' }, /url: is not a valid URL/);
    refused(
      { kind: 'webhook', url: 'https://h.example', secrett: 'env:X' },
      /secrett: unknown setting for a webhook channel/,
    );
    refused(
      { kind: 'webhook', url: 'https://h.example', timeoutMs: 5 },
      /timeoutMs: must be an integer from 100 to 600000/,
    );
    refused(
      { kind: 'webhook', url: 'https://h.example', retry: { attempts: 0 } },
      /retry\.attempts: must be an integer from 1 to 10/,
    );
    refused(
      { kind: 'webhook', url: 'https://h.example', retry: { tries: 3 } },
      /retry\.tries: unknown setting/,
    );
    refused(
      { kind: 'telegram', botToken: 'env:T', chatId: 'my chat' },
      /chatId: must be a numeric chat id or @channelusername/,
    );
    refused(
      { kind: 'telegram', botToken: 'env:T', chatId: 1, parseMode: 'markdown' },
      /parseMode: must be one of HTML, MarkdownV2, none/,
    );
    refused({ kind: 'ntfy', topic: 'has spaces' }, /topic: must be 1-64 letters/);
    refused({ kind: 'ntfy', topic: 't', server: 'ntfy.example' }, /server: is not a valid URL/);
    refused({ kind: 'email', host: 'h', from: 'a@example.com' }, /to: is required/);
    refused(
      { kind: 'email', host: 'h', from: 'a@example.com', to: ['nobody'] },
      /to: "nobody" is not an email address/,
    );
    refused(
      { kind: 'email', host: 'h', from: 'a@example.com', to: 'b@example.com', port: 70000 },
      /port: must be an integer from 1 to 65535/,
    );
    refused(
      { kind: 'email', host: 'h', from: 'a@example.com', to: 'b@example.com', security: 'ssl' },
      /security: must be one of tls, starttls, none/,
    );
    refused(
      { kind: 'email', host: 'h', from: 'a@example.com', to: 'b@example.com', password: 'env:P' },
      /password: is set but user is not/,
    );
    refused({ kind: 'ntfy', topic: 't', name: 'other' }, /name: differs from its key "ops"/);
    refused({ kind: 'ntfy', topic: 't' }, /name: must start with a letter or digit/, '-bad');
    refused('slack', /expected an object/);
    assert.throws(() => parseChannelsConfig(['x']), /expected an object mapping channel names/);
  });
});
