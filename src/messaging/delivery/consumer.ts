/**
 * A consumer of one recipient's mailbox. It claims due messages under a lease, runs the handler and the
 * ack in one store transaction, and records failures for redelivery with backoff. It never polls: a
 * send wakes it through store.notify, and one clock timer per consumer covers the next delayed or
 * retried message (and a slow safety recheck).
 */
import type { Clock, TimerHandle } from '../../runtime/index.js';
import type { Store, Unsubscribe } from '../../store/index.js';
import { describeIssues } from '../../errors.js';
import { Attr, SpanKind, SpanName, traceStored } from '../../telemetry/index.js';
import {
  MessagingError,
  MessagingErrorCode,
  UnprocessableMessageError,
  toErrorRecord,
  type ErrorRecord,
} from '../errors.js';
import type { Listeners } from '../listeners.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import {
  ackMessage,
  claimMessages,
  failMessage,
  nextDueAt,
  releaseMessage,
  type ClaimedMessage,
} from './message-sql.js';
import type {
  ConsumerOptions,
  DeliveredMessage,
  DeliveryEvents,
  DeliveryStats,
  MessageHandler,
} from './types.js';

/** What a consumer needs from the service that started it. */
export interface ConsumerContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: () => number;
  /** The notify channel sends are announced on; the payload is the recipient. */
  readonly channel: string;
  readonly events: Listeners<DeliveryEvents>;
  readonly count: (name: keyof DeliveryStats, by?: number) => void;
  readonly reportError: (event: DeliveryEvents['error']) => void;
}

export interface ConsumerSettings<T> {
  readonly recipient: string;
  readonly consumerId: string;
  readonly handler: MessageHandler<T>;
  readonly options: ConsumerOptions<T>;
}

/** How soon to look again at a due message another node's claim has locked, in ms. */
const CONTENDED_RETRY_MS = 25;

export class Consumer<T = unknown> {
  readonly recipient: string;
  readonly id: string;
  private readonly handler: MessageHandler<T>;
  private readonly visibilityMs: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly backoff: BackoffPolicy;
  private readonly recheckMs: number;
  private readonly errorRetryMs: number;
  private readonly schema: ConsumerOptions<T>['schema'];
  private running = false;
  private unlisten: Unsubscribe | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private pumping: Promise<void> | undefined;
  private again = false;
  /** Claimed messages not yet handed to the handler, in mailbox order. */
  private readonly buffer: ClaimedMessage[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;
  /** Set when the last look found a due message it could not claim. */
  private lookedAgain = false;

  constructor(
    private readonly ctx: ConsumerContext,
    settings: ConsumerSettings<T>,
  ) {
    const o = settings.options;
    this.recipient = settings.recipient;
    this.id = settings.consumerId;
    this.handler = settings.handler;
    this.visibilityMs = o.visibilityMs ?? 30_000;
    this.concurrency = o.concurrency ?? 1;
    this.batchSize = o.batchSize ?? this.concurrency;
    this.backoff = o.backoff ?? {};
    this.recheckMs = o.recheckMs ?? 60_000;
    this.errorRetryMs = o.errorRetryMs ?? 1000;
    this.schema = o.schema;
  }

  /** True from `start` until `stop` is called. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Messages this consumer is handling right now. */
  get handling(): number {
    return this.inFlight.size;
  }

  /** Listens for wake-ups and looks at the mailbox once. */
  async start(): Promise<void> {
    if (this.running || this.stopping !== undefined) return;
    this.running = true;
    this.unlisten = await this.ctx.store.listen(this.ctx.channel, (payload) => {
      if (payload === this.recipient) this.poke();
    });
    this.poke();
  }

  /** Asks the consumer to look at its mailbox now (what a wake-up does). */
  poke(): void {
    if (!this.running) return;
    if (this.pumping !== undefined) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((error: unknown) => {
        this.ctx.reportError({ recipient: this.recipient, consumerId: this.id, during: 'claim', error });
      })
      .finally(() => {
        this.pumping = undefined;
        // A wake-up that arrived after the last look but before this point must not be lost.
        if (this.again) this.poke();
      });
  }

  /**
   * Stops claiming, waits for the handlers in progress to finish, and gives back messages claimed but
   * not yet handled (they are due again at once, their attempt not counted).
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
    await this.pumping;
    await Promise.allSettled([...this.inFlight]);
    const unhandled = this.buffer.splice(0);
    for (const m of unhandled) {
      try {
        await this.ctx.store.write((tx) => releaseMessage(tx, m.id, m.fence, this.ctx.clock.now()));
      } catch (error) {
        // The lease will run out and the message be claimed again; only the attempt count suffers.
        this.ctx.reportError({ recipient: this.recipient, consumerId: this.id, during: 'release', error });
      }
    }
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      while (this.running && this.inFlight.size < this.concurrency) {
        let next = this.buffer.shift();
        if (next === undefined) {
          const claimed = await this.claim();
          if (claimed === undefined) return; // the claim failed; a retry timer is armed
          if (claimed.length === 0) {
            await this.armForNextDue();
            break;
          }
          this.lookedAgain = false;
          this.buffer.push(...claimed);
          if (!this.running) return; // stop() gives the buffer back
          next = this.buffer.shift();
          if (next === undefined) break;
        }
        this.begin(next);
      }
    } while (this.again && this.running);
  }

  private async claim(): Promise<ClaimedMessage[] | undefined> {
    const now = this.ctx.clock.now();
    try {
      const result = await this.ctx.store.write((tx) =>
        claimMessages(tx, {
          recipient: this.recipient,
          now,
          leaseUntil: now + this.visibilityMs,
          owner: this.id,
          limit: this.batchSize,
        }),
      );
      for (const e of result.expired) {
        this.ctx.count('deadLettered');
        this.ctx.events.emit('dead_lettered', {
          id: e.id,
          recipient: this.recipient,
          attempts: e.attempts,
          error: e.error,
          consumerId: this.id,
        });
      }
      for (const m of result.claimed) {
        if (m.attempts > 1) {
          this.ctx.count('redelivered');
          this.ctx.events.emit('redelivered', {
            id: m.id,
            recipient: this.recipient,
            attempt: m.attempts,
            consumerId: this.id,
          });
        }
      }
      // Expired letters were not claimed; look again at once in case more are due behind them.
      if (result.claimed.length === 0 && result.expired.length > 0) this.again = true;
      return result.claimed;
    } catch (error) {
      this.ctx.reportError({ recipient: this.recipient, consumerId: this.id, during: 'claim', error });
      this.armAt(this.ctx.clock.now() + this.errorRetryMs);
      return undefined;
    }
  }

  private begin(message: ClaimedMessage): void {
    const run = this.handle(message).finally(() => {
      this.inFlight.delete(run);
      this.poke();
    });
    this.inFlight.add(run);
  }

  private async handle(m: ClaimedMessage): Promise<void> {
    const leaseLost = new MessagingError(
      MessagingErrorCode.leaseLost,
      `message ${m.id} for "${this.recipient}" was claimed by another consumer after this consumer's lease ran out; the handler's transaction was rolled back`,
    );
    try {
      const body = this.parseBody(m);
      const delivered: DeliveredMessage<T> = {
        id: m.id,
        recipient: m.recipient,
        sender: m.sender,
        body,
        attempt: m.attempts,
        maxAttempts: m.maxAttempts,
        redelivered: m.attempts > 1,
        lastError: m.lastError,
        idempotencyKey: m.idempotencyKey,
        sentAt: m.createdAt,
      };
      await traceStored(
        SpanName.message,
        m.traceparent,
        m.tracestate,
        () => ({
          'messaging.system': 'garrison',
          'messaging.operation.type': 'process',
          'messaging.destination.name': m.recipient,
          'messaging.message.id': String(m.id),
          [Attr.attempt]: m.attempts,
        }),
        () =>
          this.ctx.store.transaction(async (tx) => {
            await this.handler(delivered, tx);
            if (!(await ackMessage(tx, m.id, m.fence))) throw leaseLost;
          }),
        SpanKind.CONSUMER,
      );
    } catch (error) {
      if (error === leaseLost) {
        this.ctx.count('leaseLost');
        this.ctx.events.emit('lease_lost', {
          id: m.id,
          recipient: this.recipient,
          attempt: m.attempts,
          consumerId: this.id,
        });
        return;
      }
      await this.fail(m, error);
      return;
    }
    this.ctx.count('delivered');
    this.ctx.events.emit('delivered', {
      id: m.id,
      recipient: this.recipient,
      attempt: m.attempts,
      consumerId: this.id,
    });
  }

  private parseBody(m: ClaimedMessage): T {
    if (this.schema === undefined) return m.body as T;
    const parsed = this.schema.safeParse(m.body);
    if (!parsed.success) {
      throw new UnprocessableMessageError(
        `message ${m.id} for "${this.recipient}" does not match the consumer's schema: ${describeIssues(parsed.error.issues)}`,
        { cause: parsed.error },
      );
    }
    return parsed.data;
  }

  private async fail(m: ClaimedMessage, cause: unknown): Promise<void> {
    const error: ErrorRecord = toErrorRecord(cause);
    const dead = cause instanceof UnprocessableMessageError || m.attempts >= m.maxAttempts;
    const now = this.ctx.clock.now();
    const retryAt = now + backoffDelay(this.backoff, m.attempts, this.ctx.random);
    let recorded: boolean;
    try {
      recorded = await this.ctx.store.write((tx) =>
        failMessage(tx, { id: m.id, fence: m.fence, now, retryAt, error, dead }),
      );
    } catch (storeError) {
      // The failure could not be recorded: the lease runs out and the message is claimed again.
      this.ctx.count('errors');
      this.ctx.reportError({
        recipient: this.recipient,
        consumerId: this.id,
        during: 'fail',
        error: storeError,
      });
      return;
    }
    if (!recorded) {
      this.ctx.count('leaseLost');
      this.ctx.events.emit('lease_lost', {
        id: m.id,
        recipient: this.recipient,
        attempt: m.attempts,
        consumerId: this.id,
      });
      return;
    }
    this.ctx.count('failed');
    this.ctx.events.emit('failed', {
      id: m.id,
      recipient: this.recipient,
      attempt: m.attempts,
      error,
      retryAt: dead ? null : retryAt,
      consumerId: this.id,
    });
    if (dead) {
      this.ctx.count('deadLettered');
      this.ctx.events.emit('dead_lettered', {
        id: m.id,
        recipient: this.recipient,
        attempts: m.attempts,
        error,
        consumerId: this.id,
      });
    } else this.armAt(retryAt);
  }

  /** Arms the one timer for the earliest pending message (or the safety recheck). */
  private async armForNextDue(): Promise<void> {
    let at: number | null;
    try {
      at = await nextDueAt(this.ctx.store, this.recipient);
    } catch (error) {
      this.ctx.reportError({ recipient: this.recipient, consumerId: this.id, during: 'claim', error });
      at = this.ctx.clock.now() + this.errorRetryMs;
    }
    const now = this.ctx.clock.now();
    if (at !== null && at <= now) {
      // Due but not claimable: it became due while we looked (look again now), or another node's claim
      // holds its row lock (look again shortly, rather than spin, once that claim has committed).
      if (!this.lookedAgain) {
        this.lookedAgain = true;
        this.again = true;
      } else this.armAt(now + CONTENDED_RETRY_MS);
    } else {
      this.lookedAgain = false;
      this.armAt(at ?? Infinity);
    }
  }

  private armAt(at: number): void {
    if (!this.running) return;
    const now = this.ctx.clock.now();
    const target = this.recheckMs > 0 ? Math.min(at, now + this.recheckMs) : at;
    if (target === Infinity) return;
    if (this.timer !== undefined && this.timerAt <= target && this.timerAt > now) return;
    this.timer?.cancel();
    this.timerAt = target;
    this.timer = this.ctx.clock.setTimer(target - now, () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.poke();
    });
  }
}
