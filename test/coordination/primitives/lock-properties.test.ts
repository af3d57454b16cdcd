/**
 * A lock checked against a model over random sequences of acquire, renew, release and time passing, from
 * two nodes on separate connections: at every step the store agrees with the model on who holds the
 * lock, every new lease has the next fence, and a lease that is not current can neither renew nor
 * release.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CoordinationPrimitives, LockLease } from '../../../src/coordination/index.js';
import { adapters } from '../../support/stores.js';
import { rejectionOf, Scenes } from './support.js';

type Command =
  | { readonly op: 'acquire'; readonly node: number; readonly ttlMs: number }
  | { readonly op: 'renew'; readonly lease: number; readonly ttlMs: number }
  | { readonly op: 'release'; readonly lease: number }
  | { readonly op: 'advance'; readonly ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    op: fc.constant('acquire' as const),
    node: fc.nat(1),
    ttlMs: fc.integer({ min: 1, max: 5 }).map((n) => n * 100),
  }),
  fc.record({
    op: fc.constant('renew' as const),
    lease: fc.nat(7),
    ttlMs: fc.integer({ min: 1, max: 5 }).map((n) => n * 100),
  }),
  fc.record({ op: fc.constant('release' as const), lease: fc.nat(7) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
);

describe.each(adapters)('lock properties on $name', (adapter) => {
  const scenes = new Scenes();
  afterEach(() => scenes.cleanAll());

  it('the store agrees with a model of the lock over random acquire/renew/release/expiry sequences', async () => {
    const scene = await scenes.create(adapter);
    const nodes: CoordinationPrimitives[] = [
      scene.node('node-a'),
      scene.node('node-b', { store: await scene.openStore() }),
    ];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), async (commands) => {
        const name = `lock-${run++}`;
        const leases: LockLease[] = [];
        // The model: the current lease (index into `leases`) and its end; the last fence handed out.
        let current: { index: number; expiresAt: number } | undefined;
        let fence = 0;
        const live = () => current !== undefined && scene.clock.now() < current.expiresAt;

        for (const c of commands) {
          const now = scene.clock.now();
          if (c.op === 'advance') {
            await scene.clock.advance(c.ms);
          } else if (c.op === 'acquire') {
            const lease = await nodes[c.node]!.locks.tryAcquire(name, {
              holder: `h${leases.length}`,
              ttlMs: c.ttlMs,
            });
            if (live()) {
              expect(lease).toBeUndefined();
            } else {
              expect(lease?.fence).toBe(++fence);
              current = { index: leases.length, expiresAt: now + c.ttlMs };
              leases.push(lease as LockLease);
            }
          } else if (c.op === 'renew') {
            const lease = leases[c.lease % Math.max(1, leases.length)];
            if (lease === undefined) continue;
            const index = leases.indexOf(lease);
            if (live() && current?.index === index) {
              const renewed = await nodes[0]!.locks.renew(lease, { ttlMs: c.ttlMs });
              expect(renewed.expiresAt).toBe(now + c.ttlMs);
              current = { index, expiresAt: now + c.ttlMs };
            } else {
              expect((await rejectionOf(nodes[1]!.locks.renew(lease, { ttlMs: c.ttlMs }))).code).toBe(
                'lock_lost',
              );
            }
          } else {
            const lease = leases[c.lease % Math.max(1, leases.length)];
            if (lease === undefined) continue;
            const index = leases.indexOf(lease);
            // The current lease may be released even after it expired, as long as nobody took it over.
            if (current?.index === index) {
              await nodes[1]!.locks.release(lease);
              current = undefined;
            } else {
              expect((await rejectionOf(nodes[0]!.locks.release(lease))).code).toBe('lock_lost');
            }
          }
          const status = await nodes[c.op === 'advance' ? 0 : 1]!.locks.status(name);
          expect(status === undefined ? undefined : status.holder).toBe(
            live() ? (leases[current!.index] as LockLease).holder : undefined,
          );
          expect(await nodes[0]!.locks.isHeld(name)).toBe(live());
        }
      }),
      { numRuns: 25 },
    );
  });
});
