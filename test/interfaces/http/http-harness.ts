/**
 * A real `nightshift daemon` serving the HTTP API on a free loopback port, with one client per
 * scope, and a small fetch wrapper that keeps every response body (to look for leaks in).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, eventually, tempHome } from '../cli/cli-harness.ts';
import type { TempHome } from '../cli/cli-harness.ts';

export const TOKENS = {
  read: 'read-token-' + 'r'.repeat(24),
  operate: 'operate-token-' + 'o'.repeat(24),
  admin: 'admin-token-' + 'a'.repeat(24),
} as const;

export interface HttpDaemon {
  h: TempHome;
  daemon: DaemonProcess;
  url: string;
  /** Every response body seen. */
  seen: string[];
  call(
    method: string,
    path: string,
    opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startHttpDaemon(
  opts: { http?: Record<string, unknown>; args?: string[] } = {},
): Promise<HttpDaemon> {
  const h = tempHome();
  mkdirSync(h.home, { recursive: true });
  const config = join(h.home, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      http: {
        port: 0,
        clients: [
          { name: 'watcher', token: 'env:NS_HTTP_READ', scope: 'read' },
          { name: 'operator', token: 'env:NS_HTTP_OPERATE', scope: 'operate' },
          { name: 'owner', token: 'env:NS_HTTP_ADMIN', scope: 'admin' },
        ],
        ...opts.http,
      },
    }),
  );
  chmodSync(config, 0o600);
  const daemon = new DaemonProcess(h.home, opts.args ?? [], {
    NS_HTTP_READ: TOKENS.read,
    NS_HTTP_OPERATE: TOKENS.operate,
    NS_HTTP_ADMIN: TOKENS.admin,
  });
  const started = await daemon.waitFor((e) => e.event === 'http.started', 'the HTTP endpoint', 90_000);
  const url = started.url as string;
  // http.json names the address for `nightshift status`.
  await eventually(() => {
    try {
      return JSON.parse(readFileSync(join(h.home, 'http.json'), 'utf8')).url === url ? true : undefined;
    } catch {
      return undefined;
    }
  }, 'http.json');
  const seen: string[] = [];
  return {
    h,
    daemon,
    url,
    seen,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? TOKENS.admin : opts.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] = 'application/json';
      } else if (opts.raw !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      seen.push(text);
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { text };
      }
      return { status: res.status, json, headers: res.headers };
    },
    async stop() {
      daemon.kill('SIGTERM');
      await daemon.exit();
      h.cleanup();
    },
  };
}
