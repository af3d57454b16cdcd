/**
 * OpenTelemetry spans through `@opentelemetry/api` only. With no SDK registered every call here is a
 * cheap no-op; an application that registers a TracerProvider and a context manager gets real spans.
 */
import {
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Span,
  type SpanKind,
  type Tracer,
} from '@opentelemetry/api';
import { describeError } from './describe.js';

/** The instrumentation scope name Garrison's spans are created under. */
export const TRACER_NAME = 'garrison';

export interface WithSpanOptions {
  /** The tracer to use. Default `trace.getTracer('garrison')` from the global provider. */
  readonly tracer?: Tracer;
  /** The span kind. Default internal. */
  readonly kind?: SpanKind;
}

/** The tracer from the globally registered provider. */
export function getTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Runs `fn` in a new span named `name`, child of the active span. Inside `fn` (and everything it awaits)
 * the new span is the active one, so nested `withSpan` calls become its children. A throw or rejection is
 * recorded on the span as an exception with status ERROR and rethrown; a result sets status OK. The span
 * always ends.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  options: WithSpanOptions = {},
): Promise<T> {
  const tracer = options.tracer ?? getTracer();
  const parent = context.active();
  const span = tracer.startSpan(name, { attributes, kind: options.kind }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), () => fn(span));
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    span.recordException(error instanceof Error ? error : describeError(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** The active span's trace and span ids (for log correlation), or undefined outside any span. */
export function activeTraceIds(): { readonly traceId: string; readonly spanId: string } | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { traceId, spanId } : undefined;
}
