/**
 * `nightshift service install|uninstall|status`: the daemon as a service that starts at boot or
 * login. On Linux a systemd unit (user or system), on macOS a launchd agent (`--launchd` writes
 * one anywhere). The commands write and remove the file and print the systemctl/launchctl lines
 * to run; they never start or stop anything themselves. `service wait-ready` is what the unit's
 * ExecStartPost runs: it returns once the daemon holds its home.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { probeDaemonLock } from '../../app/daemon-lock.ts';
import { readDaemonAddress } from '../../app/daemon-address.ts';
import { LAUNCHD_LABEL, UNIT_NAME, launchdPlist, systemdUnit } from '../../app/service-units.ts';
import type { ServiceSpec } from '../../app/service-units.ts';
import { resolveHomeDir } from '../../config/home.ts';
import { EXIT, UserError } from '../../domain/errors.ts';
import { globalOptions } from './context.ts';
import { intFlag } from './flag-parsers.ts';
import { printJson, printLine } from './output.ts';

interface Where {
  kind: 'systemd' | 'launchd';
  scope: 'user' | 'system';
  file: string;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** bin/nightshift of this installation (from the sources or the bundle in dist/). */
function binPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bin', 'nightshift');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return resolve(process.argv[1] ?? 'nightshift');
    dir = up;
  }
}

function where(opts: { system?: boolean; user?: boolean; launchd?: boolean; unitDir?: string }): Where {
  if (opts.system && opts.user)
    throw new UserError('--user and --system exclude each other', { hint: 'pick one (default --user)' });
  const scope = opts.system ? 'system' : 'user';
  const launchd = opts.launchd === true || process.platform === 'darwin';
  if (launchd) {
    const dir =
      opts.unitDir ??
      (scope === 'system' ? '/Library/LaunchDaemons' : join(homedir(), 'Library', 'LaunchAgents'));
    return { kind: 'launchd', scope, file: join(resolve(dir), `${LAUNCHD_LABEL}.plist`) };
  }
  const dir =
    opts.unitDir ??
    (scope === 'system' ? '/etc/systemd/system' : join(homedir(), '.config', 'systemd', 'user'));
  return { kind: 'systemd', scope, file: join(resolve(dir), UNIT_NAME) };
}

function systemctl(scope: 'user' | 'system', args: string): string {
  return `systemctl ${scope === 'user' ? '--user ' : ''}${args}`;
}

/** `systemctl is-active/is-enabled` when systemctl is there; undefined otherwise. */
function systemctlState(scope: 'user' | 'system', verb: 'is-active' | 'is-enabled'): string | undefined {
  const r = spawnSync('systemctl', [...(scope === 'user' ? ['--user'] : []), verb, UNIT_NAME], {
    encoding: 'utf8',
    timeout: 5_000,
  });
  if (r.error) return undefined;
  return (r.stdout || r.stderr).trim().split('\n')[0] || undefined;
}

export function registerServiceCommands(program: Command): void {
  const service = program
    .command('service')
    .description('run the daemon as a service that starts at boot or login (systemd, launchd)');

  service
    .command('install')
    .description('write a systemd unit (or launchd plist) for the daemon and print how to enable it')
    .option('--user', 'a per-user service (systemd --user, launchd agent; the default)')
    .option('--system', 'a system service (needs root to write; runs as --run-as)')
    .option('--launchd', 'a launchd property list (the default on macOS)')
    .option('--unit-dir <dir>', 'write/look in this directory instead of the standard one')
    .option('--http <addr>', 'start the daemon with --http ADDR (the API and dashboard)')
    .option(
      '--writable <path>',
      'another path the daemon may write, e.g. a local backup repository (repeatable)',
      collect,
    )
    .option('--run-as <user>', 'with --system: the account the daemon runs as (default: the current user)')
    .option('--print', 'print the file instead of writing it')
    .action((opts, cmd) => {
      const { json, home } = globalOptions(cmd);
      const w = where(opts);
      const homeDir = resolveHomeDir(home);
      const runAs = opts.runAs ?? userInfo().username;
      if (w.scope === 'system' && runAs === 'root' && opts.runAs === undefined)
        throw new UserError('--system as root: say which account the daemon runs as', {
          hint: 'add --run-as USER (a daemon that runs agents' + "'" + ' jobs should not run as root)',
        });
      const spec: ServiceSpec = {
        node: process.execPath,
        bin: binPath(),
        home: homeDir,
        writable: (opts.writable ?? []).map((p) => resolve(p)),
        scope: w.scope,
        ...(opts.http !== undefined ? { http: opts.http } : {}),
        ...(w.scope === 'system' ? { user: runAs } : {}),
      };
      const text = w.kind === 'systemd' ? systemdUnit(spec) : launchdPlist(spec);
      if (opts.print) {
        process.stdout.write(text);
        return;
      }
      mkdirSync(homeDir, { recursive: true, mode: 0o700 });
      mkdirSync(dirname(w.file), { recursive: true });
      writeFileSync(w.file, text, { mode: 0o644 });
      const next =
        w.kind === 'systemd'
          ? [systemctl(w.scope, 'daemon-reload'), systemctl(w.scope, `enable --now ${UNIT_NAME}`)]
          : [`launchctl load -w ${w.file}`];
      if (w.kind === 'systemd' && w.scope === 'user')
        next.push('loginctl enable-linger "$USER"   # to keep it running after you log out');
      if (json) {
        printJson({ kind: w.kind, scope: w.scope, file: w.file, home: homeDir, next });
        return;
      }
      printLine(`wrote ${w.file} (${w.kind}, ${w.scope}; home ${homeDir})`);
      printLine('enable and start it with:');
      for (const line of next) printLine(`  ${line}`);
    });

  service
    .command('uninstall')
    .description('remove the unit (or plist) written by `service install`')
    .option('--user', 'a per-user service (systemd --user, launchd agent; the default)')
    .option('--system', 'a system service (needs root to write; runs as --run-as)')
    .option('--launchd', 'a launchd property list (the default on macOS)')
    .option('--unit-dir <dir>', 'write/look in this directory instead of the standard one')
    .action((opts, cmd) => {
      const w = where(opts);
      const { json } = globalOptions(cmd);
      const existed = existsSync(w.file);
      if (existed && !readFileSync(w.file, 'utf8').includes('nightshift service install'))
        throw new UserError(`${w.file} was not written by nightshift; leaving it alone`, {
          hint: 'remove it yourself if it is yours to remove',
          exitCode: EXIT.conflict,
          code: 'conflict',
        });
      const before =
        w.kind === 'systemd'
          ? [systemctl(w.scope, `disable --now ${UNIT_NAME}`)]
          : [`launchctl unload -w ${w.file}`];
      rmSync(w.file, { force: true });
      if (json) {
        printJson({ file: w.file, removed: existed, stopWith: before });
        return;
      }
      printLine(existed ? `removed ${w.file}` : `no ${w.file}: nothing to remove`);
      if (existed) printLine(`if it was running, stop it with: ${before.join('; ')}`);
    });

  service
    .command('status')
    .description('is the unit installed, is it enabled and active, and is the daemon up')
    .option('--user', 'a per-user service (systemd --user, launchd agent; the default)')
    .option('--system', 'a system service (needs root to write; runs as --run-as)')
    .option('--launchd', 'a launchd property list (the default on macOS)')
    .option('--unit-dir <dir>', 'write/look in this directory instead of the standard one')
    .action((opts, cmd) => {
      const w = where(opts);
      const { json, home } = globalOptions(cmd);
      const homeDir = resolveHomeDir(home);
      const installed = existsSync(w.file);
      const active = w.kind === 'systemd' && installed ? systemctlState(w.scope, 'is-active') : undefined;
      const enabled = w.kind === 'systemd' && installed ? systemctlState(w.scope, 'is-enabled') : undefined;
      const lock = probeDaemonLock(join(homeDir, 'daemon.lock'));
      const daemonUp = lock.held && lock.holder?.role !== 'run';
      const address = daemonUp ? readDaemonAddress(homeDir) : undefined;
      const report = {
        kind: w.kind,
        scope: w.scope,
        file: w.file,
        installed,
        enabled: enabled ?? null,
        active: active ?? null,
        daemon: { running: daemonUp, pid: lock.held ? (lock.holder?.pid ?? null) : null },
        dashboard: address ? `${address.url}/` : null,
      };
      if (json) {
        printJson(report);
        return;
      }
      printLine(
        `${w.kind} ${w.scope} service: ${installed ? w.file : 'not installed (`nightshift service install`)'}`,
      );
      if (enabled !== undefined) printLine(`enabled: ${enabled}; active: ${active ?? '?'}`);
      printLine(`daemon: ${daemonUp ? `running (pid ${report.daemon.pid ?? '?'})` : 'not running'}`);
      if (address) printLine(`dashboard: ${address.url}/`);
    });

  service
    .command('wait-ready', { hidden: true })
    .description('wait until the daemon holds its home (the unit runs this after starting it)')
    .option('--timeout <seconds>', 'give up after this long (default 60)')
    .action(async (opts, cmd) => {
      const { home } = globalOptions(cmd);
      const lockPath = join(resolveHomeDir(home), 'daemon.lock');
      const timeout = opts.timeout === undefined ? 60 : intFlag('--timeout', opts.timeout, { min: 1 });
      const deadline = Date.now() + timeout * 1000;
      for (;;) {
        const lock = probeDaemonLock(lockPath);
        if (lock.held && lock.holder?.role === 'daemon') return;
        if (Date.now() > deadline)
          throw new UserError(`the daemon did not take ${lockPath} within ${timeout} s`, {
            hint: 'look at its log: journalctl --user -u nightshift (or the system journal)',
            exitCode: EXIT.failed,
          });
        await new Promise((r) => setTimeout(r, 200));
      }
    });
}
