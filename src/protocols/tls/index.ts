/** TLS: the ClientHello of a TCP stream, or the one inside a QUIC flow's Initial packets (so every tls condition works on HTTP/3). */
import type { ProtocolModule } from '../module.js';
import type { ParseResult } from '../result.js';
import { quicHello } from '../quic/hello.js';
import { resumeClientHello, tlsSignature, tlsVersionName, type ClientHello, type TlsResume } from './client-hello.js';
import { TLS_CONDITIONS } from './conditions.js';
import { compileTls, TLS_KEYS, type TlsCondition } from './when.js';

const NOT_TLS: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'not a TLS handshake record' });

export const tls: ProtocolModule<'tls', ClientHello, 'tls', TlsCondition> = {
  key: 'tls',
  // A cheap look at the first bytes settles most non-TLS connections without a full parse.
  tcp: (b, max, from) => (tlsSignature(b) === 'no' ? NOT_TLS : resumeClientHello(b, max, from as TlsResume | undefined)),
  udp: quicHello,
  names: { tls: null },
  when: { keys: TLS_KEYS, compile: compileTls },
  conditions: TLS_CONDITIONS,
  capture: (h, escape) => ({
    sni: h.sni,
    alpn: h.alpn.length > 0 ? h.alpn.map((a) => escape(a)) : undefined,
    tls_version: tlsVersionName(h.version),
  }),
};
