/**
 * Secrets: every reference the configuration and the backup profiles hold, resolved the way the
 * daemon would, without printing a value. Provider credentials (a Vault token) are resolved on the
 * way, so a broken one shows up under each reference that needs it.
 */
import type { NightshiftConfig } from '../../../config/config.ts';
import type { ChannelConfig } from '../../../config/channel-config.ts';
import { looksLikeSecretRef } from '../../../secrets/secret-ref.ts';
import type { DoctorCheck, Finding } from '../check.ts';

/** Where each reference is used, e.g. `env:SLACK_URL` -> ['channel ops']. */
type Uses = Map<string, string[]>;

function add(uses: Uses, ref: string | undefined, where: string): void {
  if (ref === undefined || !looksLikeSecretRef(ref)) return;
  uses.set(ref, [...(uses.get(ref) ?? []), where]);
}

function channelRefs(uses: Uses, c: ChannelConfig): void {
  const where = `channel ${c.name}`;
  switch (c.kind) {
    case 'webhook':
      add(uses, c.url, where);
      add(uses, c.secret, where);
      for (const v of Object.values(c.headers ?? {})) if (typeof v !== 'string') add(uses, v.secret, where);
      break;
    case 'slack':
    case 'discord':
      add(uses, c.webhookUrl, where);
      break;
    case 'telegram':
      add(uses, c.botToken, where);
      break;
    case 'ntfy':
      add(uses, c.token, where);
      break;
    case 'email':
      add(uses, c.password, where);
      break;
  }
}

function configRefs(uses: Uses, config: NightshiftConfig): void {
  for (const c of config.channels) channelRefs(uses, c);
  for (const [name, a] of Object.entries(config.agents)) {
    add(uses, a.apiKeyRef, `agent ${name}`);
    for (const f of a.fallbacks) add(uses, f.apiKeyRef, `agent ${name} fallback`);
  }
  for (const c of config.mcp.http?.clients ?? []) add(uses, c.token, `MCP client ${c.name}`);
}

export const secretsCheck: DoctorCheck = {
  id: 'secrets',
  title: 'secrets',
  async run(ctx) {
    const uses: Uses = new Map();
    const config = ctx.app.config();
    const profiles = await ctx.app.store.profiles.list();
    const jobProfile =
      ctx.job && (ctx.job.payload.kind === 'backup' || ctx.job.payload.kind === 'drill')
        ? ctx.job.payload.profile
        : undefined;
    if (!ctx.job) configRefs(uses, config);
    for (const j of ctx.job ? [ctx.job] : await ctx.app.store.listJobs())
      if (j.payload.kind === 'drill' && j.payload.identityRef !== undefined)
        add(uses, j.payload.identityRef, `job ${j.name} (identity)`);
    for (const p of profiles) {
      if (ctx.job && p.name !== jobProfile) continue;
      if (p.key.kind === 'passphrase') add(uses, p.key.ref, `profile ${p.name}`);
      else add(uses, p.key.identityRef, `profile ${p.name} (identity)`);
    }
    if (uses.size === 0)
      return [{ check: 'secrets', level: 'ok', message: 'no secret references to resolve' }];
    const out: Finding[] = [];
    for (const [ref, where] of uses) {
      try {
        await ctx.app.secrets().resolve(ref);
        out.push({ check: 'secrets', level: 'ok', message: `${ref} resolves (${where.join(', ')})` });
      } catch (err) {
        // Resolver errors are redacted and never hold the value.
        const e = err as Error & { hint?: string };
        out.push({
          check: 'secrets',
          level: 'fail',
          message: `${ref} does not resolve for ${where.join(', ')}: ${e.message}`,
          fix: e.hint ?? 'make the secret available where the reference points (docs/secrets.md)',
        });
      }
    }
    return out;
  },
};
