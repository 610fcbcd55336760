/**
 * Validation of the payload kinds beside `command`: backup, drill, systemEvent, agentTurn and
 * heartbeat. Names of profiles, agents and channels are only checked for shape here; whether they
 * exist is checked where the state is at hand (the CLI, MCP tools, the executor at run time).
 */
import type {
  AgentTurnPayload,
  BackupPayload,
  DrillPayload,
  HeartbeatPayload,
  Payload,
  SessionTarget,
  SystemEventPayload,
} from './job.ts';
import { DEFAULT_TIMEOUT_SECONDS } from './job.ts';
import { looksLikeSecretRef } from './backup-profile.ts';
import { boolField, fail, intField, show, textField } from './fields.ts';
import { parseRepositoryLocation } from './repository-location.ts';

export const PAYLOAD_KINDS = ['command', 'backup', 'drill', 'systemEvent', 'agentTurn', 'heartbeat'] as const;
/** Names of agents, profiles: what the CLI and config accept. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const MAX_MESSAGE = 100_000;
export const DEFAULT_DRILL_SAMPLE_FILES = 20;

function nameField(v: unknown, field: string, what: string): string {
  const s = textField(v, field);
  if (!NAME.test(s))
    fail(
      `${field}: ${show(s)} is not a valid ${what} name`,
      `${what} names use letters, digits, _ . - (up to 100 characters)`,
    );
  return s;
}

/**
 * What a drill reads: a profile, or a repository with the reference to the identity that reads it
 * (a drill on the host where the identity lives, which has no profile for the repository).
 */
function drillTarget(
  v: Record<string, unknown>,
): Pick<DrillPayload, 'profile' | 'repository' | 'identityRef'> {
  const given = (x: unknown): boolean => x !== undefined && x !== null;
  if (given(v.profile)) {
    if (given(v.repository) || given(v.identityRef))
      fail(
        'payload.profile: give a backup profile, or a repository with an identity reference, not both',
        'e.g. --drill PROFILE, or --drill-repo REPO --identity-ref file:/path/identity.txt',
      );
    return { profile: nameField(v.profile, 'payload.profile', 'backup profile') };
  }
  if (!given(v.repository))
    fail(
      given(v.identityRef)
        ? 'payload.repository: an identity reference needs the repository it reads'
        : 'payload.profile: missing (a drill needs a backup profile, or a repository and an identity reference)',
      'e.g. --drill PROFILE, or --drill-repo REPO --identity-ref file:/path/identity.txt',
    );
  const repository = textField(v.repository, 'payload.repository');
  parseRepositoryLocation(repository);
  if (!given(v.identityRef))
    fail(
      'payload.identityRef: a drill of a repository needs the reference to the age identity that reads it',
      'e.g. --identity-ref file:/root/backup-identity.txt (mode 0600), vault:..., cmd:...',
    );
  const identityRef = textField(v.identityRef, 'payload.identityRef');
  // Never echoed: a literal here is most likely the identity itself.
  if (!looksLikeSecretRef(identityRef))
    fail(
      'payload.identityRef: is not a secret reference (an identity is never stored; the value is not shown)',
      'give where the identity lives: file:/path (mode 0600), env:NAME, cmd:..., vault:mount/path#field',
    );
  return { repository, identityRef };
}

function timeout(v: unknown, field: string, dflt: number | undefined): number | undefined {
  if (v === undefined || v === null) return dflt;
  return intField(v, field, 0, 30 * 86_400, '0 means no timeout');
}

function messageField(v: unknown, field: string, hint: string): string {
  if (v === undefined || v === null) fail(`${field}: missing`, hint);
  const s = textField(v, field);
  if (s.trim() === '') fail(`${field}: must not be empty`, hint);
  if (s.length > MAX_MESSAGE) fail(`${field}: ${s.length} characters; at most ${MAX_MESSAGE}`);
  return s;
}

export function validateSessionTarget(v: unknown, field: string, dflt: SessionTarget): SessionTarget {
  if (v === undefined || v === null) return dflt;
  const s = textField(v, field);
  if (s === 'main' || s === 'isolated' || s === 'current') return s;
  if (s.startsWith('session:') && NAME.test(s.slice('session:'.length))) return s as SessionTarget;
  return fail(
    `${field}: must be main, isolated, current or session:<id>, got ${show(s)}`,
    'main = the agent’s ongoing session; isolated = a fresh session per run; session:<id> = a named one',
  );
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) fail(`${field}: must be a list of strings, got ${show(v)}`);
  return v.map((x, i) => textField(x, `${field}[${i}]`));
}

function createdBy(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = textField(v, 'payload.createdBySession');
  if (s.trim() === '' || s.length > 200) fail('payload.createdBySession: must be a session id');
  return s;
}

/** Validates a payload whose kind is not `command`. */
export function validateOtherPayload(v: Record<string, unknown>): Payload {
  switch (v.kind) {
    case 'backup': {
      const out: BackupPayload = {
        kind: 'backup',
        profile: nameField(v.profile, 'payload.profile', 'backup profile'),
      };
      const t = timeout(v.timeoutSeconds, 'payload.timeoutSeconds', undefined);
      if (t !== undefined) out.timeoutSeconds = t;
      return out;
    }
    case 'drill': {
      const out: DrillPayload = { kind: 'drill', ...drillTarget(v) };
      const hasFiles = v.sampleFiles !== undefined && v.sampleFiles !== null;
      const hasPercent = v.samplePercent !== undefined && v.samplePercent !== null;
      if (hasFiles && hasPercent)
        fail(
          'payload.sampleFiles: give a number of files or a percentage, not both',
          'e.g. --drill-sample 20 or 5%',
        );
      if (hasPercent) {
        const p = v.samplePercent;
        if (typeof p !== 'number' || !(p > 0 && p <= 100))
          fail(`payload.samplePercent: must be a number above 0 and at most 100, got ${show(p)}`);
        out.samplePercent = p;
      } else {
        out.sampleFiles = hasFiles
          ? intField(v.sampleFiles, 'payload.sampleFiles', 1, 1_000_000)
          : DEFAULT_DRILL_SAMPLE_FILES;
      }
      const t = timeout(v.timeoutSeconds, 'payload.timeoutSeconds', undefined);
      if (t !== undefined) out.timeoutSeconds = t;
      return out;
    }
    case 'systemEvent': {
      const wake = v.wake ?? 'next-heartbeat';
      if (wake !== 'now' && wake !== 'next-heartbeat')
        fail(`payload.wake: must be now or next-heartbeat, got ${show(wake)}`);
      const out: SystemEventPayload = {
        kind: 'systemEvent',
        text: messageField(
          v.text,
          'payload.text',
          'give the text to put into the session, e.g. --system-event "check the backups"',
        ),
        session: validateSessionTarget(v.session, 'payload.session', 'main'),
        wake,
      };
      if (out.session === 'isolated')
        fail(
          'payload.session: a system event cannot target an isolated session',
          'an isolated session exists only for one run; target main or session:<id>, or use --message for an agent turn',
        );
      if (v.agent !== undefined && v.agent !== null) out.agent = nameField(v.agent, 'payload.agent', 'agent');
      const by = createdBy(v.createdBySession);
      if (by !== undefined) out.createdBySession = by;
      return out;
    }
    case 'agentTurn': {
      const out: AgentTurnPayload = {
        kind: 'agentTurn',
        message: messageField(
          v.message,
          'payload.message',
          'give the instruction for the agent, e.g. --message "summarise the logs"',
        ),
        session: validateSessionTarget(v.session, 'payload.session', 'isolated'),
        timeoutSeconds: timeout(
          v.timeoutSeconds,
          'payload.timeoutSeconds',
          DEFAULT_TIMEOUT_SECONDS,
        ) as number,
      };
      if (v.agent !== undefined && v.agent !== null) out.agent = nameField(v.agent, 'payload.agent', 'agent');
      if (v.model !== undefined && v.model !== null) {
        const m = textField(v.model, 'payload.model').trim();
        if (m === '') fail('payload.model: must not be empty', 'give a model name, e.g. --model llama3.1:8b');
        out.model = m;
      }
      if (v.fallbacks !== undefined && v.fallbacks !== null) {
        const list = stringList(v.fallbacks, 'payload.fallbacks').map((s) => s.trim());
        list.forEach((s, i) => {
          if (s === '')
            fail(
              `payload.fallbacks[${i}]: must not be empty`,
              'e.g. --fallbacks qwen2.5:7b,backup/gpt-4o-mini',
            );
        });
        if (list.length > 0) out.fallbacks = list;
      }
      if (v.tools !== undefined && v.tools !== null) {
        const tools = stringList(v.tools, 'payload.tools').map((s) => s.trim());
        tools.forEach((t, i) => {
          if (!/^[a-z][a-z0-9_]*$/.test(t))
            fail(
              `payload.tools[${i}]: ${show(t)} is not a tool name`,
              'e.g. --tools exec,message,backup_run',
            );
        });
        if (tools.length > 0) out.tools = [...new Set(tools)];
      }
      if (v.execAllowlist !== undefined && v.execAllowlist !== null) {
        if (!Array.isArray(v.execAllowlist))
          fail(`payload.execAllowlist: must be a list of argv prefixes, got ${show(v.execAllowlist)}`);
        out.execAllowlist = v.execAllowlist.map((a, i) => {
          const argv = stringList(a, `payload.execAllowlist[${i}]`);
          if (argv.length === 0 || argv[0] === '')
            fail(
              `payload.execAllowlist[${i}]: must name at least the program`,
              "e.g. --exec-allow 'git status'",
            );
          return argv;
        });
      }
      if (out.execAllowlist && !out.tools?.includes('exec'))
        fail(
          'payload.execAllowlist: given, but the exec tool is not allowed',
          'add exec to --tools, or drop --exec-allow',
        );
      if (out.tools?.includes('exec') && !out.execAllowlist?.length)
        fail(
          'payload.tools: exec is allowed but no command may run',
          "give the commands it may run with --exec-allow 'git status' (argv prefixes, repeatable)",
        );
      if (v.lightContext !== undefined && v.lightContext !== null)
        out.lightContext = boolField(v.lightContext, 'payload.lightContext');
      const by = createdBy(v.createdBySession);
      if (by !== undefined) out.createdBySession = by;
      return out;
    }
    case 'heartbeat': {
      const out: HeartbeatPayload = {
        kind: 'heartbeat',
        agent:
          v.agent === undefined || v.agent === null
            ? 'default'
            : nameField(v.agent, 'payload.agent', 'agent'),
      };
      const t = timeout(v.timeoutSeconds, 'payload.timeoutSeconds', undefined);
      if (t !== undefined) out.timeoutSeconds = t;
      return out;
    }
    default:
      return fail(
        `payload.kind: must be one of ${PAYLOAD_KINDS.join(', ')}, got ${show(v.kind)}`,
        'e.g. --command "script.sh", --backup PROFILE, --message TEXT or --system-event TEXT',
      );
  }
}
