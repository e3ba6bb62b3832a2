import type { DatagramParser } from '../module.js';
import { ok } from '../result.js';
import type { ClientHello } from '../tls/client-hello.js';
import { parseQuicClientHello } from './initial.js';

/** The ClientHello inside a flow's QUIC Initial packets: what the tls conditions and `protocol: quic` read on UDP. */
export const quicHello: DatagramParser<ClientHello> = (datagrams, maxBytes) => {
  const r = parseQuicClientHello(datagrams, maxBytes);
  return r.kind === 'ok' ? ok(r.value.hello, r.length) : r;
};
