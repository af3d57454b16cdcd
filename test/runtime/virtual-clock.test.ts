/**
 * The virtual clock holds only timers that can still fire: a cancelled timer is let go at once, so a test
 * that sets and cancels many deadlines (one per request, say) without advancing time holds none of them.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runtime/index.js';

describe('VirtualClock', () => {
  it('lets go of a cancelled timer at once, without time advancing', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new VirtualClock();
    let held: WeakRef<object> | undefined;
    (() => {
      const payload = { body: 'x'.repeat(1024) };
      held = new WeakRef(payload);
      clock.setTimer(1000, () => void payload.body).cancel();
    })();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(held?.deref()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextDueAt()).toBeUndefined();
  });

  it('fires due timers in order of time, then of setting, and never a cancelled one', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(20, () => fired.push('c'));
    clock.setTimer(15, () => fired.push('never')).cancel();
    await clock.advance(20);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });
});
