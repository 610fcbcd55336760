/**
 * `nightshift service install/uninstall/status` into a scratch unit directory: the unit runs the
 * daemon on the chosen home with hardening, `systemd-analyze verify` accepts it (where systemd is
 * installed), the launchd plist is well-formed, and uninstall removes only what install wrote.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { cli, tempHome } from './cli-harness.ts';

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/**
 * What `systemd-analyze verify` says about this unit file (it exits 0 even for ignored lines).
 * Both units are checked by the system manager: `--user` needs a user session, which CI lacks,
 * and the unit syntax is the same.
 */
function verify(file: string): string[] {
  const v = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return `${v.stdout}${v.stderr}`.split('\n').filter((l) => l.startsWith(file));
}

describe('nightshift service', () => {
  test('install writes a hardened systemd unit for this home and prints how to enable it', async () => {
    const h = tempHome();
    try {
      const units = join(h.work, 'units');
      const repo = join(h.work, 'repo');
      const r = await cli(h.home, [
        'service',
        'install',
        '--unit-dir',
        units,
        '--http',
        '127.0.0.1:7420',
        '--writable',
        repo,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /systemctl --user daemon-reload/);
      assert.match(r.stdout, /systemctl --user enable --now nightshift\.service/);
      const unit = readFileSync(join(units, 'nightshift.service'), 'utf8');
      assert.match(
        unit,
        new RegExp(
          `^ExecStart=\\S+node\\S* \\S+/bin/nightshift --home ${h.home} daemon --http 127\\.0\\.0\\.1:7420$`,
          'm',
        ),
      );
      assert.match(unit, /^ExecStartPost=.* service wait-ready --timeout 60$/m);
      for (const line of [
        'Restart=on-failure',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=read-only',
        `ReadWritePaths=${h.home} ${repo}`,
        'PrivateTmp=yes',
        'WantedBy=default.target',
      ])
        assert.ok(unit.split('\n').includes(line), `${line} in the unit`);
    } finally {
      h.cleanup();
    }
  });

  test(
    'systemd-analyze verify accepts the user and the system unit',
    { skip: !analyze && 'no systemd-analyze' },
    async () => {
      const h = tempHome();
      try {
        for (const scope of ['--user', '--system']) {
          const r = await cli(h.home, [
            'service',
            'install',
            scope,
            '--run-as',
            userInfo().username,
            '--print',
          ]);
          assert.equal(r.code, 0, r.stderr);
          const dir = join(h.work, scope.slice(2));
          mkdirSync(dir, { recursive: true });
          const file = join(dir, 'nightshift.service');
          writeFileSync(file, r.stdout);
          assert.deepEqual(verify(file), [], `systemd-analyze verify ${scope}`);
          // The check can fail: a bad value and an unknown key are reported.
          writeFileSync(file, r.stdout.replace('Restart=on-failure', 'Restart=sometimes\nRetsart=no'));
          assert.equal(verify(file).length, 2);
        }
      } finally {
        h.cleanup();
      }
    },
  );

  test('a launchd plist for macOS, well-formed', async () => {
    const h = tempHome();
    try {
      const dir = join(h.work, 'agents');
      const r = await cli(h.home, ['service', 'install', '--launchd', '--unit-dir', dir, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { file: string; next: string[] };
      assert.equal(out.file, join(dir, 'dev.nightshift.daemon.plist'));
      assert.deepEqual(out.next, [`launchctl load -w ${out.file}`]);
      const plist = readFileSync(out.file, 'utf8');
      assert.match(plist, /<key>Label<\/key><string>dev\.nightshift\.daemon<\/string>/);
      assert.match(plist, new RegExp(`<string>${h.home}</string>\\s*<string>daemon</string>`));
      const lint = spawnSync('python3', [
        '-c',
        'import plistlib,sys; plistlib.load(open(sys.argv[1],"rb"))',
        out.file,
      ]);
      if (!lint.error) assert.equal(lint.status, 0, String(lint.stderr));
    } finally {
      h.cleanup();
    }
  });

  test('status reports the unit; uninstall removes it, and refuses a file it did not write', async () => {
    const h = tempHome();
    try {
      const units = join(h.work, 'units');
      assert.equal((await cli(h.home, ['service', 'install', '--unit-dir', units])).code, 0);
      const st = await cli(h.home, ['service', 'status', '--unit-dir', units, '--json']);
      assert.equal(st.code, 0, st.stderr);
      const report = JSON.parse(st.stdout) as { installed: boolean; daemon: { running: boolean } };
      assert.equal(report.installed, true);
      assert.equal(report.daemon.running, false);
      const rm = await cli(h.home, ['service', 'uninstall', '--unit-dir', units]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.ok(!existsSync(join(units, 'nightshift.service')));

      writeFileSync(join(units, 'nightshift.service'), '[Unit]\nDescription=someone else\n');
      const refused = await cli(h.home, ['service', 'uninstall', '--unit-dir', units]);
      assert.equal(refused.code, 4);
      assert.match(refused.stderr, /not written by nightshift/);
      assert.ok(existsSync(join(units, 'nightshift.service')));
    } finally {
      h.cleanup();
    }
  });
});
