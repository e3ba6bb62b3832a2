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

export function invalid<T = never>(reason: string): Extract<ParseResult<T>, { readonly kind: 'invalid' }> {
  return { kind: 'invalid', reason };
}
