/**
 * The queue client's resolver keeps definitions of queues nobody defined (their names come from callers,
 * e.g. API requests) for reuse, but only the most recent ones: the set of names seen stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { createQueueResolver, MAX_PLAIN_QUEUES_KEPT } from '../../../src/work/queue/client.js';
import { defineQueue } from '../../../src/work/queue/definition.js';

describe('queue resolver', () => {
  it('keeps at most maxPlain plain queue definitions however many names it is given', () => {
    const resolver = createQueueResolver([]);
    for (let i = 0; i < MAX_PLAIN_QUEUES_KEPT * 5; i++) {
      expect(resolver.resolve(`q-${i}`).name).toBe(`q-${i}`);
      expect(resolver.plainKept).toBeLessThanOrEqual(MAX_PLAIN_QUEUES_KEPT);
    }
    expect(resolver.plainKept).toBe(MAX_PLAIN_QUEUES_KEPT);
    // A name dropped long ago is rebuilt as it was; a recent one is reused.
    expect(resolver.resolve('q-0')).toMatchObject({
      name: 'q-0',
      maxAttempts: expect.any(Number) as unknown,
    });
    const recent = resolver.resolve(`q-${MAX_PLAIN_QUEUES_KEPT * 5 - 1}`);
    expect(resolver.resolve(`q-${MAX_PLAIN_QUEUES_KEPT * 5 - 1}`)).toBe(recent);
  });

  it('defined queues are never dropped, and bad names are refused without being kept', () => {
    const defined = defineQueue({ name: 'emails', maxAttempts: 9 });
    const resolver = createQueueResolver([defined], 10);
    for (let i = 0; i < 100; i++) resolver.resolve(`other-${i}`);
    expect(resolver.resolve('emails')).toBe(defined);
    expect(() => resolver.resolve('bad name!')).toThrow(/invalid queue name/);
    expect(resolver.plainKept).toBe(10);
  });
});
