/** Job ids: short, readable, unique enough; 12 hex characters (48 random bits). */
import { randomBytes } from 'node:crypto';

export function newJobId(): string {
  return randomBytes(6).toString('hex');
}
