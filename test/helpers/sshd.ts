/**
 * A real OpenSSH server for SFTP tests: `sshd -D` on a free loopback port with a throwaway host
 * key, a throwaway user key, its own sshd_config and authorized_keys, all in a temp directory.
 * It logs in the current user. Requires the openssh-server package (/usr/sbin/sshd).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface SshServer {
  port: number;
  user: string;
  dir: string;
  /** The user's private key file and its text. */
  keyFile: string;
  key: string;
  /** A known_hosts file listing this server's host key. */
  knownHosts: string;
  hostKeyFile: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
}

export async function startSshd(): Promise<SshServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ns-sshd-'));
  const hostKeyFile = join(dir, 'host_key');
  const keyFile = join(dir, 'user_key');
  keygen(hostKeyFile);
  keygen(keyFile);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${keyFile}.pub`), { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  // Privilege separation needs this directory when sshd runs as root.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1`,
      `Port ${port}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `StrictModes no`,
      `UsePAM no`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `PubkeyAuthentication yes`,
      `PermitRootLogin prohibit-password`,
      `AllowUsers ${user}`,
      `Subsystem sftp internal-sftp`,
      `LogLevel ERROR`,
      '',
    ].join('\n'),
  );
  const hostPub = readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(/\s+/);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // A missing or unrunnable sshd fails to spawn: say so instead of exiting without a word.
  child.once('error', (err) => (stderr += `${err.message} (install openssh-server: ${SSHD})`));
  // Ready when the port accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || /install openssh/.test(stderr))
      throw new Error(`sshd exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    user,
    dir,
    keyFile,
    key: readFileSync(keyFile, 'utf8'),
    knownHosts,
    hostKeyFile,
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
