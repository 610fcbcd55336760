/**
 * Where a running daemon serves its HTTP API and dashboard: `<home>/http.json`, written when the
 * endpoint starts and removed when it stops, so `nightshift status` can print the URL. It holds
 * the address and the daemon's pid only (no token).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DaemonAddress {
  url: string;
  pid: number;
}

export function daemonAddressPath(homeDir: string): string {
  return join(homeDir, 'http.json');
}

export function writeDaemonAddress(homeDir: string, address: DaemonAddress): void {
  writeFileSync(daemonAddressPath(homeDir), JSON.stringify(address) + '\n', { mode: 0o600 });
}

export function removeDaemonAddress(homeDir: string): void {
  rmSync(daemonAddressPath(homeDir), { force: true });
}

/** The recorded address, or undefined when there is none (or it is unreadable). */
export function readDaemonAddress(homeDir: string): DaemonAddress | undefined {
  try {
    const v = JSON.parse(readFileSync(daemonAddressPath(homeDir), 'utf8')) as Partial<DaemonAddress>;
    return typeof v.url === 'string' && typeof v.pid === 'number' ? { url: v.url, pid: v.pid } : undefined;
  } catch {
    return undefined;
  }
}
