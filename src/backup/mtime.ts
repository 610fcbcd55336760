/**
 * Modification times between the file system, the tree format and a restore.
 *
 * Trees store `mtimeMs` as a JSON number (docs/FORMAT.md): a double, which near today's dates
 * holds about a quarter of a microsecond, not the nanoseconds the kernel gives. Node sets times
 * through libuv, which takes seconds as a double and truncates them to whole microseconds. Both
 * roundings together used to put a restored time one microsecond (and so, at a millisecond
 * boundary, one millisecond) before the original. So a backup keeps whole microseconds, the most a
 * restore can set, and a restore hands libuv a value half a microsecond inside the one it means.
 */

/** The tree's `mtimeMs` for a kernel time in nanoseconds: whole microseconds, in milliseconds. */
export function mtimeMsOf(mtimeNs: bigint): number {
  const us = mtimeNs >= 0n ? mtimeNs / 1000n : -((-mtimeNs + 999n) / 1000n);
  return Number(us) / 1000;
}

/**
 * The seconds to pass to `fs.utimes` and friends so that the file gets exactly the whole
 * microsecond `mtimeMs` stands for. Values from older snapshots, which kept sub-microsecond
 * noise, land within a microsecond of the original.
 */
export function utimeSecondsOf(mtimeMs: number): number | string {
  const sec = Math.floor(mtimeMs / 1000);
  // Exact: both are close multiples of the same unit. Micros within the second, noise ≤ 0.25 µs.
  const us = Math.min(999_999, Math.floor((mtimeMs - sec * 1000) * 1000 + 0.3));
  if (sec >= 0) return sec + (us + 0.5) / 1e6;
  // Before 1970: Node reads a negative number as "now" but takes a numeric string as it is, and
  // libuv truncates toward zero, so the nudge points the other way.
  return String(sec + (us - 0.5) / 1e6);
}

/**
 * Whether a tree's `mtimeMs` is exactly what a backup of a file with this kernel time stores now,
 * or stored before whole microseconds (the nanoseconds as a double): an untouched file matches.
 */
export function sameMtime(mtimeNs: bigint, mtimeMs: number): boolean {
  return mtimeMsOf(mtimeNs) === mtimeMs || Number(mtimeNs) / 1e6 === mtimeMs;
}
