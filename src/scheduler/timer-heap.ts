/**
 * A binary min-heap of timers ordered by due time, then by sequence number (creation order breaks ties,
 * so timers due at the same instant fire in the order they were made). Each entry knows its own position,
 * so removing or re-keying any entry is O(log n) — cancel and updateInterval need no scan.
 */

/** What the heap needs of an entry. */
export interface HeapEntry {
  /** Due time, UNIX epoch ms. */
  dueAt: number;
  /** Tie-breaker: lower fires first. Re-keyed entries take a new one so they queue behind equals. */
  seq: number;
  /** Position in the heap array; -1 when not in the heap. Owned by the heap. */
  heapIndex: number;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
}

export class TimerHeap<E extends HeapEntry> {
  private readonly items: E[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The entry due first, if any. */
  peek(): E | undefined {
    return this.items[0];
  }

  push(entry: E): void {
    entry.heapIndex = this.items.length;
    this.items.push(entry);
    this.up(entry.heapIndex);
  }

  /** Removes and returns the entry due first. */
  pop(): E | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `entry`; false when it was not in the heap. */
  remove(entry: E): boolean {
    const i = entry.heapIndex;
    if (i < 0 || this.items[i] !== entry) return false;
    const last = this.items.pop() as E;
    entry.heapIndex = -1;
    if (last !== entry) {
      this.items[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
    return true;
  }

  /** Restores order after `entry.dueAt` or `entry.seq` changed. */
  update(entry: E): void {
    if (entry.heapIndex < 0) return;
    this.up(entry.heapIndex);
    this.down(entry.heapIndex);
  }

  /** Every entry, in no particular order. */
  values(): readonly E[] {
    return this.items;
  }

  clear(): void {
    for (const e of this.items) e.heapIndex = -1;
    this.items.length = 0;
  }

  private up(index: number): void {
    let i = index;
    const e = this.items[i] as E;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = this.items[parentIndex] as E;
      if (!before(e, parent)) break;
      this.items[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    this.items[i] = e;
    e.heapIndex = i;
  }

  private down(index: number): void {
    let i = index;
    const n = this.items.length;
    const e = this.items[i] as E;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(this.items[r] as E, this.items[l] as E)) child = r;
      const c = this.items[child] as E;
      if (!before(c, e)) break;
      this.items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    this.items[i] = e;
    e.heapIndex = i;
  }
}
