/**
 * What the overload test drives: the node child (started with a small heap, its memory reports read
 * from stdout, a full collection asked for on stdin) and the HTTP enqueues, each judged as accepted,
 * refused, failed at the connection (ambiguous: the store decides) or anything else.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { spawnScript, type Child } from '../support/child.js';
import { childScript, sleep } from './support.js';

export interface MemorySample {
  readonly t: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly rss: number;
}

/** V8's heap limit of the child, in MiB. */
export const HEAP_MB = 256;

/** The node child of `children/overload-node.ts`, started with `--max-old-space-size=${HEAP_MB}`. */
export class NodeChild {
  readonly samples: MemorySample[] = [];
  private readonly collected: MemorySample[] = [];
  private readonly waiting: Array<(sample: MemorySample) => void> = [];
  apiUrl = '';
  heapLimit = 0;
  heapAdmissionLimit = 0;

  private constructor(private readonly child: Child) {}

  get process(): ChildProcess {
    return this.child.process;
  }

  /** Everything the child printed on stderr so far. */
  get stderr(): string {
    return this.child.stderr();
  }

  static async start(args: readonly (string | number)[]): Promise<NodeChild> {
    const script = await childScript('overload-node');
    const child = spawnScript(script, args, {
      nodeArgs: [`--max-old-space-size=${HEAP_MB}`, '--expose-gc'],
      stdin: true,
      echo: 'overload-node',
    });
    const node = new NodeChild(child);
    // The memory reports: a sample every so often, and one per full collection asked for.
    createInterface({ input: child.process.stdout! }).on('line', (line) => {
      const report = JSON.parse(line) as Record<string, unknown> & MemorySample;
      const sample = { t: report.t, heapUsed: report.heapUsed, heapTotal: report.heapTotal, rss: report.rss };
      if (report.e === 'mem') node.samples.push(sample);
      else if (report.e === 'gc') {
        node.collected.push(sample);
        node.waiting.shift()?.(sample);
      }
    });
    const ready = await child.line<Ready>('ready');
    if (ready.gc !== true) throw new Error('the node child has no gc(): --expose-gc missing');
    node.apiUrl = ready.url;
    node.heapLimit = ready.heapLimit;
    node.heapAdmissionLimit = ready.heapAdmissionLimit;
    return node;
  }

  /** The live heap: the child collects fully and reports what is left. */
  collect(): Promise<MemorySample> {
    const next = new Promise<MemorySample>((resolve) => this.waiting.push(resolve));
    this.child.process.stdin!.write('gc\n');
    return next;
  }

  /** Samples taken in [from, to) (epoch ms). */
  between(from: number, to: number): MemorySample[] {
    return this.samples.filter((s) => s.t >= from && s.t < to);
  }

  alive(): boolean {
    return this.child.running();
  }

  /** SIGTERM, then the exit code (null when a signal ended it). */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.signal('SIGTERM');
    const { code, signal } = await this.child.exited;
    return { code, signal };
  }

  async kill(): Promise<void> {
    await this.child.kill();
  }
}

/** The `ready` report: where the API listens, the heap limits, and whether `gc()` is there. */
interface Ready {
  readonly e: 'ready';
  readonly url: string;
  readonly heapLimit: number;
  readonly heapAdmissionLimit: number;
  readonly gc: boolean;
}

/** What one `POST /v1/tasks` came to. */
export type Outcome =
  | { readonly kind: 'accepted'; readonly id: number }
  | { readonly kind: 'refused'; readonly status: number; readonly code: string; readonly retryAfter?: string }
  | { readonly kind: 'connection'; readonly error: string }
  | { readonly kind: 'other'; readonly status: number; readonly body: string };

/** Requests a client may have open at once; past it a request is not sent (counted as skipped). */
export const MAX_IN_FLIGHT = 512;

/** Enqueues through the node's HTTP API, one request per task, keep-alive connections. */
export class Enqueuer {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  inFlight = 0;

  constructor(
    private readonly apiUrl: string,
    private readonly queue: string,
  ) {}

  send(key: string): Promise<Outcome> {
    const body = JSON.stringify({ queue: this.queue, payload: { key }, idempotencyKey: key });
    this.inFlight++;
    return new Promise<Outcome>((resolve) => {
      const req = request(
        `${this.apiUrl}/v1/tasks`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 60_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', (error) => resolve({ kind: 'connection', error: String(error) }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const json = parse(text);
            if (status === 201 && typeof json?.task?.id === 'number')
              resolve({ kind: 'accepted', id: json.task.id });
            else if ((status === 429 || status === 503) && typeof json?.error?.code === 'string') {
              const retryAfter = res.headers['retry-after'];
              resolve({
                kind: 'refused',
                status,
                code: json.error.code,
                ...(retryAfter === undefined ? {} : { retryAfter }),
              });
            } else resolve({ kind: 'other', status, body: text.slice(0, 300) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', (error) => resolve({ kind: 'connection', error: String(error) }));
      req.end(body);
    }).finally(() => this.inFlight--);
  }

  close(): void {
    this.agent.destroy();
  }
}

function parse(text: string): { task?: { id?: unknown }; error?: { code?: unknown } } | undefined {
  try {
    return JSON.parse(text) as { task?: { id?: unknown }; error?: { code?: unknown } };
  } catch {
    return undefined;
  }
}

/**
 * Open-loop load: `fire(i)` for i = 0, 1, … at `rate` per second for `ms`, whatever the answers — a
 * closed loop would slow down with the server and never overload it. A request due while
 * `MAX_IN_FLIGHT` are open is skipped (the client's own limit); answers how many were fired and skipped.
 */
export async function openLoop(
  rate: number,
  ms: number,
  inFlight: () => number,
  fire: (i: number) => void,
): Promise<{ fired: number; skipped: number; ms: number }> {
  const started = Date.now();
  let due = 0;
  let fired = 0;
  let skipped = 0;
  for (;;) {
    const elapsed = Date.now() - started;
    const target = Math.floor((Math.min(elapsed, ms) * rate) / 1000);
    while (due < target) {
      due++;
      if (inFlight() >= MAX_IN_FLIGHT) skipped++;
      else fire(fired++);
    }
    if (elapsed >= ms) break;
    await sleep(5);
  }
  return { fired, skipped, ms: Date.now() - started };
}

/** A positive integer number of seconds, as `Retry-After` must be. */
export function validRetryAfter(value: string | undefined): boolean {
  return value !== undefined && /^[1-9]\d*$/.test(value.trim());
}
