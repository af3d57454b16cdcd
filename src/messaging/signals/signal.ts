/**
 * Signals are CloudEvents 1.0-shaped: `specversion`, `id`, `type`, `source`, `time`, optional `subject`
 * and `datacontenttype`, and `data`. Types are dot-separated segments (`error.db.timeout`).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeIssues, ValidationError } from '../../errors.js';

/** One segment of a signal type: letters, digits, `_` and `-`. */
const SEGMENT = '[A-Za-z0-9_-]+';
export const signalTypePattern = new RegExp(`^${SEGMENT}(\\.${SEGMENT})*$`);

export const signalSchema = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().min(1).max(200),
    type: z
      .string()
      .max(200)
      .regex(signalTypePattern, 'a signal type is dot-separated segments of [A-Za-z0-9_-]'),
    source: z.string().min(1).max(500),
    time: z.iso.datetime({ offset: true }),
    subject: z.string().min(1).max(500).optional(),
    datacontenttype: z.string().min(1).max(200).optional(),
    data: z.json().optional(),
  })
  .strict();

/** A CloudEvents 1.0-shaped signal. */
export interface Signal<D = unknown> {
  readonly specversion: '1.0';
  /** Unique per source. */
  readonly id: string;
  /** What happened, as dot-separated segments (`agent.started`, `error.db.timeout`). */
  readonly type: string;
  /** Who emitted it (a URI reference such as `garrison://node-1/agent/7`). */
  readonly source: string;
  /** When it happened, RFC 3339. */
  readonly time: string;
  /** What it is about, within the source. */
  readonly subject?: string;
  readonly datacontenttype?: string;
  /** The payload; JSON. */
  readonly data?: D;
}

/** What a publisher gives: `type` at least; the bus fills `specversion`, `id`, `time` and `source`. */
export interface SignalInput<D = unknown> {
  readonly type: string;
  readonly data?: D;
  readonly subject?: string;
  /** Default: the bus's source. */
  readonly source?: string;
  /** Default: a random UUID. */
  readonly id?: string;
  /** RFC 3339. Default: the bus clock's now. */
  readonly time?: string;
  readonly datacontenttype?: string;
}

/** Completes and validates a signal; throws `invalid_input` naming each bad field. */
export function buildSignal(input: SignalInput, defaults: { source: string; now: number }): Signal {
  if (typeof input !== 'object' || input === null)
    throw new ValidationError('invalid signal: an object is required');
  const candidate = {
    specversion: '1.0',
    id: input.id ?? randomUUID(),
    source: input.source ?? defaults.source,
    time: input.time ?? new Date(defaults.now).toISOString(),
    ...stripUndefined({
      type: input.type,
      subject: input.subject,
      datacontenttype: input.datacontenttype,
      data: input.data,
    }),
  };
  const parsed = signalSchema.safeParse(candidate);
  if (!parsed.success) throw new ValidationError(`invalid signal: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
