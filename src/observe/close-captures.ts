/**
 * The client fields of a close line, read off the parsed first message: the ClientHello, the HTTP
 * Host, and what the first message of a protocol with capture routes named. Kept apart from the
 * line builder (close-line.ts): the per-protocol captures belong to the protocols, and this is
 * the one place that lists them.
 */
import { tlsVersionName, type ClientHello } from '../protocols/tls-client-hello.js';
import type { HttpRequestHead } from '../protocols/http-request.js';
import type { PostgresFirstMessage } from '../protocols/postgres.js';
import type { RdpConnectionRequest } from '../protocols/rdp.js';
import type { XmppStreamHeader } from '../protocols/xmpp.js';
import { escapeClientText } from './escape.js';
import { clientFields, type ClientFields, type HelloFacts } from './close-line.js';

/** The parsed facts of a connection, as far as the close line reads them (inspect/facts.ts's Facts is one). */
export interface KnownFacts {
  known<T>(key: 'tls' | 'http' | 'xmpp' | 'rdp' | 'postgres'): T | undefined;
}

export function helloFacts(hello: ClientHello | undefined): HelloFacts | undefined {
  return hello === undefined ? undefined : { sni: hello.sni, alpn: hello.alpn, version: tlsVersionName(hello.version) };
}

/** A TCP connection's client fields (escaped: client text). */
export function summarizeClient(facts: KnownFacts): ClientFields {
  return clientFields(helloFacts(facts.known<ClientHello>('tls')), facts.known<HttpRequestHead>('http')?.host, protocolCaptures(facts));
}

/** What the first message named, for protocols whose routes can match on it (escaped: client text). */
export function protocolCaptures(facts: KnownFacts): ClientFields {
  const xmpp = facts.known<XmppStreamHeader>('xmpp');
  const rdp = facts.known<RdpConnectionRequest>('rdp');
  const pg = facts.known<PostgresFirstMessage>('postgres');
  if (xmpp === undefined && rdp === undefined && pg === undefined) return {};
  return {
    xmpp_to: escapeClientText(xmpp?.to),
    rdp_cookie: escapeClientText(rdp?.cookie),
    pg_kind: pg?.kind,
    pg_user: escapeClientText(pg?.user),
    pg_database: escapeClientText(pg?.database),
  };
}
