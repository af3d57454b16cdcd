/**
 * What the overload test drives: the node child (started with a small heap, its memory reports read
 * from stdout, a full collection asked for on stdin) and the HTTP enqueues, each judged as accepted,
 * refused, failed at the connection (ambiguous: the store decides) or anything else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { alive, childScript, exited, sleep } from './support.js';

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
  stderr = '';
  apiUrl = '';
  heapLimit = 0;
  heapAdmissionLimit = 0;

  private constructor(readonly process: ChildProcess) {}

  static async start(args: readonly (string | number)[]): Promise<NodeChild> {
    const script = await childScript('overload-node');
    const proc = spawn(
      process.execPath,
      [`--max-old-space-size=${HEAP_MB}`, '--expose-gc', script, ...args.map(String)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const child = new NodeChild(proc);
    proc.stderr.on('data', (chunk: Buffer) => {
      child.stderr += chunk.toString();
      process.stderr.write(`[overload-node ${proc.pid}] ${chunk.toString()}`);
    });
    const ready = new Promise<void>((resolve, reject) => {
      proc.once('exit', (code, signal) =>
        reject(new Error(`the node child exited before it was ready (${code ?? signal}): ${child.stderr}`)),
      );
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const report = JSON.parse(line) as Record<string, unknown> & MemorySample;
        const sample = {
          t: report.t,
          heapUsed: report.heapUsed,
          heapTotal: report.heapTotal,
          rss: report.rss,
        };
        if (report.e === 'mem') child.samples.push(sample);
        else if (report.e === 'gc') {
          child.collected.push(sample);
          child.waiting.shift()?.(sample);
        } else if (report.e === 'ready') {
          if (report.gc !== true) reject(new Error('the node child has no gc(): --expose-gc missing'));
          child.apiUrl = report.url as string;
          child.heapLimit = report.heapLimit as number;
          child.heapAdmissionLimit = report.heapAdmissionLimit as number;
          resolve();
        }
      });
    });
    await ready;
    return child;
  }

  /** The live heap: the child collects fully and reports what is left. */
  collect(): Promise<MemorySample> {
    const next = new Promise<MemorySample>((resolve) => this.waiting.push(resolve));
    this.process.stdin!.write('gc\n');
    return next;
  }

  /** Samples taken in [from, to) (epoch ms). */
  between(from: number, to: number): MemorySample[] {
    return this.samples.filter((s) => s.t >= from && s.t < to);
  }

  alive(): boolean {
    return alive(this.process);
  }

  /** SIGTERM, then the exit code (null when a signal ended it). */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.process.kill('SIGTERM');
    await exited(this.process);
    return { code: this.process.exitCode, signal: this.process.signalCode };
  }

  async kill(): Promise<void> {
    if (this.alive()) this.process.kill('SIGKILL');
    await exited(this.process);
  }
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
