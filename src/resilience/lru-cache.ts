/**
 * A bounded cache with a time-to-live per entry and least-recently-used eviction. A Map keeps insertion
 * order, so moving an entry to the end on every hit makes the first entry always the least recently used.
 *
 * The oldest entry is found with one long-lived iterator over the Map rather than `keys().next()` each
 * time: V8 leaves deleted slots at the front of the Map until it rehashes, and a fresh iterator skips them
 * one by one, so evicting through fresh iterators costs O(capacity) (measured: 134k evictions/s at 10k
 * entries, 12k/s at 100k). Map iterators are live by specification — they skip deleted entries and visit
 * entries added later — and every entry before this one's position has already been evicted, so the next
 * key it yields is always the least recently used one, at amortized O(1).
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import {
  emitTo,
  type CacheEvictionReason,
  type EventSink,
  type ResilienceEvents,
} from '../telemetry/index.js';
import { parseOptions } from './validate.js';

export interface LruCacheOptions {
  /** A name for events and stats. Default `cache`. */
  readonly name?: string;
  /** Most entries held; setting one more evicts the least recently used. Default 1000. */
  readonly maxEntries?: number;
  /** How long an entry lives after it was set, in ms. Default: no expiry. */
  readonly ttlMs?: number;
  /** Time source for expiry. Default the system clock. */
  readonly clock?: Clock;
  /** Where `cache.hit`, `cache.miss` and `cache.evict` go. Default none. */
  readonly events?: EventSink<ResilienceEvents>;
}

export interface LruCacheStats {
  readonly name: string;
  readonly size: number;
  readonly maxEntries: number;
  readonly hits: number;
  readonly misses: { readonly absent: number; readonly expired: number };
  readonly evictions: { readonly capacity: number; readonly expired: number };
}

interface Entry<V> {
  readonly value: V;
  /** UNIX epoch ms after which the entry is gone; Infinity for never. */
  readonly expiresAt: number;
}

const optionsSchema = z.object({
  name: z.string().min(1).default('cache'),
  maxEntries: z.number().int().min(1).default(1000),
  ttlMs: z.number().int().min(1).optional(),
});

export class LruCache<K, V> {
  readonly name: string;
  readonly maxEntries: number;
  private readonly ttlMs: number | undefined;
  private readonly clock: Clock;
  private readonly events: EventSink<ResilienceEvents> | undefined;
  private readonly entries = new Map<K, Entry<V>>();
  private cursor: Iterator<K> = this.entries.keys();
  private hits = 0;
  private readonly misses = { absent: 0, expired: 0 };
  private readonly evictions = { capacity: 0, expired: 0 };

  constructor(options: LruCacheOptions = {}) {
    const o = parseOptions(optionsSchema, options, 'cache options');
    this.name = o.name;
    this.maxEntries = o.maxEntries;
    this.ttlMs = o.ttlMs;
    this.clock = options.clock ?? systemClock;
    this.events = options.events;
  }

  /** The value for `key` when present and not expired; makes it the most recently used. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses.absent++;
      emitTo(this.events, 'cache.miss', { cache: this.name, key: String(key), reason: 'absent' });
      return undefined;
    }
    if (this.clock.now() >= entry.expiresAt) {
      this.misses.expired++;
      emitTo(this.events, 'cache.miss', { cache: this.name, key: String(key), reason: 'expired' });
      this.evict(key, 'expired');
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    emitTo(this.events, 'cache.hit', { cache: this.name, key: String(key) });
    return entry.value;
  }

  /** Whether `key` holds a live entry. Does not count as a use and emits nothing. */
  has(key: K): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && this.clock.now() < entry.expiresAt;
  }

  /**
   * Stores `value` as the most recently used entry, evicting the least recently used when full.
   * `ttlMs` overrides the cache's time-to-live for this entry (ms).
   */
  set(key: K, value: V, options: { readonly ttlMs?: number } = {}): this {
    const ttl = options.ttlMs ?? this.ttlMs;
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) {
      throw new ValidationError(
        `cache ${this.name}: ttlMs must be a positive integer number of ms, got ${ttl}`,
      );
    }
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: ttl === undefined ? Infinity : this.clock.now() + ttl });
    while (this.entries.size > this.maxEntries) this.evictOldest();
    return this;
  }

  /** Removes `key`; true when it was there. Not an eviction. */
  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Removes every entry. Not an eviction. */
  clear(): void {
    this.entries.clear();
  }

  /** Evicts every expired entry now; returns how many. Expired entries are otherwise removed when looked up. */
  prune(): number {
    const now = this.clock.now();
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (now >= entry.expiresAt) {
        this.evict(key, 'expired');
        removed++;
      }
    }
    return removed;
  }

  /** Entries held, expired ones not yet removed included. */
  get size(): number {
    return this.entries.size;
  }

  /** Keys from least to most recently used. */
  keys(): K[] {
    return [...this.entries.keys()];
  }

  stats(): LruCacheStats {
    return {
      name: this.name,
      size: this.entries.size,
      maxEntries: this.maxEntries,
      hits: this.hits,
      misses: { ...this.misses },
      evictions: { ...this.evictions },
    };
  }

  private evictOldest(): void {
    let oldest = this.cursor.next();
    if (oldest.done === true) {
      // Only reachable if the iterator ran dry; a fresh one starts at the (then) oldest entry.
      this.cursor = this.entries.keys();
      oldest = this.cursor.next();
    }
    if (oldest.done !== true) this.evict(oldest.value, 'capacity');
  }

  private evict(key: K, reason: CacheEvictionReason): void {
    this.entries.delete(key);
    this.evictions[reason]++;
    emitTo(this.events, 'cache.evict', { cache: this.name, key: String(key), reason });
  }
}
