/**
 * MCP grants. Each client gets one scope; scopes are ordered, each including the one before:
 * `read` (inspect), `operate` (also run jobs), `admin` (also create, edit and remove jobs).
 */
import { UserError } from './errors.ts';

export const SCOPES = ['read', 'operate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Whether a client holding `granted` may call a tool that needs `required`. */
export function scopeAllows(granted: Scope, required: Scope): boolean {
  return SCOPES.indexOf(granted) >= SCOPES.indexOf(required);
}

/** A scope from a flag or a config value, or a UserError naming the choices. */
export function parseScope(value: string, field = '--scope'): Scope {
  if ((SCOPES as readonly string[]).includes(value)) return value as Scope;
  throw new UserError(`${field}: must be one of ${SCOPES.join(', ')}, got "${value}"`, {
    hint: 'read = inspect jobs and runs; operate = also run jobs; admin = also add, edit and remove jobs',
  });
}
