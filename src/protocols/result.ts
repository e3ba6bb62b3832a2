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

/**
 * The outcome of a parser that takes one whole UDP datagram (dns.ts, wireguard.ts, parseOpenVpnUdp in
 * openvpn.ts). A datagram arrives whole or not at all and the next datagram is a separate message, so
 * "wait for more bytes" means nothing: these parsers never answer incomplete. A datagram shorter than what
 * its own bytes announce is invalid with a reason that starts with "truncated", and an ok's `length` is
 * always the datagram's length (bytes after the message are invalid, not left for a next message).
 * A DatagramParseResult<T> is a ParseResult<T>, so every generic consumer of ParseResult still works.
 */
export type DatagramParseResult<T> = Exclude<ParseResult<T>, { readonly kind: 'incomplete' }>;

export function ok<T>(value: T, length: number): Extract<ParseResult<T>, { readonly kind: 'ok' }> {
  return { kind: 'ok', value, length };
}

const INCOMPLETE: ParseResult<never> = Object.freeze({ kind: 'incomplete' }) as ParseResult<never>;

/** `needed` is the total number of bytes the parser wants to see, when it knows. */
export function incomplete<T = never>(needed?: number): ParseResult<T> {
  return needed === undefined ? INCOMPLETE : { kind: 'incomplete', needed };
}

/**
 * An incomplete answer that also says where to carry on: `resume` is the parser's state after every
 * byte it has judged. A resumable parser handed that state back with a longer input that starts
 * with the same bytes (and the same options) reads only what it has not read yet, and answers
 * exactly what it would have answered parsing from byte 0 — so re-asking it on every segment costs
 * the new bytes, not the whole buffer (src/inspect/facts.ts). The state is an immutable value the
 * caller does not look into. Public parse functions return `settled(...)` answers (no state).
 */
export interface Suspended<S> {
  readonly kind: 'incomplete';
  readonly needed?: number;
  readonly resume: S;
}

export function suspend<S>(resume: S, needed?: number): Suspended<S> {
  return needed === undefined ? { kind: 'incomplete', resume } : { kind: 'incomplete', needed, resume };
}

/** A resumable parser's answer without its state: what its public parse function returns. */
export function settled<T>(r: ParseResult<T>): ParseResult<T> {
  return r.kind === 'incomplete' && 'resume' in r ? incomplete(r.needed) : r;
}

/** The state to carry on from, when the answer has one. */
export function resumeOf(r: ParseResult<unknown> | undefined): unknown {
  return r !== undefined && r.kind === 'incomplete' && 'resume' in r ? (r as Suspended<unknown>).resume : undefined;
}

export function invalid<T = never>(reason: string): Extract<ParseResult<T>, { readonly kind: 'invalid' }> {
  return { kind: 'invalid', reason };
}
