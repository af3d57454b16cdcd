/** Telemetry: typed events, Prometheus metrics, OpenTelemetry spans, structured logs and sampling. */
export type {
  BreakerStateName,
  BreakerTransitionReasonName,
  CacheEvictionReason,
  CacheMissReason,
  CircuitOpenReason,
  GarrisonEvents,
  ProcessExitKind,
  ResilienceEvents,
  RetryGiveUpReason,
  SystemEvents,
  TelemetryEvents,
} from './events.js';
export { emitTo, type EventSink } from './sink.js';
export { describeError, errorCode } from './describe.js';
export {
  createEventBus,
  type BusEvent,
  type EventBus,
  type EventBusOptions,
  type EventBusStats,
  type EventHandler,
  type EventPattern,
  type MatchingNames,
} from './event-bus.js';
export {
  DEPTH_BUCKETS,
  DURATION_BUCKETS_SECONDS,
  createMetrics,
  type Metrics,
  type MetricsOptions,
} from './metrics.js';
export { bindMetricsToBus, trackBreakers, type BreakerStateSource } from './bind-metrics.js';
export { TRACER_NAME, activeTraceIds, getTracer, withSpan, type WithSpanOptions } from './spans.js';
export {
  captureTraceContext,
  restoreTraceContext,
  tracingEnabled,
  w3cPropagator,
  type TraceCarrier,
} from './trace-context.js';
export { SpanKind } from '@opentelemetry/api';
export {
  Attr,
  SpanName,
  beginRunStart,
  currentCarrier,
  traceRunExecution,
  traceStored,
  traceWait,
  traceAction,
  traceStep,
  traceTask,
  traceWork,
  withIncomingTrace,
  withStoredContext,
  type TracedRun,
  type TracedTask,
} from './work-spans.js';
export {
  WORK_BUCKETS_SECONDS,
  bindWorkMetrics,
  recordStep,
  recordTaskRun,
  recordTaskStart,
  workMetricsBound,
} from './work-meter.js';
export {
  createPinoLogger,
  noopLogger,
  type LogFields,
  type LogLevel,
  type Logger,
  type PinoLoggerOptions,
} from './logger.js';
export {
  alwaysSample,
  neverSample,
  perSecondSampler,
  ratioSampler,
  type RandomSource,
  type Sampler,
} from './sampling.js';
export { createDeduper, type DedupeDecision, type Deduper, type DeduperOptions } from './dedupe.js';
export {
  bindRuntimeMetrics,
  emitMailboxDepths,
  exitKind,
  runtimeEventsToBus,
  type RuntimeBusEvents,
  type RuntimeTelemetryEvents,
} from './runtime-events.js';
export { checkOtlpUrl, registerOtlpTracing, type OtlpTracing, type OtlpTracingOptions } from './otlp.js';
