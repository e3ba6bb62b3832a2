/**
 * The client fields of a close line, read off the parsed first message: each protocol's folder
 * says which fields it captures (src/protocols/<name>/index.ts), in the order of the protocol
 * list; this module only hands them the escaping the log needs.
 */
import type { ParsedValue, ParserKey } from '../protocols/index.js';
import { capturedFields } from '../protocols/registry.js';
import { tlsVersionName, type ClientHello } from '../protocols/tls/client-hello.js';
import { escapeClientText } from './escape.js';
import type { ClientFields, HelloFacts } from './close-line.js';

/** The parsed facts of a connection, as far as the close line reads them (inspect/facts.ts's Facts is one). */
export interface KnownFacts {
  known<K extends ParserKey>(key: K): ParsedValue<K> | undefined;
}

export function helloFacts(hello: ClientHello | undefined): HelloFacts | undefined {
  return hello === undefined ? undefined : { sni: hello.sni, alpn: hello.alpn, version: tlsVersionName(hello.version) };
}

/** A TCP connection's client fields (escaped: client text). */
export function summarizeClient(facts: KnownFacts): ClientFields {
  return capturedFields((key) => facts.known(key), escapeClientText) as ClientFields;
}
