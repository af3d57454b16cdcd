/**
 * Registering the OpenTelemetry SDK for `--otlp <url>`: a Node tracer provider (AsyncLocalStorage
 * context, W3C propagator) whose spans go to an OTLP/HTTP endpoint. The SDK packages are optional
 * dependencies, loaded here by dynamic import only when asked for: a node without `--otlp` loads none of
 * them and its spans cost one check each (`tracingEnabled()`).
 */
import { context, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { z } from 'zod';
import { GarrisonError } from '../errors.js';

export interface OtlpTracingOptions {
  /** The OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces` (the path is used as given). */
  readonly url: string;
  /** `service.name` of the resource. Default `garrison`. */
  readonly serviceName?: string;
  /** The node's id: `service.instance.id` and `garrison.node` of the resource. Default none. */
  readonly nodeName?: string;
  /** Export each span as it ends instead of in batches (tests, short processes). Default false. */
  readonly simple?: boolean;
}

/** What `registerOtlpTracing` set up; `shutdown` flushes the spans not yet sent and unregisters. */
export interface OtlpTracing {
  /** Sends every ended span not yet sent. */
  flush(): Promise<void>;
  /** Flushes, stops the exporter and unregisters the global provider, propagator and context manager. */
  shutdown(): Promise<void>;
}

const urlSchema = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'an http:// or https:// URL');

/** Checks an `--otlp` value: an http(s) URL. Throws `invalid_input`. */
export function checkOtlpUrl(url: unknown): string {
  const parsed = urlSchema.safeParse(url);
  if (!parsed.success)
    throw new GarrisonError('invalid_input', `--otlp needs an http:// or https:// URL, got ${String(url)}`);
  return parsed.data;
}

async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new GarrisonError(
      'invalid_input',
      `--otlp needs the optional package ${name} (npm install ${name}); it could not be loaded`,
      { cause: error },
    );
  }
}

/**
 * Registers the SDK globally and exports spans to `options.url`. Throws `invalid_input` for a bad URL,
 * or when the optional SDK packages are not installed.
 */
export async function registerOtlpTracing(options: OtlpTracingOptions): Promise<OtlpTracing> {
  const url = checkOtlpUrl(options.url);
  const [node, base, exporterMod, resources, core] = await Promise.all([
    load<typeof import('@opentelemetry/sdk-trace-node')>('@opentelemetry/sdk-trace-node'),
    load<typeof import('@opentelemetry/sdk-trace-base')>('@opentelemetry/sdk-trace-base'),
    load<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http'),
    load<typeof import('@opentelemetry/resources')>('@opentelemetry/resources'),
    load<typeof import('@opentelemetry/core')>('@opentelemetry/core'),
  ]);
  const exporter = new exporterMod.OTLPTraceExporter({ url });
  const processor = options.simple
    ? new base.SimpleSpanProcessor(exporter)
    : new base.BatchSpanProcessor(exporter);
  const provider = new node.NodeTracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': options.serviceName ?? 'garrison',
      ...(options.nodeName === undefined
        ? {}
        : { 'service.instance.id': options.nodeName, 'garrison.node': options.nodeName }),
    }),
    spanProcessors: [processor],
  });
  const propagator: TextMapPropagator = new core.W3CTraceContextPropagator();
  provider.register({ propagator });
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
