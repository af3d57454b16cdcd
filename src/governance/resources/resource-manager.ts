/**
 * The resource manager: the node's limits, and tokens that hold a share of them. A token held for a
 * process is released when that process exits — through a runtime monitor, one per owning process, itself
 * released with the owner's last token — so a crashed holder never leaks capacity.
 *
 * Tokens count live things of this node (its processes, agents, leases, connections), which all end with
 * the node, so they are not state of value and live in memory only: a restarted node starts from zero and
 * its parts take their tokens again as they start.
 */
import { z } from 'zod';
import { ValidationError, describeIssues } from '../../errors.js';
import {
  NoProcError,
  Pid,
  systemClock,
  type Clock,
  type MonitorRef,
  type Runtime,
} from '../../runtime/index.js';
import { createDeduper, emitTo, type Deduper } from '../../telemetry/index.js';
import { ResourceExhaustedError } from '../errors.js';
import type { GovernanceEventSink } from '../events.js';
import {
  RESOURCE_KINDS,
  defaultGauges,
  parseResourceOptions,
  type Gauge,
  type ResourceKind,
  type ResourceLimits,
  type ResourceManagerOptions,
} from './limits.js';

/** A share of a resource, held until `release` (or until its owner process exits). */
export interface ResourceToken {
  /** Unique within the manager. */
  readonly id: number;
  readonly kind: ResourceKind;
  /** How much of the kind it holds (agents: 1; bytes for the memory kinds). */
  readonly amount: number;
  /** The process holding it: the token is released when that process exits. */
  readonly owner: Pid | undefined;
  /** What it is for (an agent id, a lease id…), for diagnostics. */
  readonly label: string | undefined;
  /** UNIX epoch ms. */
  readonly acquiredAt: number;
}

export interface AcquireMeta {
  /** How much to take, an integer ≥ 1. Default 1. */
  readonly amount?: number;
  /** The process the token belongs to; it is released when that process exits. Needs the runtime option. */
  readonly owner?: Pid;
  /** What the token is for, for diagnostics. */
  readonly label?: string;
}

/** One kind's usage. */
export interface ResourceUsage {
  readonly kind: ResourceKind;
  readonly limit: number;
  /** `measured + held`: what acquires and guards compare with the limit. */
  readonly current: number;
  /** The gauge's reading (0 for kinds without a gauge). */
  readonly measured: number;
  /** The amounts tokens of this kind hold. */
  readonly held: number;
  /** Tokens of this kind. */
  readonly tokens: number;
  /** `current / limit`. */
  readonly ratio: number;
  /** True while usage is at or above the alert threshold (until it falls below it less the hysteresis). */
  readonly alerting: boolean;
  /** The highest `current` seen since the manager started. */
  readonly peak: number;
}

export interface ResourceStats {
  readonly acquired: number;
  /** Tokens released by `release` or `close`. */
  readonly released: number;
  /** Tokens released because their owner process exited. */
  readonly releasedOnExit: number;
  /** Requests refused with `resource_exhausted` (acquires and guards). */
  readonly refused: number;
  /** Tokens held now. */
  readonly tokens: number;
  /** Processes holding tokens now (each with one monitor). */
  readonly owners: number;
}

export type AcquireResult =
  | { readonly ok: true; readonly token: ResourceToken }
  | { readonly ok: false; readonly error: ResourceExhaustedError };

interface KindState {
  held: number;
  tokens: number;
  peak: number;
  alerting: boolean;
  gauge: Gauge | undefined;
  /** How long a reading is reused, ms: 0 for the runtime's process count, which costs nothing to read. */
  ttlMs: number;
  measured: number;
  /** When the gauge was last read (clock ms); undefined before the first read. */
  readAt: number | undefined;
}

interface Owner {
  readonly monitor: MonitorRef;
  readonly tokens: Set<ResourceToken>;
}

const metaSchema = z.strictObject({
  amount: z.number().int().min(1).default(1),
  owner: z.instanceof(Pid).optional(),
  label: z.string().max(500).optional(),
});
const kindSchema = z.enum(RESOURCE_KINDS as [ResourceKind, ...ResourceKind[]]);

export class ResourceManager {
  /** The limits in force. */
  readonly limits: ResourceLimits;
  private readonly alertRatio: number;
  private readonly clearRatio: number;
  private readonly clock: Clock;
  private readonly runtime: Runtime | undefined;
  private readonly events: GovernanceEventSink | undefined;
  private readonly refusals: Deduper;
  private readonly kinds = new Map<ResourceKind, KindState>();
  private readonly tokens = new Map<number, ResourceToken>();
  private readonly owners = new Map<Pid, Owner>();
  private nextId = 1;
  private counters = { acquired: 0, released: 0, releasedOnExit: 0, refused: 0 };

  constructor(options: ResourceManagerOptions = {}) {
    const o = parseResourceOptions(options);
    this.limits = o.limits;
    this.alertRatio = o.alertRatio;
    this.clearRatio = Math.max(0, o.alertRatio - o.hysteresis);
    this.runtime = options.runtime;
    this.clock = options.clock ?? options.runtime?.clock ?? systemClock;
    this.events = options.events;
    this.refusals = createDeduper({ intervalMs: o.refusedEventIntervalMs, clock: this.clock });
    const defaults = defaultGauges(options.runtime);
    const gauges = { ...defaults, ...options.gauges };
    for (const kind of RESOURCE_KINDS) {
      this.kinds.set(kind, {
        held: 0,
        tokens: 0,
        peak: 0,
        alerting: false,
        gauge: gauges[kind],
        // A burst of spawns must see every spawn before it, so the free process count is never cached.
        ttlMs: kind === 'processes' && gauges[kind] === defaults[kind] ? 0 : o.gaugeTtlMs,
        measured: 0,
        readAt: undefined,
      });
    }
  }

  /**
   * Takes `amount` of `kind`. Throws `ResourceExhaustedError` (`resource_exhausted`, naming the kind, its
   * limit, current usage and the amount requested) when that would pass the limit — nothing is taken then.
   * With an `owner`, the token is released when that process exits; a dead owner is refused (`noproc`).
   */
  acquire(kind: ResourceKind, meta?: AcquireMeta): ResourceToken {
    const result = this.tryAcquire(kind, meta);
    if (!result.ok) throw result.error;
    return result.token;
  }

  /** Like `acquire`, with the refusal as a value instead of a throw. Invalid input still throws. */
  tryAcquire(kind: ResourceKind, meta?: AcquireMeta): AcquireResult {
    const k = this.kindOf(kind);
    const parsed = metaSchema.safeParse(meta ?? {});
    if (!parsed.success)
      throw new ValidationError(`invalid resource request: ${describeIssues(parsed.error.issues)}`);
    const { amount, owner, label } = parsed.data;
    if (owner !== undefined) {
      if (this.runtime === undefined)
        throw new ValidationError('a token owner needs the resource manager to be given the runtime');
      if (!this.runtime.isAlive(owner)) throw new NoProcError(owner, 'it cannot hold a resource token');
    }
    const refusal = this.check(kind, k, amount);
    if (refusal !== undefined) return { ok: false, error: refusal };

    const token: ResourceToken = Object.freeze({
      id: this.nextId++,
      kind,
      amount,
      owner,
      label,
      acquiredAt: this.clock.now(),
    });
    this.tokens.set(token.id, token);
    k.held += amount;
    k.tokens++;
    this.counters.acquired++;
    if (owner !== undefined) this.ownerOf(owner).tokens.add(token);
    this.observe(kind, k);
    return { ok: true, token };
  }

  /** Gives a token back. False when it was already released (by hand or by its owner's exit). */
  release(token: ResourceToken): boolean {
    if (!this.drop(token)) return false;
    this.counters.released++;
    return true;
  }

  /**
   * Refuses work past a limit without taking anything: throws `ResourceExhaustedError` when `amount` more
   * of `kind` would pass it. For kinds measured by a gauge (processes, memory) before creating more.
   */
  guard(kind: ResourceKind, amount = 1): void {
    const k = this.kindOf(kind);
    const parsed = z.number().int().min(0).safeParse(amount);
    if (!parsed.success)
      throw new ValidationError(`invalid guard amount: ${describeIssues(parsed.error.issues)}`);
    const refusal = this.check(kind, k, amount);
    if (refusal !== undefined) throw refusal;
  }

  /**
   * Acquires a token and runs `fn` with it. If `fn` throws, the token is released and the error rethrown;
   * if it succeeds the token stays held (by its owner process, when one is given) and `fn`'s result is
   * returned. The pattern for "register an agent only within the limit".
   */
  async withToken<T>(
    kind: ResourceKind,
    meta: AcquireMeta | undefined,
    fn: (token: ResourceToken) => Promise<T>,
  ): Promise<T> {
    const token = this.acquire(kind, meta);
    try {
      return await fn(token);
    } catch (error) {
      this.release(token);
      throw error;
    }
  }

  /** One kind's usage (its gauge read if the last reading is older than `gaugeTtlMs`); alerts are updated. */
  usage(kind: ResourceKind): ResourceUsage {
    const k = this.kindOf(kind);
    this.observe(kind, k);
    return this.snapshot(kind, k);
  }

  /** Every kind's usage, in `RESOURCE_KINDS` order. Alerts are updated. */
  usageAll(): ResourceUsage[] {
    return RESOURCE_KINDS.map((kind) => this.usage(kind));
  }

  /** The kinds alerting now (usage at or above the alert threshold). */
  alerts(): ResourceUsage[] {
    return this.usageAll().filter((u) => u.alerting);
  }

  /** The tokens a process holds. */
  tokensOf(owner: Pid): ResourceToken[] {
    return [...(this.owners.get(owner)?.tokens ?? [])];
  }

  stats(): ResourceStats {
    return { ...this.counters, tokens: this.tokens.size, owners: this.owners.size };
  }

  /** Releases every token and every owner monitor (node shutdown). */
  close(): void {
    for (const token of [...this.tokens.values()]) this.release(token);
  }

  private kindOf(kind: ResourceKind): KindState {
    const k = this.kinds.get(kind);
    if (k === undefined) {
      const parsed = kindSchema.safeParse(kind);
      throw new ValidationError(
        `unknown resource kind: ${parsed.success ? kind : describeIssues(parsed.error.issues)}`,
      );
    }
    return k;
  }

  /** The refusal for `amount` more of `kind`, or undefined when it fits (and is counted if refused). */
  private check(kind: ResourceKind, k: KindState, amount: number): ResourceExhaustedError | undefined {
    const current = this.read(k) + k.held;
    const limit = this.limits[kind];
    if (current + amount <= limit) return undefined;
    this.counters.refused++;
    const decision = this.refusals.check(kind);
    if (decision.emit)
      emitTo(this.events, 'resource.refused', {
        kind,
        current,
        limit,
        requested: amount,
        suppressed: decision.suppressed,
      });
    this.observe(kind, k);
    return new ResourceExhaustedError(kind, limit, current, amount);
  }

  /** The gauge's reading, read again when older than `gaugeTtlMs`. */
  private read(k: KindState): number {
    if (k.gauge === undefined) return 0;
    const now = this.clock.now();
    if (k.readAt !== undefined && now - k.readAt < k.ttlMs) return k.measured;
    try {
      const value = k.gauge();
      k.measured = Number.isFinite(value) && value > 0 ? value : 0;
    } catch (error) {
      // A broken gauge must not refuse or admit everything: the last good reading stands, loudly.
      process.emitWarning(`a resource gauge threw: ${String(error)}`, { type: 'GarrisonGaugeWarning' });
    }
    k.readAt = now;
    return k.measured;
  }

  /** Updates the peak and the alert state of a kind; emits alert and recovery events on crossings. */
  private observe(kind: ResourceKind, k: KindState): void {
    const current = this.read(k) + k.held;
    const limit = this.limits[kind];
    if (current > k.peak) k.peak = current;
    const ratio = current / limit;
    if (!k.alerting && ratio >= this.alertRatio) {
      k.alerting = true;
      emitTo(this.events, 'resource.alert', { kind, current, limit, ratio, threshold: this.alertRatio });
    } else if (k.alerting && ratio < this.clearRatio) {
      k.alerting = false;
      emitTo(this.events, 'resource.recovered', { kind, current, limit });
    }
  }

  private snapshot(kind: ResourceKind, k: KindState): ResourceUsage {
    const limit = this.limits[kind];
    const current = k.measured + k.held;
    return {
      kind,
      limit,
      current,
      measured: k.measured,
      held: k.held,
      tokens: k.tokens,
      ratio: current / limit,
      alerting: k.alerting,
      peak: k.peak,
    };
  }

  private ownerOf(pid: Pid): Owner {
    let owner = this.owners.get(pid);
    if (owner === undefined) {
      // `runtime` is set: checked by the caller. The DOWN callback runs synchronously as the owner exits.
      const monitor = (this.runtime as Runtime).monitor(pid, () => this.ownerExited(pid), {
        label: 'resource tokens',
      });
      owner = { monitor, tokens: new Set() };
      this.owners.set(pid, owner);
    }
    return owner;
  }

  private ownerExited(pid: Pid): void {
    const owner = this.owners.get(pid);
    if (owner === undefined) return;
    this.owners.delete(pid);
    for (const token of owner.tokens) {
      if (this.drop(token)) this.counters.releasedOnExit++;
    }
  }

  /** Forgets a token; false when it is not held. Releases its owner's monitor with the owner's last token. */
  private drop(token: ResourceToken): boolean {
    if (this.tokens.get(token.id) !== token) return false;
    this.tokens.delete(token.id);
    const k = this.kinds.get(token.kind) as KindState;
    k.held -= token.amount;
    k.tokens--;
    if (token.owner !== undefined) {
      const owner = this.owners.get(token.owner);
      if (owner !== undefined) {
        owner.tokens.delete(token);
        if (owner.tokens.size === 0) {
          this.owners.delete(token.owner);
          this.runtime?.demonitor(owner.monitor);
        }
      }
    }
    this.observe(token.kind, k);
    return true;
  }
}

/** Creates a node's resource manager. */
export function createResourceManager(options: ResourceManagerOptions = {}): ResourceManager {
  return new ResourceManager(options);
}
