/**
 * The service definitions that start the daemon at boot or login: a systemd unit (Linux) and a
 * launchd property list (macOS). Pure text from the install's facts, so they can be checked
 * (`systemd-analyze verify`) and shown before anything is written.
 *
 * The systemd unit runs `nightshift daemon` in the foreground (Type=simple) and declares itself
 * started only once the daemon holds its home (ExecStartPost waits for that), restarts it on
 * failure, and confines it: the file system is read-only except the home and the paths given
 * with --writable (backup repositories on local disks), no privilege gain, private /tmp.
 */

import { dirname, join } from 'node:path';

export interface ServiceSpec {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of bin/nightshift. */
  bin: string;
  /** The nightshift home (the only writable path besides `writable`). */
  home: string;
  /** --http ADDR for the daemon, when the API is wanted without a config entry. */
  http?: string;
  /** Extra writable paths (local backup repositories, job outputs). */
  writable: string[];
  /** System units: the account the daemon runs as. */
  user?: string;
  /** `user` (systemd --user, launchd agent) or `system`. */
  scope: 'user' | 'system';
}

export const UNIT_NAME = 'nightshift.service';
export const LAUNCHD_LABEL = 'dev.nightshift.daemon';

/** systemd quotes: a word with spaces or specials goes in double quotes, with \ and " escaped. */
function sdQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function commandLine(spec: ServiceSpec, args: string[]): string {
  return [spec.node, spec.bin, '--home', spec.home, ...args].map(sdQuote).join(' ');
}

export function systemdUnit(spec: ServiceSpec): string {
  const daemonArgs = ['daemon', ...(spec.http !== undefined ? ['--http', spec.http] : [])];
  const lines = [
    '# Written by `nightshift service install`; `nightshift service uninstall` removes it.',
    '[Unit]',
    'Description=nightshift scheduler daemon',
    `Documentation=file://${join(dirname(dirname(spec.bin)), 'docs', 'service.md')}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${commandLine(spec, daemonArgs)}`,
    // Started means: the daemon holds its home and the scheduler runs (not merely forked).
    `ExecStartPost=${commandLine(spec, ['service', 'wait-ready', '--timeout', '60'])}`,
    // The daemon ends its jobs' process groups itself on SIGTERM and records them interrupted.
    'KillMode=mixed',
    'TimeoutStopSec=90',
    'Restart=on-failure',
    'RestartSec=5',
    'Environment=NODE_ENV=production',
    ...(spec.scope === 'system' && spec.user ? [`User=${spec.user}`] : []),
    'UMask=0077',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${[spec.home, ...spec.writable].map(sdQuote).join(' ')}`,
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    '',
    '[Install]',
    `WantedBy=${spec.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ];
  return lines.join('\n');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function launchdPlist(spec: ServiceSpec): string {
  const args = [
    spec.node,
    spec.bin,
    '--home',
    spec.home,
    'daemon',
    ...(spec.http ? ['--http', spec.http] : []),
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<!-- Written by `nightshift service install`; `nightshift service uninstall` removes it. -->',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...args.map((a) => `    <string>${xml(a)}</string>`),
    '  </array>',
    '  <key>RunAtLoad</key><true/>',
    // Restart after a crash, not after a clean stop.
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    '  <key>ProcessType</key><string>Background</string>',
    '  <key>Umask</key><integer>63</integer>',
    `  <key>StandardOutPath</key><string>${xml(spec.home)}/daemon.log</string>`,
    `  <key>StandardErrorPath</key><string>${xml(spec.home)}/daemon.log</string>`,
    '  <key>ExitTimeOut</key><integer>90</integer>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
