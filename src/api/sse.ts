/** `GET /v1/events`: the telemetry event stream as server-sent events, with keep-alive comments. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GarrisonNode } from '../node/index.js';

const KEEPALIVE_MS = 15_000;

/** Streams events matching `pattern` (`*`, `prefix.*` or a name) until the client goes; answers the closer. */
export function streamEvents(
  node: GarrisonNode,
  req: IncomingMessage,
  res: ServerResponse,
  pattern: string,
  onClose: () => void,
): () => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.write(': connected\n\n');
  let seq = 0;
  const off = node.events.on(pattern as '*', (event) => {
    seq += 1;
    res.write(`id: ${seq}\nevent: ${event.name}\ndata: ${JSON.stringify(event)}\n\n`);
  });
  let timer = node.clock.setTimer(KEEPALIVE_MS, function beat() {
    res.write(': keep-alive\n\n');
    timer = node.clock.setTimer(KEEPALIVE_MS, beat);
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    off();
    timer.cancel();
    res.end();
    onClose();
  };
  req.once('close', close);
  return close;
}
