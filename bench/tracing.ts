/**
 * `npm run bench -- --tracing`: the same figures with tracing on. Registers the OpenTelemetry SDK with
 * an in-memory exporter (emptied every second, so memory stays flat) behind a simple span processor:
 * every span is made, ended and handed to the exporter, which is what tracing costs before the network.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export function registerBenchTracing(): { spans(): number } {
  const exporter = new InMemorySpanExporter();
  let seen = 0;
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  setInterval(() => {
    seen += exporter.getFinishedSpans().length;
    exporter.reset();
  }, 1000).unref();
  return { spans: () => seen + exporter.getFinishedSpans().length };
}
