/**
 * Structured logging through a small interface: a message plus a fields object, and child loggers that add
 * bindings. Code takes a `Logger`; the CLI and server pass the pino-backed one, tests the no-op one.
 */
import pino, { type DestinationStream, type Level } from 'pino';
import { activeTraceIds } from './spans.js';

/** Key/value context for one log line. Errors are best put under `err`. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

/** Discards everything. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};

/** The levels a Garrison logger writes, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface PinoLoggerOptions {
  /** The lowest level written. Default `info`. */
  readonly level?: LogLevel;
  /** Added to every line as `name`. Default none. */
  readonly name?: string;
  /** Bindings added to every line (e.g. `{ node: 'n1' }`). Default none (no pid or hostname either). */
  readonly base?: LogFields;
  /** Where lines go. Default standard output. */
  readonly destination?: DestinationStream;
}

function wrap(logger: pino.Logger): Logger {
  const at = (level: Level) => (message: string, fields?: LogFields) => {
    if (fields === undefined) logger[level](message);
    else logger[level](fields, message);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(logger.child(bindings)),
  };
}

const NO_FIELDS = Object.freeze({});

/**
 * `trace_id` and `span_id` of the span active where the line is written (the OTel log data model's
 * names), so a log line joins its trace; nothing (and no allocation) outside any span.
 */
function traceFields(): object {
  const ids = activeTraceIds();
  return ids === undefined ? NO_FIELDS : { trace_id: ids.traceId, span_id: ids.spanId };
}

/** A pino logger: one JSON object per line, with `level`, `time` (UNIX epoch ms), `msg` and the fields. */
export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  // pino puts `name` into its base bindings; with no pid/hostname wanted, the base is built here.
  const base = { ...options.base, ...(options.name === undefined ? {} : { name: options.name }) };
  const config: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: Object.keys(base).length === 0 ? null : base,
    serializers: { err: pino.stdSerializers.err },
    mixin: traceFields,
    // pino merges a line's fields into the mixin's object; the shared empty one is left alone.
    mixinMergeStrategy: (fields: object, mixed: object) =>
      mixed === NO_FIELDS ? fields : Object.assign(mixed, fields),
  };
  return wrap(options.destination === undefined ? pino(config) : pino(config, options.destination));
}
