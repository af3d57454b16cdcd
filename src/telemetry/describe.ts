/** One-line descriptions of thrown values, for messages, events and spans. */

/** A short description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : error.message;
  return String(error);
}

/** The string `code` of a thrown value when it has one (every GarrisonError does). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
