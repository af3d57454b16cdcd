/** How supervisors and pools answer calls that can fail: the error travels as a value and is thrown by the caller's side. */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err<T = never>(error: unknown): Result<T> {
  return { ok: false, error };
}

export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw r.error;
}
