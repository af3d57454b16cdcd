/**
 * A TCP proxy between a store and its PostgreSQL server that can make a commit ambiguous: armed with a
 * piece of SQL, it lets the next statement containing it through to the server, holds back the server's
 * whole answer, and cuts the connection at the moment the answer is complete (its ReadyForQuery: the
 * statement — and the implicit transaction around it — has committed). Armed `atCommit`, it does that
 * to the COMMIT that ends the statement's explicit transaction instead. The client sees its connection
 * die with no answer: it cannot know whether the write happened.
 *
 * It reads just enough of the wire protocol for that: message boundaries (a type byte and a length;
 * the start-up packet has no type byte), the SQL text of Query and Parse messages from the client, and
 * the ReadyForQuery message from the server.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Arm {
  readonly sql: string;
  /** Cut after the COMMIT that ends the armed statement's transaction, not after the statement. */
  readonly atCommit: boolean;
  readonly done: () => void;
}

/** Splits a stream into protocol messages as bytes arrive. */
class Messages {
  private buffer = Buffer.alloc(0);
  /** The client's first message (and one after an SSL or GSS request) has no type byte. */
  private untyped: boolean;

  constructor(untypedFirst: boolean) {
    this.untyped = untypedFirst;
  }

  *push(chunk: Buffer): Generator<{ type: string; body: Buffer }> {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const head = this.untyped ? 4 : 5;
      if (this.buffer.length < head) return;
      const length = this.buffer.readInt32BE(head - 4);
      const size = length + head - 4;
      if (this.buffer.length < size) return;
      const body = this.buffer.subarray(head, size);
      const type = this.untyped ? '' : String.fromCharCode(this.buffer[0]!);
      if (this.untyped) {
        // SSLRequest and GSSENCRequest are answered with one byte and followed by the real start-up.
        const code = length === 8 ? body.readInt32BE(0) : 0;
        this.untyped = code === 80877103 || code === 80877104;
      }
      this.buffer = this.buffer.subarray(size);
      yield { type, body };
    }
  }
}

export class PgProxy {
  private readonly sockets = new Set<Socket>();
  private armed: Arm | undefined;
  /** Connections cut so far. */
  cuts = 0;

  private readonly server: Server;
  private readonly target: URL;

  private constructor(url: string) {
    this.target = new URL(url);
    this.server = createServer((client) =>
      this.relay(client, this.target.hostname, Number(this.target.port || 5432)),
    );
  }

  /** The proxy's port. */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Starts a proxy on a free local port in front of the server of `url`. */
  static async start(url: string): Promise<PgProxy> {
    const proxy = new PgProxy(url);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /**
   * Arms the cut: the next statement whose SQL contains `sql` commits, and its connection dies before
   * the answer reaches the client. Resolves once that has happened.
   */
  cutAfter(sql: string, options: { readonly atCommit?: boolean } = {}): Promise<void> {
    return new Promise((done) => {
      this.armed = { sql, atCommit: options.atCommit ?? false, done };
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    const fromClient = new Messages(true);
    const fromServer = new Messages(false);
    /** The armed statement was seen on this connection (and, `atCommit`, its COMMIT too). */
    let seen: Arm | undefined;
    let cutting: Arm | undefined;
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      for (const { type, body } of fromClient.push(chunk)) {
        if (cutting !== undefined || (type !== 'Q' && type !== 'P')) continue;
        const sql = body.toString('utf8');
        if (seen === undefined && this.armed !== undefined && sql.includes(this.armed.sql)) {
          seen = this.armed;
          this.armed = undefined;
          if (!seen.atCommit) cutting = seen;
        } else if (seen !== undefined && /\bCOMMIT\b/i.test(sql)) cutting = seen;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutting === undefined) {
        client.write(chunk);
        return;
      }
      // The answer to the armed statement is held back; once it is complete, the connection goes.
      for (const { type } of fromServer.push(chunk)) {
        if (type === 'Z') {
          const arm = cutting;
          cutting = undefined;
          this.cuts++;
          close();
          arm.done();
          return;
        }
      }
    });
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }
}
