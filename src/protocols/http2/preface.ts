/**
 * The HTTP/2 client connection preface (RFC 9113 §3.4), as sent first by a client that starts
 * HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 §3.3):
 *
 *   0x505249202a20485454502f322e300d0a0d0a534d0d0a0d0a     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24 octets
 *
 * "This sequence MUST be followed by a SETTINGS frame, which MAY be empty" (RFC 9113 §3.4).
 *
 * Decision: `ok` after the 24 octets, `length` 24; the SETTINGS frame that follows is not
 * required. Why:
 * - The 24 octets alone are an exact, fixed identification: RFC 9113 §3.4 chose them so that
 *   HTTP/1.x servers and intermediaries do not process further (our HTTP/1 parser refuses the
 *   version "HTTP/2.0"), and nothing else sends them.
 * - The SETTINGS frame belongs to the framing layer (RFC 9113 §4.1, §6.5), which the HTTP/2 backend
 *   checks anyway: a connection whose next frame is not SETTINGS is still an HTTP/2 client, to
 *   be answered by the backend with a connection error (PROTOCOL_ERROR), not routed elsewhere.
 * - A client may flush the magic and its SETTINGS separately; waiting for the frame would add a
 *   round of waiting and a second way to fail without making the identification any surer.
 * - The ok answer depends only on these 24 octets, so it is the same for any later bytes.
 *
 * Every byte is compared as it arrives: the first byte that differs makes the input invalid.
 * Over TLS the preface is inside the encrypted stream (ALPN "h2" in the ClientHello is what
 * identifies it there); this parser is for cleartext connections.
 */
import { incomplete, invalid, ok, type ParseResult } from '../result.js';

export interface Http2Preface {
  /** Always 24: the preface octets (== ok.length). */
  readonly length: 24;
}

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4). */
const HTTP2_CLIENT_PREFACE: Uint8Array = Uint8Array.from(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));

const PREFACE_LENGTH = 24;

/** Parses the HTTP/2 client connection preface from all bytes received so far. */
export function parseHttp2Preface(bytes: Uint8Array): ParseResult<Http2Preface> {
  const n = Math.min(bytes.length, PREFACE_LENGTH);
  for (let k = 0; k < n; k++) {
    if (bytes[k] !== HTTP2_CLIENT_PREFACE[k]) return invalid('not the HTTP/2 client connection preface');
  }
  // Each byte can refuse it: no `needed` (facts.ts would not ask again before that length).
  if (n < PREFACE_LENGTH) return incomplete();
  return ok({ length: PREFACE_LENGTH }, PREFACE_LENGTH);
}
