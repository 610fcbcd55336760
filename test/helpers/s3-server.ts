/**
 * Starts s3rver (a real S3 protocol server, files on disk) on a loopback port in a child process.
 * It needs --openssl-legacy-provider for paginated listings. Tests talk to it with the real AWS SDK.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface S3Server {
  endpoint: string;
  port: number;
  /** Credentials s3rver accepts (its fixed defaults). */
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('./s3rver-main.mjs', import.meta.url));

/** `at` restarts a server on the same directory and port (to test outages). */
export async function startS3Server(
  buckets: string[],
  at?: { dir: string; port: number },
): Promise<S3Server & { dir: string; kill(): Promise<void> }> {
  const dir = at?.dir ?? mkdtempSync(join(tmpdir(), 'ns-s3-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', MAIN, dir, String(at?.port ?? 0), ...buckets],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(Number(l)));
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  return {
    dir,
    endpoint: `http://127.0.0.1:${port}`,
    port,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    /** Stops the server but keeps its files. */
    async kill() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
