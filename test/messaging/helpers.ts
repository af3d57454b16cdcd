/**
 * Helpers for the messaging tests: a delivery service on a fresh store with a virtual clock, a scratch
 * table for handler effects, and waits on events and store state (waits, never timed assertions).
 */
import { join } from 'node:path';
import {
  createDurableDelivery,
  type DeliveryEvents,
  type DurableDelivery,
  type DurableDeliveryOptions,
} from '../../src/messaging/index.js';
import { VirtualClock } from '../../src/runtime/index.js';
import { openStore, parseJson, type Store } from '../../src/store/index.js';
import { repositoryRoot, spawnScript, type Child } from '../support/child.js';
import type { TestAdapter } from '../support/stores.js';

export interface Fixture {
  readonly store: Store;
  readonly clock: VirtualClock;
  readonly delivery: DurableDelivery;
  readonly url: string;
}

/** A scratch table handlers record their effects in. */
export async function createEffects(store: Store): Promise<void> {
  await store.execute('CREATE TABLE effects (message_id BIGINT NOT NULL, note TEXT NOT NULL)');
}

export async function effects(
  store: Pick<Store, 'query'>,
): Promise<Array<{ message_id: number; note: string }>> {
  const rows = await store.query<{ message_id: number; note: string }>(
    'SELECT message_id, note FROM effects ORDER BY note, message_id',
  );
  return rows.map((r) => ({ message_id: Number(r.message_id), note: r.note }));
}

/** Opens a fresh store with an `effects` table and a delivery service on a virtual clock (no jitter). */
export async function openFixture(
  adapter: TestAdapter,
  options: Partial<DurableDeliveryOptions> = {},
): Promise<Fixture> {
  const url = adapter.freshUrl();
  const store = await openStore(url);
  await createEffects(store);
  const clock = new VirtualClock();
  const delivery = createDurableDelivery({ store, clock, random: () => 0, ...options });
  return { store, clock, delivery, url };
}

/** Resolves with the next `name` event matching `where`. */
export function nextEvent<K extends keyof DeliveryEvents>(
  delivery: DurableDelivery,
  name: K,
  where: (e: DeliveryEvents[K]) => boolean = () => true,
): Promise<DeliveryEvents[K]> {
  return new Promise((resolve) => {
    const off = delivery.on(name, (e) => {
      if (!where(e)) return;
      off();
      resolve(e);
    });
  });
}

/** Resolves after `count` events named `name`. */
export function events<K extends keyof DeliveryEvents>(
  delivery: DurableDelivery,
  name: K,
  count: number,
): Promise<Array<DeliveryEvents[K]>> {
  const seen: Array<DeliveryEvents[K]> = [];
  return new Promise((resolve) => {
    const off = delivery.on(name, (e) => {
      seen.push(e);
      if (seen.length === count) {
        off();
        resolve(seen);
      }
    });
  });
}

/** Waits (on real time, briefly, between looks) until `check` returns something truthy. */
export async function until<T>(check: () => T | Promise<T>, what: string): Promise<NonNullable<T>> {
  for (let i = 0; i < 4000; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Raw message rows of a recipient, for checking what the store holds. */
export async function messageRows(
  store: Pick<Store, 'query'>,
  recipient: string,
): Promise<
  Array<{ id: number; status: string; attempts: number; available_at: number; last_error: unknown }>
> {
  const rows = await store.query<{
    id: number;
    status: string;
    attempts: number;
    available_at: number;
    last_error: unknown;
  }>(
    'SELECT id, status, attempts, available_at, last_error FROM garrison_messages WHERE recipient = $1 ORDER BY id',
    [recipient],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    status: r.status,
    attempts: Number(r.attempts),
    available_at: Number(r.available_at),
    last_error: r.last_error === null ? null : parseJson(r.last_error),
  }));
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Starts a TypeScript fixture from `test/messaging/fixtures/` in a new Node process; stdin keeps it alive. */
export function startFixture(name: string, args: readonly (string | number)[]): Child {
  return spawnScript(join(repositoryRoot, 'test', 'messaging', 'fixtures', name), args, { stdin: true });
}
