/**
 * Bounded admission, the first middleware of the app: past `max` requests in flight a request is refused
 * with 503 and Retry-After before anything of it is read or done. An admitted request counts until its
 * reply is written (or its client is gone); an event stream stops counting once it is open, since
 * `maxEventStreams` bounds streams. `close` waits on `drained`.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';
import type { ApiEnv } from './route.js';

export interface Admission {
  readonly middleware: MiddlewareHandler<ApiEnv>;
  /** Requests admitted and not yet answered. */
  readonly inFlight: number;
  /** Resolves once no request is in flight. */
  drained(): Promise<void>;
}

export function createAdmission(max: number): Admission {
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  const overloaded = () =>
    new ApiError(503, 'overloaded', 'too many requests in flight', undefined, { 'retry-after': '1' });
  return {
    async middleware(c, next) {
      if (inFlight >= max) throw overloaded();
      inFlight += 1;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        inFlight -= 1;
        if (inFlight === 0) for (const resolve of waiting.splice(0)) resolve();
      };
      let stream = false;
      try {
        await next(); // a handler runs to its end even if its client goes: nothing here aborts it
        stream = c.res.headers.get('content-type') === 'text/event-stream';
      } finally {
        const { outgoing } = c.env;
        if (stream || outgoing.destroyed) release();
        else outgoing.once('close', release); // after the reply is written, or the connection is gone
      }
    },
    get inFlight() {
      return inFlight;
    },
    drained: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => waiting.push(resolve))),
  };
}
