import { GarrisonError } from '../errors.js';

/** Error codes the messaging layer raises. Each names what went wrong, not where. */
export const MessagingErrorCode = {
  /** The delivery's lease ended and another consumer claimed the message; this ack was refused. */
  leaseLost: 'lease_lost',
  /** No dead-lettered message has that id. */
  deadLetterNotFound: 'dead_letter_not_found',
  /** A handler declared the message unprocessable; it is dead-lettered without further attempts. */
  unprocessable: 'message_unprocessable',
  /** The consumer or bus was stopped; it takes no more work. */
  stopped: 'messaging_stopped',
  /** A recipient already has a consumer with that id on this node. */
  consumerExists: 'consumer_exists',
  /** A signal subscriber pattern is not an exact type, `prefix.*` or `*`. */
  invalidPattern: 'invalid_signal_pattern',
} as const;
export type MessagingErrorCode = (typeof MessagingErrorCode)[keyof typeof MessagingErrorCode];

export class MessagingError extends GarrisonError {
  declare readonly code: MessagingErrorCode;
  constructor(
    code: MessagingErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
  }
}

/**
 * Thrown by a message handler to say the message can never be processed (malformed, refers to
 * something that does not exist): the message goes to the dead-letter queue at once instead of being
 * retried. Any other error is treated as transient and retried with backoff.
 */
export class UnprocessableMessageError extends MessagingError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(MessagingErrorCode.unprocessable, message, options);
  }
}

export function isMessagingError(e: unknown, code?: MessagingErrorCode): e is MessagingError {
  return e instanceof MessagingError && (code === undefined || e.code === code);
}

/** What is kept of a failure in the store: enough to read it later, never the live object. */
export interface ErrorRecord {
  readonly name: string;
  readonly message: string;
  /** The `code` of a Garrison error (or any error carrying a string `code`). */
  readonly code?: string;
  readonly stack?: string;
}

/** Turns anything thrown into a plain record that survives JSON. */
export function toErrorRecord(error: unknown): ErrorRecord {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    };
  }
  return { name: 'NonError', message: typeof error === 'string' ? error : safeStringify(error) };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
