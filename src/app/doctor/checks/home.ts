/** The home: writable, its store open and current, room left on its disk. */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DoctorCheck, Finding } from '../check.ts';
import { freeBytes, spaceVerdict } from './disk-space.ts';

const MiB = 1024 * 1024;

export const homeCheck: DoctorCheck = {
  id: 'home',
  title: 'home',
  async run(ctx) {
    const { home } = ctx.app;
    const out: Finding[] = [];
    const probe = join(home.dir, `.doctor-${process.pid}.tmp`);
    try {
      writeFileSync(probe, '', { mode: 0o600 });
      rmSync(probe);
      out.push({ check: 'home', level: 'ok', message: `${home.dir} is writable` });
    } catch (err) {
      out.push({
        check: 'home',
        level: 'fail',
        message: `${home.dir} is not writable: ${(err as Error).message}`,
        fix: `chown -R "$(id -un)" ${home.dir} (or pass --home DIR to a directory you can write)`,
      });
    }
    try {
      const config = ctx.app.config();
      out.push({
        check: 'home',
        level: 'ok',
        message: config.file
          ? `${config.file} is valid (${config.channels.length} channel${config.channels.length === 1 ? '' : 's'}, ${Object.keys(config.agents).length} agent${Object.keys(config.agents).length === 1 ? '' : 's'})`
          : 'no config.json (no channels, agents or secret providers configured)',
      });
    } catch (err) {
      const e = err as Error & { hint?: string };
      out.push({
        check: 'home',
        level: 'fail',
        message: e.message,
        fix: e.hint ?? 'see docs/configuration.md',
      });
    }
    // Opening the store applied any migration this version has, so a store that opened is current.
    const jobs = await ctx.app.store.listJobs();
    out.push({
      check: 'home',
      level: 'ok',
      message: `store ${home.dbPath} opens with the current schema (${jobs.length} job${jobs.length === 1 ? '' : 's'})`,
    });
    const free = freeBytes(home.dir);
    if (free !== undefined) {
      const v = spaceVerdict(free, 500 * MiB, 50 * MiB);
      out.push({
        check: 'home',
        level: v.level,
        message: `disk of ${home.dir}: ${v.text}`,
        ...(v.level !== 'ok' && {
          fix: 'free space on that disk; run history keeps growing until its retention removes old runs',
        }),
      });
    }
    return out;
  },
};
