/**
 * A FIFO ring buffer. Mailboxes use it because `Array#shift` is O(n) and a busy mailbox shifts constantly.
 * The backing array starts small (a process that gets one message pays for four slots) and doubles.
 */
export class Deque<T> {
  private items: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(initialSlots = 4) {
    let slots = 1;
    while (slots < initialSlots) slots *= 2;
    this.items = new Array<T | undefined>(slots);
  }

  get size(): number {
    return this.count;
  }

  /** Slots allocated; lets an owner drop a deque that grew for a burst. */
  get allocated(): number {
    return this.items.length;
  }

  push(value: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = value;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const value = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return value;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let v = this.shift(); v !== undefined; v = this.shift()) out.push(v);
    return out;
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
