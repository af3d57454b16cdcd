/** `GET /v1/events`: the telemetry bus as server-sent events, heartbeats on the injected clock, bounds. */
import { afterEach, describe, expect, it } from 'vitest';
import { adapters } from '../support/stores.js';
import { call, startHarness, type Harness } from './support.js';

/** An open event stream: read until the text holds what is awaited. */
async function openStream(url: string) {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let text = '';
  return {
    res,
    async until(fragment: string): Promise<string> {
      while (!text.includes(fragment)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended without ${fragment}; got ${text}`);
        text += decoder.decode(value, { stream: true });
      }
      return text;
    },
    /** Resolves when the server ends the stream. */
    async ended(): Promise<void> {
      for (;;) if ((await reader.read()).done) return;
    },
    close: () => controller.abort(),
  };
}

describe.each(adapters)('HTTP API event stream on $name', (adapter) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('an event emitted on the bus arrives as a server-sent event with its name, time and payload', async () => {
    h = await startHarness(adapter);
    const stream = await openStream(`${h.url}/v1/events`);
    expect(stream.res.headers.get('content-type')).toContain('text/event-stream');
    await stream.until(': connected');
    h.events.emit('breaker.rejected', { service: 'payments', reason: 'open' } as never);
    const text = await stream.until('event: breaker.rejected');
    const block = text.slice(text.indexOf('id: 1'));
    expect(block).toMatch(/^id: 1\nevent: breaker\.rejected\ndata: .+\n\n/);
    const data = JSON.parse(block.split('\n')[2]!.slice('data: '.length)) as Record<string, unknown>;
    expect(data).toEqual({
      name: 'breaker.rejected',
      time: h.clock.now(),
      payload: { service: 'payments', reason: 'open' },
    });
    stream.close();
  });

  it('a pattern picks events: prefix.* gets its events and no others', async () => {
    h = await startHarness(adapter);
    const stream = await openStream(`${h.url}/v1/events?pattern=timers.*`);
    await stream.until(': connected');
    h.events.emit('breaker.rejected', { service: 'payments', reason: 'open' } as never);
    h.events.emit('timers.active', { kind: 'durable', count: 3 });
    const text = await stream.until('event: timers.active');
    expect(text).not.toContain('breaker.rejected');
    expect(text).toContain('id: 1\nevent: timers.active');
    stream.close();
  });

  it('heartbeat comments come on the injected clock, one per period', async () => {
    h = await startHarness(adapter, { eventHeartbeatMs: 5000 });
    const stream = await openStream(`${h.url}/v1/events`);
    await stream.until(': connected');
    await h.clock.advance(4999);
    await h.clock.advance(1);
    const start = h.clock.now();
    await stream.until(`: heartbeat ${start}\n\n`);
    await h.clock.advance(5000);
    const text = await stream.until(`: heartbeat ${start + 5000}\n\n`);
    expect(text.match(/: heartbeat/g)).toHaveLength(2);
    stream.close();
    // The closed stream leaves no timer behind on the clock.
    await h.api.close();
    expect(h.clock.pendingTimers).toBe(0);
  });

  it('streams past maxEventStreams are refused with 503; closing the server ends the open ones', async () => {
    h = await startHarness(adapter, { maxEventStreams: 1 });
    const first = await openStream(`${h.url}/v1/events`);
    await first.until(': connected');
    const second = await call(h.url, 'GET', '/v1/events');
    expect([second.status, (second.json as { error: { code: string } }).error.code]).toEqual([
      503,
      'overloaded',
    ]);
    const ended = first.ended();
    await h.api.close();
    await ended;
  });
});
