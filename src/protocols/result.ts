/**
 * The outcome of every parser in src/protocols.
 *
 * Parsers are pure functions over a read-only byte view: they never throw on input,
 * bound-check every read, and never keep a reference to the caller's buffer beyond
 * what they return.
 */
export type ParseResult<T> =
  | { readonly kind: 'ok'; readonly value: T; readonly length: number }
  | { readonly kind: 'incomplete'; readonly needed?: number }
  | { readonly kind: 'invalid'; readonly reason: string };

export function ok<T>(value: T, length: number): ParseResult<T> {
  return { kind: 'ok', value, length };
}

const INCOMPLETE: ParseResult<never> = Object.freeze({ kind: 'incomplete' }) as ParseResult<never>;

/** `needed` is the total number of bytes the parser wants to see, when it knows. */
export function incomplete<T = never>(needed?: number): ParseResult<T> {
  return needed === undefined ? INCOMPLETE : { kind: 'incomplete', needed };
}

export function invalid<T = never>(reason: string): ParseResult<T> {
  return { kind: 'invalid', reason };
}
