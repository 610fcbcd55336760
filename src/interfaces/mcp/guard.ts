/**
 * What stands between an MCP client and a tool body: the scope check (a call outside the client's
 * scope gets a structured denial and is logged), the refusal of arguments that carry a secret
 * value, and the redaction of every result; UserErrors become tool errors with their code and hint.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { looksLikeSecretRef } from '../../domain/backup-profile.ts';
import { UserError } from '../../domain/errors.ts';
import type { Scope } from '../../domain/scope.ts';
import { scopeAllows } from '../../domain/scope.ts';
import { defaultRedactor } from '../../secrets/redact.ts';

/** What the server reports about itself; never argument values (they may hold secrets). */
export type McpLogEvent =
  | { event: 'mcp.denied'; tool: string; scope: Scope; required: Scope }
  | { event: 'mcp.secret_refused'; tool: string; field: string }
  | { event: 'mcp.tool_error'; tool: string; code: string; message: string }
  | { event: 'mcp.run_failed'; runId: string | null; message: string };

export type Structured = Record<string, unknown>;

/** Runs a tool body under the guard: `tool` needs scope `required`; `args` are checked for secrets. */
export type Guarded = (
  tool: string,
  required: Scope,
  args: unknown,
  body: () => Promise<Structured>,
) => Promise<CallToolResult>;

/**
 * Argument names that can only carry a secret value. Job fields never hold secrets (only
 * references, where a kind needs one), so any of these in job input is a mistake or an attempt to
 * smuggle a secret into the store: refused, and logged without the value.
 */
const SECRET_FIELD =
  /passphrase|password|secret|token|api[-_]?key|private[-_]?key|writer[-_]?key|identity|credential/i;

/** Values that can only be key material: age identities, nightshift writer keys, PEM private keys. */
const SECRET_VALUE =
  /AGE-SECRET-KEY-1[0-9A-Z]{20,}|NIGHTSHIFT-WRITER-KEY-1 |-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/i;

/**
 * Every result goes through the redactor: a value the secret resolver has produced in this process
 * (a token, a passphrase) cannot leave through MCP even if some message were to carry it.
 */
function success(structured: Structured): CallToolResult {
  const clean = defaultRedactor.redactValue(structured);
  return {
    content: [{ type: 'text', text: JSON.stringify(clean, null, 2) }],
    structuredContent: clean,
  };
}

function failure(text: string, structured: Structured): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: defaultRedactor.redact(text) }],
    structuredContent: defaultRedactor.redactValue(structured),
  };
}

/**
 * A field that names where a secret lives (`identityRef: "file:/root/id.txt"`): a reference is
 * what nightshift stores instead of a secret, so it passes; a literal in such a field does not.
 */
function isReference(key: string, value: unknown): boolean {
  return /Ref$/.test(key) && typeof value === 'string' && looksLikeSecretRef(value);
}

/**
 * The first argument path whose name says it carries a secret (env variable names excepted), or
 * whose value is key material (anywhere, env values included).
 */
function secretField(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return SECRET_VALUE.test(value) ? path || '(argument)' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const p = path === '' ? k : Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`;
    if (path !== 'payload.env' && SECRET_FIELD.test(k) && !isReference(k, v)) return p;
    const inner = secretField(v, p);
    if (inner) return inner;
  }
  return undefined;
}

/** The guard of one client's server: its scope, and where refusals are logged. */
export function createGuard(scope: Scope, log: (event: McpLogEvent) => void): Guarded {
  /**
   * Runs a tool body under the scope check, after refusing arguments that carry a secret, turning
   * refusals and errors into tool errors.
   */
  async function guarded(
    tool: string,
    required: Scope,
    args: unknown,
    body: () => Promise<Structured>,
  ): Promise<CallToolResult> {
    if (!scopeAllows(scope, required)) {
      log({ event: 'mcp.denied', tool, scope, required });
      return failure(`denied: ${tool} needs scope "${required}"; this client has scope "${scope}"`, {
        denied: true,
        tool,
        scope,
        required,
      });
    }
    try {
      refuseSecrets(tool, args);
      return success(await body());
    } catch (err) {
      if (err instanceof UserError) {
        const message = defaultRedactor.redact(err.message);
        if (err.code !== 'secret_refused') log({ event: 'mcp.tool_error', tool, code: err.code, message });
        return failure(err.hint ? `${err.message}\nhint: ${err.hint}` : err.message, {
          error: { code: err.code, message: err.message, hint: err.hint ?? null },
        });
      }
      const message = defaultRedactor.redact(err instanceof Error ? err.message : String(err));
      log({ event: 'mcp.tool_error', tool, code: 'internal', message });
      return failure(`internal error: ${message}`, { error: { code: 'internal', message, hint: null } });
    }
  }

  function refuseSecrets(tool: string, args: unknown): void {
    const field = secretField(args, '');
    if (field === undefined) return;
    log({ event: 'mcp.secret_refused', tool, field });
    throw new UserError(
      `${field}: secret values are not accepted through MCP (the value given is not shown)`,
      {
        hint: 'no tool takes a secret, passphrase, identity or key; where one is needed, a reference such as env:NAME or file:/path is configured outside MCP (see docs/secrets.md)',
        code: 'secret_refused',
      },
    );
  }

  return guarded;
}

/** The sentence every tool description ends with. */
export const scopeNote = (required: Scope): string => ` Needs scope "${required}".`;
