/**
 * `GET /v1/events`: the telemetry event bus as server-sent events. Heartbeat comments keep proxies from
 * closing an idle stream; they are timed by the injected clock. A client that reads slower than events
 * come is cut off once `maxBufferedBytes` wait for it (it reconnects), so memory stays bounded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './context.js';

export interface EventStreamOptions {
  /** `*`, `prefix.*` or an event name. */
  readonly pattern: string;
  /** Between heartbeat comments, in ms. */
  readonly heartbeatMs: number;
  /** Bytes written and not yet taken by the client before the stream is closed. */
  readonly maxBufferedBytes: number;
}

/** Streams events until the client goes or `close` is called; answers `close`. */
export function streamEvents(
  ctx: Pick<ApiContext, 'events' | 'clock'>,
  req: IncomingMessage,
  res: ServerResponse,
  options: EventStreamOptions,
  onClose: () => void,
): () => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  let closed = false;
  const write = (text: string) => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > options.maxBufferedBytes) close();
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
  function close() {
    if (closed) return;
    closed = true;
    off();
    timer.cancel();
    res.end();
    onClose();
  }
  req.once('close', close);
  res.once('close', close);
  write(': connected\n\n');
  return close;
}
