/**
 * Trace context that outlives a process: the W3C `traceparent` / `tracestate` of the span that created a
 * run, a task or a message is stored with its row, and whichever node executes the row later (after a
 * failover or a `kill -9` too) restores it as the parent of its own spans, so one trace holds the story.
 *
 * The store format is W3C whatever propagator an application registers globally (rows written by one
 * node are read by another), so the codec here is a fixed W3C TraceContext propagator, not the global
 * one. With no SDK registered `tracingEnabled()` is false and every function here returns at once
 * without allocating.
 */
import {
  ProxyTracerProvider,
  ROOT_CONTEXT,
  TraceFlags,
  context,
  createTraceState,
  isSpanContextValid,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';

/** A stored trace context: the W3C headers as they travel (null when absent). */
export interface TraceCarrier {
  readonly traceparent: string | null;
  readonly tracestate: string | null;
}

const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
/** Where the API (major version 1) keeps what is registered globally (`trace` is the provider). */
const GLOBAL_API = Symbol.for('opentelemetry.js.api.1');

/**
 * True when a TracerProvider other than the no-op one is registered globally. Off, one symbol lookup and
 * a property read (`trace.getTracerProvider()` checks the API version on every call,
 * a few hundred ns): cheap enough for every task, so that the disabled path neither allocates nor builds
 * attributes, and an SDK registered after the node started is still picked up.
 */
export function tracingEnabled(): boolean {
  const provider = (globalThis as { [GLOBAL_API]?: { trace?: unknown } })[GLOBAL_API]?.trace;
  // Nothing registered: the API's own proxy, whose delegate is set only by registering one.
  if (provider === undefined) return false;
  const effective = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return effective !== NOOP_PROVIDER;
}

const VERSION = '00';
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;
/** Longest stored header (W3C allows tracestate up to 32 members of 256 characters; we keep 512). */
const MAX_TRACESTATE = 512;

/** The active span's context as a carrier, or undefined (tracing off, or no valid span is active). */
export function captureTraceContext(ctx?: Context): TraceCarrier | undefined {
  if (!tracingEnabled()) return undefined;
  const span = trace.getSpan(ctx ?? context.active());
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return undefined;
  const flags = `0${(sc.traceFlags & 0xff).toString(16)}`.slice(-2);
  const state = sc.traceState?.serialize();
  return {
    traceparent: `${VERSION}-${sc.traceId}-${sc.spanId}-${flags}`,
    tracestate: state === undefined || state === '' ? null : state.slice(0, MAX_TRACESTATE),
  };
}

/**
 * The context a stored carrier stands for (a remote parent), or undefined when tracing is off or the
 * carrier is absent or malformed (a bad stored value starts a new trace; it never fails the work).
 */
export function restoreTraceContext(
  traceparent: string | null | undefined,
  tracestate?: string | null,
): Context | undefined {
  if (traceparent === null || traceparent === undefined || !tracingEnabled()) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null || m[1] === 'ff' || (m[1] === VERSION && m[5] !== undefined)) return undefined;
  const sc = {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: parseInt(m[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  };
  if (!isSpanContextValid(sc)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, sc);
}

/**
 * The W3C TraceContext propagator over the codec above, for HTTP headers (`traceparent`, `tracestate`):
 * what the API extracts from a request, whatever global propagator is registered.
 */
export const w3cPropagator: TextMapPropagator = {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const c = captureTraceContext(ctx);
    if (c === undefined || c.traceparent === null) return;
    setter.set(carrier, 'traceparent', c.traceparent);
    if (c.tracestate !== null) setter.set(carrier, 'tracestate', c.tracestate);
  },
  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const one = (key: string) => {
      const v = getter.get(carrier, key);
      return Array.isArray(v) ? v.join(',') : v;
    };
    const restored = restoreTraceContext(one('traceparent'), one('tracestate'));
    const sc = restored === undefined ? undefined : trace.getSpanContext(restored);
    return sc === undefined ? ctx : trace.setSpanContext(ctx, sc);
  },
  fields: () => ['traceparent', 'tracestate'],
};
