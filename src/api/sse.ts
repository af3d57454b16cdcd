/**
 * `GET /v1/events`: the telemetry event bus as server-sent events, on hono's `streamSSE`. Heartbeat
 * comments keep proxies from closing an idle stream; they are timed by the injected clock. A client that
 * reads slower than events come is cut off once `maxBufferedBytes` wait for it (it reconnects), so memory
 * stays bounded.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ApiContext } from './context.js';
import type { ApiEnv } from './route.js';

export interface EventStreamOptions {
  /** `*`, `prefix.*` or an event name. */
  readonly pattern: string;
  /** Between heartbeat comments, in ms. */
  readonly heartbeatMs: number;
  /** Bytes written and not yet taken by the client before the stream is cut off. */
  readonly maxBufferedBytes: number;
}

/** Ends an open stream; resolves once its response is over. */
export type StreamCloser = () => Promise<void>;

/**
 * Streams events until the client goes or the stream is ended through `streams` (which holds it while it
 * is open).
 */
export function streamEvents(
  c: Context<ApiEnv>,
  ctx: Pick<ApiContext, 'events' | 'clock'>,
  options: EventStreamOptions,
  streams: Set<StreamCloser>,
): Response {
  const { outgoing } = c.env;
  const over = new Promise<void>((resolve) =>
    outgoing.closed ? resolve() : outgoing.once('close', () => resolve()),
  );
  c.header('x-accel-buffering', 'no');
  return streamSSE(c, async (stream) => {
    await new Promise<void>((ended) => {
      let closed = false;
      /** Bytes handed to the stream and not yet taken by the response. */
      let queued = 0;
      const write = (text: string) => {
        if (closed) return;
        const size = Buffer.byteLength(text);
        queued += size;
        void stream.write(text).then(() => (queued -= size));
        if (queued + outgoing.writableLength > options.maxBufferedBytes) {
          close();
          outgoing.destroy(); // what it has not read is dropped: the client reconnects
        }
      };
      let seq = 0;
      const off = ctx.events.on(options.pattern as '*', (event) => {
        let data: string;
        try {
          data = JSON.stringify({ name: event.name, time: event.time, payload: event.payload });
        } catch {
          return; // a payload that cannot be JSON (a cycle, a bigint) is not sent
        }
        seq += 1;
        write(`id: ${seq}\nevent: ${event.name}\ndata: ${data}\n\n`);
      });
      let timer = ctx.clock.setTimer(options.heartbeatMs, function beat() {
        write(`: heartbeat ${ctx.clock.now()}\n\n`);
        if (!closed) timer = ctx.clock.setTimer(options.heartbeatMs, beat);
      });
      const end = () => {
        close();
        return over;
      };
      function close() {
        if (closed) return;
        closed = true;
        off();
        timer.cancel();
        streams.delete(end);
        ended(); // streamSSE then closes the stream, and the response ends once it is flushed
      }
      stream.onAbort(close);
      streams.add(end);
      write(': connected\n\n');
    });
  });
}
