/**
 * Finding and ending every process a payload started. A process group alone is not enough: a
 * descendant can leave it (`setsid`, a double fork). So, besides the group, we read /proc for
 * (a) the descendant tree by parent links and (b) processes that still carry the run's marker in
 * their environment (NIGHTSHIFT_RUN_ID, which children inherit), which also catches a daemonised
 * grandchild whose parent already exited. Without /proc (macOS) only the group is signalled.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One letter from /proc/PID/stat: R, S, D, Z (zombie), … */
  state: string;
}

/** Parses /proc/PID/stat; the command name may hold spaces and parentheses, so cut at the last ')'. */
export function readProc(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, pgrp] = rest;
  if (state === undefined || ppid === undefined || pgrp === undefined) return undefined;
  return { pid, ppid: Number(ppid), pgrp: Number(pgrp), state };
}

export function listProcesses(): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info) out.push(info);
  }
  return out;
}

/** Alive means signal-able and not a zombie (a zombie holds nothing and is reaped by its parent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: the pid was reused by someone else's process; not ours to wait for.
    return false;
  }
  return readProc(pid)?.state !== 'Z';
}

function hasMarker(pid: number, marker: Buffer): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`);
    // Each entry is NUL-terminated; match a whole entry.
    return env.indexOf(marker) === 0 || env.indexOf(Buffer.concat([Buffer.from([0]), marker])) >= 0;
  } catch {
    return false;
  }
}

/** Pids this process must never signal: itself and its ancestors. */
function protectedPids(procs: Map<number, ProcInfo>): Set<number> {
  const keep = new Set<number>();
  for (let pid: number | undefined = process.pid; pid !== undefined && pid > 0 && !keep.has(pid);) {
    keep.add(pid);
    pid = procs.get(pid)?.ppid;
  }
  return keep;
}

/**
 * Every live process that belongs to a payload: the tree under `rootPid`, members of its process
 * group (`rootPid` is the group id, as the payload is spawned detached), and processes whose
 * environment holds `markerEnv` (e.g. `NIGHTSHIFT_RUN_ID=<id>`), plus their descendants. Without
 * a `rootPid` (a crash left no pid on record) only the marker finds them.
 */
export function collectPayloadProcesses(rootPid: number | undefined, markerEnv?: string): Set<number> {
  const procs = new Map(listProcesses().map((p) => [p.pid, p]));
  const children = new Map<number, number[]>();
  for (const p of procs.values()) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const marker = markerEnv ? Buffer.from(`${markerEnv}\0`) : undefined;
  const seeds: number[] = [];
  if (rootPid !== undefined && procs.has(rootPid)) seeds.push(rootPid);
  for (const p of procs.values()) {
    if (rootPid !== undefined && p.pgrp === rootPid) seeds.push(p.pid);
    else if (marker && hasMarker(p.pid, marker)) seeds.push(p.pid);
  }
  const found = new Set<number>();
  const stack = [...seeds];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (found.has(pid)) continue;
    found.add(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  for (const pid of protectedPids(procs)) found.delete(pid);
  for (const pid of found) if (procs.get(pid)?.state === 'Z') found.delete(pid);
  return found;
}

/** Signals a process group and a set of pids, ignoring ones already gone. */
export function signalAll(pgid: number, pids: Iterable<number>, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is empty already.
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Exited meanwhile.
    }
  }
}

/** Whether any live process is in the group. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // kill(-pgid, 0) also succeeds for a group of zombies only; look closer where /proc exists.
  const procs = listProcesses();
  if (procs.length === 0) return true;
  return procs.some((p) => p.pgrp === pgid && p.state !== 'Z');
}

export interface TerminateOptions {
  /** The payload's process group id (the pid of the process spawned detached). */
  pgid: number;
  /** Finds the processes to end; called before SIGTERM and again before SIGKILL (new ones may appear). */
  collect: () => Set<number>;
  graceMs: number;
  /** How often to look whether everything has exited during the grace period. */
  pollMs?: number;
}

/**
 * SIGTERM to the group and every collected pid; whatever still lives after `graceMs` (including
 * processes started meanwhile) gets SIGKILL. Resolves once nothing is left (or after SIGKILL,
 * which cannot be refused). Returns whether SIGKILL was needed.
 */
export async function terminateProcesses(opts: TerminateOptions): Promise<{ killed: boolean }> {
  const pollMs = opts.pollMs ?? 25;
  let targets = opts.collect();
  signalAll(opts.pgid, targets, 'SIGTERM');
  const deadline = Date.now() + opts.graceMs;
  const anyAlive = (): boolean => groupAlive(opts.pgid) || [...targets].some(isAlive);
  while (Date.now() < deadline) {
    if (!anyAlive()) return { killed: false };
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
  // Some may have started new processes while dying; take those too.
  targets = new Set([...targets, ...opts.collect()]);
  if (!anyAlive()) return { killed: false };
  signalAll(opts.pgid, targets, 'SIGKILL');
  // SIGKILL is delivered at once; give the kernel a moment so callers see them gone.
  for (let i = 0; i < 40 && anyAlive(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  return { killed: true };
}
