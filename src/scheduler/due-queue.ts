/**
 * The jobs' next slots, earliest first (a binary min-heap), so a wake-up touches only the jobs that
 * are due and finding the next wake-up is O(1) even with 10,000 jobs. Entries are never removed in
 * place: a job that is rescheduled gets a new version, and stale entries are dropped when they
 * surface.
 */
export interface DueItem {
  atMs: number;
  key: string;
  version: number;
}

export class DueQueue {
  private heap: DueItem[] = [];
  private versions = new Map<string, number>();

  /** Schedules `key` at `atMs`, replacing its previous time; undefined unschedules it. */
  set(key: string, atMs: number | undefined): void {
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    if (atMs !== undefined) this.push({ atMs, key, version });
  }

  delete(key: string): void {
    this.set(key, undefined);
    this.versions.delete(key);
  }

  /** Earliest live item, without removing it. */
  peek(): DueItem | undefined {
    this.dropStale();
    return this.heap[0];
  }

  /** Removes and returns the earliest live item if it is due at `nowMs`. */
  popDue(nowMs: number): DueItem | undefined {
    const top = this.peek();
    if (top === undefined || top.atMs > nowMs) return undefined;
    this.pop();
    this.versions.set(top.key, top.version + 1);
    return top;
  }

  /** Number of live items due at or before `atMs`; walks only those (and their heap children). */
  countUpTo(atMs: number): number {
    let n = 0;
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const item = this.heap[i];
      if (item === undefined || item.atMs > atMs) continue;
      if (this.versions.get(item.key) === item.version) n++;
      stack.push(2 * i + 1, 2 * i + 2);
    }
    return n;
  }

  get size(): number {
    return this.heap.length;
  }

  private dropStale(): void {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.versions.get(top.key) === top.version) return;
      this.pop();
    }
  }

  private push(item: DueItem): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.atMs <= item.atMs) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.atMs < h[l]!.atMs ? r : l;
      if (h[c]!.atMs >= last.atMs) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
