/**
 * Every protocol portplex recognises by the client's first bytes: the parser that decides it, and
 * the fields worth logging once it matched. The `protocol:` condition and the per-protocol
 * conditions read parsed facts through this one table (a static table: nothing registers itself).
 */
import type { Protocol } from '../config/types.js';
import { parseAdbConnect } from '../protocols/adb/parse.js';
import { parseHttp2Preface } from '../protocols/http2/preface.js';
import { resumeHttpRequest, type HttpResume } from '../protocols/http/request.js';
import { parseMqttConnect } from '../protocols/mqtt/parse.js';
import { parseOpenVpnTcp, parseOpenVpnUdp } from '../protocols/openvpn/parse.js';
import { parseDnsQuery } from '../protocols/dns/parse.js';
import { parseQuicClientHello, type QuicClientHello } from '../protocols/quic/initial.js';
import { ok, type ParseResult } from '../protocols/result.js';
import type { ClientHello } from '../protocols/tls/client-hello.js';
import { parseWireGuardInitiation } from '../protocols/wireguard/parse.js';
import { parsePostgresStartup } from '../protocols/postgres/parse.js';
import { parseRdpConnectionRequest } from '../protocols/rdp/parse.js';
import { resumeSocks, type SocksResume } from '../protocols/socks/parse.js';
import { resumeSshBanner, type SshResume } from '../protocols/ssh/banner.js';
import { resumeSyslog, type SyslogResume } from '../protocols/syslog/parse.js';
import { resumeTinc, type TincResume } from '../protocols/tinc/parse.js';
import { resumeClientHello, type TlsResume } from '../protocols/tls/client-hello.js';
import { resumeXmppStreamHeader, type XmppResume } from '../protocols/xmpp/parse.js';

/** A parser kind: several `protocol:` values may share one (socks4 and socks5 both read SOCKS). */
export type ParserKey = 'tls' | 'http' | 'ssh' | 'socks' | 'openvpn' | 'xmpp' | 'rdp' | 'postgres' | 'mqtt' | 'adb' | 'http2' | 'tinc' | 'syslog' | 'quic' | 'dns' | 'wireguard';

/**
 * What a TCP parser reads: every byte of the stream so far. `from` is the `resume` state of this
 * parser's last answer, when that was a Suspended one (result.ts) over a prefix of `bytes`: the
 * parser then reads only the bytes after it. Parsers whose incomplete answers carry `needed`
 * instead (the message says its length) are asked again once that many bytes are in.
 */
export type StreamParser = (bytes: Uint8Array, maxBytes: number, from?: unknown) => ParseResult<unknown>;
/** What a UDP parser reads: the datagrams of the flow so far, in arrival order (never empty). */
export type DatagramParser = (datagrams: readonly Uint8Array[], maxBytes: number) => ParseResult<unknown>;

/** TCP: the first bytes of the stream. */
export const PARSERS: { readonly [K in ParserKey]?: StreamParser } = {
  tls: (b, max, from) => resumeClientHello(b, max, from as TlsResume | undefined),
  http: (b, max, from) => resumeHttpRequest(b, max, from as HttpResume | undefined),
  ssh: (b, _max, from) => resumeSshBanner(b, from as SshResume | undefined),
  socks: (b, _max, from) => resumeSocks(b, from as SocksResume | undefined),
  openvpn: (b) => parseOpenVpnTcp(b),
  xmpp: (b, _max, from) => resumeXmppStreamHeader(b, from as XmppResume | undefined),
  rdp: (b) => parseRdpConnectionRequest(b),
  postgres: (b) => parsePostgresStartup(b),
  mqtt: (b, max) => parseMqttConnect(b, max),
  adb: (b) => parseAdbConnect(b),
  http2: (b) => parseHttp2Preface(b),
  tinc: (b, _max, from) => resumeTinc(b, from as TincResume | undefined),
  syslog: (b, max, from) => resumeSyslog(b, max, from as SyslogResume | undefined),
};

/**
 * UDP: the first datagram(s) of a flow. `tls` is the ClientHello inside QUIC Initial packets (so
 * every tls condition works on HTTP/3), which is also what `protocol: quic` asks for; the others
 * judge the first datagram alone.
 */
export const DATAGRAM_PARSERS: { readonly [K in ParserKey]?: DatagramParser } = {
  // `quic` reads the same parse: Facts answers it from this slot.
  tls: (d, max) => helloOfQuic(parseQuicClientHello(d, max)),
  dns: (d) => parseDnsQuery(d[0]!),
  wireguard: (d) => parseWireGuardInitiation(d[0]!),
  openvpn: (d) => parseOpenVpnUdp(d[0]!),
};

/** The tls conditions read a ClientHello, whichever transport carried it. */
function helloOfQuic(r: ParseResult<QuicClientHello>): ParseResult<ClientHello> {
  return r.kind === 'ok' ? ok(r.value.hello, r.length) : r;
}

/** Which parser decides a `protocol:` value, and what its answer must say. */
export const PROTOCOL_TABLE: { readonly [P in Protocol]: { readonly parser: ParserKey; readonly accepts?: (value: unknown) => boolean } } = {
  tls: { parser: 'tls' },
  http: { parser: 'http' },
  ssh: { parser: 'ssh' },
  socks: { parser: 'socks' },
  socks4: { parser: 'socks', accepts: (v) => (v as { version: number }).version === 4 },
  socks5: { parser: 'socks', accepts: (v) => (v as { version: number }).version === 5 },
  openvpn: { parser: 'openvpn' },
  xmpp: { parser: 'xmpp' },
  rdp: { parser: 'rdp' },
  postgres: { parser: 'postgres' },
  mqtt: { parser: 'mqtt' },
  adb: { parser: 'adb' },
  http2: { parser: 'http2' },
  tinc: { parser: 'tinc' },
  syslog: { parser: 'syslog' },
  quic: { parser: 'quic' },
  dns: { parser: 'dns' },
  wireguard: { parser: 'wireguard' },
};
