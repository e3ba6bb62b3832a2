/**
 * Every protocol portplex recognises by the client's first bytes: the parser that decides it on
 * TCP and on UDP, and what its answer must say for each `protocol:` value. Built from the one
 * static list of protocols (src/protocols/index.ts): nothing registers itself.
 */
import { PROTOCOL_MODULES, type ParserKey, type Protocol } from './index.js';
import type { DatagramParser, ProtocolModule, StreamParser } from './module.js';

export type { ParserKey } from './index.js';
export type { DatagramParser, StreamParser } from './module.js';

/** The common view of a list entry; each folder's own types are kept by the list's tuple type. */
type Row = ProtocolModule<ParserKey, unknown, Protocol, never>;
const ROWS = PROTOCOL_MODULES as readonly Row[];

/** TCP: the first bytes of the stream. */
export const PARSERS: { readonly [K in ParserKey]?: StreamParser } = Object.fromEntries(ROWS.flatMap((m) => (m.tcp ? [[m.key, m.tcp]] : [])));

/**
 * UDP: the first datagram(s) of a flow. `tls` is the ClientHello inside QUIC Initial packets (so
 * every tls condition works on HTTP/3); the others judge the first datagram alone.
 */
export const DATAGRAM_PARSERS: { readonly [K in ParserKey]?: DatagramParser } = Object.fromEntries(ROWS.flatMap((m) => (m.udp ? [[m.key, m.udp]] : [])));

/** On UDP, a parser key that reads another's answer (`quic` reads the ClientHello the tls conditions read, parsed once). */
export const DATAGRAM_ALIASES: { readonly [K in ParserKey]?: ParserKey } = Object.fromEntries(ROWS.flatMap((m) => (m.udpReads ? [[m.key, m.udpReads]] : [])));

/** Which parser decides a `protocol:` value, and what its answer must say. */
export const PROTOCOL_TABLE: { readonly [P in Protocol]: { readonly parser: ParserKey; readonly accepts?: (value: unknown) => boolean } } = Object.fromEntries(
  ROWS.flatMap((m) => Object.entries<((v: unknown) => boolean) | null>(m.names).map(([name, accepts]) => [name, accepts === null ? { parser: m.key } : { parser: m.key, accepts }])),
) as { readonly [P in Protocol]: { readonly parser: ParserKey; readonly accepts?: (value: unknown) => boolean } };
