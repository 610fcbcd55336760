/**
 * The dashboard's static files (dashboard/: one HTML page, one script, one stylesheet; no
 * framework, no CDN), read once and served from memory. The page asks for a token, keeps it in
 * sessionStorage only, and calls the API with it as a bearer header: no cookie, so no request
 * another site makes can carry the user's authority (CSRF).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** dashboard/ beside this module in the sources; from the bundle in dist/, found under the package root. */
function dashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  const beside = join(dir, 'dashboard');
  for (;;) {
    const candidate = join(dir, 'src', 'interfaces', 'http', 'dashboard');
    try {
      readFileSync(join(candidate, 'index.html'));
      return candidate;
    } catch {
      // keep climbing
    }
    const up = dirname(dir);
    if (up === dir) return beside;
    dir = up;
  }
}

const SECURITY_HEADERS = {
  // Scripts and styles from this origin only; the API is same-origin; no framing (clickjacking).
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function serveDashboard(server: FastifyInstance): void {
  const dir = dashboardDir();
  for (const [url, { file, type }] of Object.entries(FILES)) {
    let body: Buffer | undefined;
    server.get(url, async (_req, res) => {
      body ??= readFileSync(join(dir, file));
      return res.headers({ 'content-type': type, ...SECURITY_HEADERS }).send(body);
    });
  }
}
