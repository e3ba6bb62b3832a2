/**
 * Every protocol portplex recognises by the client's first bytes: the parser that decides it, and
 * the fields worth logging once it matched. The `protocol:` condition and the per-protocol
 * conditions read parsed facts through this one table (a static table: nothing registers itself).
 */
import type { Protocol } from '../config/types.js';
import type { ParseResult } from '../protocols/result.js';
import { parseAdbConnect } from '../protocols/adb.js';
import { parseHttp2Preface } from '../protocols/http2-preface.js';
import { parseHttpRequest } from '../protocols/http-request.js';
import { parseMqttConnect } from '../protocols/mqtt.js';
import { parseOpenVpnTcp } from '../protocols/openvpn.js';
import { parsePostgresStartup } from '../protocols/postgres.js';
import { parseRdpConnectionRequest } from '../protocols/rdp.js';
import { parseSocks } from '../protocols/socks.js';
import { parseSshBanner } from '../protocols/ssh-banner.js';
import { parseSyslog } from '../protocols/syslog.js';
import { parseTinc } from '../protocols/tinc.js';
import { parseClientHello } from '../protocols/tls-client-hello.js';
import { parseXmppStreamHeader } from '../protocols/xmpp.js';

/** A parser kind: several `protocol:` values may share one (socks4 and socks5 both read SOCKS). */
export type ParserKey = 'tls' | 'http' | 'ssh' | 'socks' | 'openvpn' | 'xmpp' | 'rdp' | 'postgres' | 'mqtt' | 'adb' | 'http2' | 'tinc' | 'syslog';

export const PARSERS: { readonly [K in ParserKey]: (bytes: Uint8Array, maxBytes: number) => ParseResult<unknown> } = {
  tls: (b, max) => parseClientHello(b, max),
  http: (b, max) => parseHttpRequest(b, max),
  ssh: (b) => parseSshBanner(b),
  socks: (b) => parseSocks(b),
  openvpn: (b) => parseOpenVpnTcp(b),
  xmpp: (b) => parseXmppStreamHeader(b),
  rdp: (b) => parseRdpConnectionRequest(b),
  postgres: (b) => parsePostgresStartup(b),
  mqtt: (b, max) => parseMqttConnect(b, max),
  adb: (b) => parseAdbConnect(b),
  http2: (b) => parseHttp2Preface(b),
  tinc: (b) => parseTinc(b),
  syslog: (b, max) => parseSyslog(b, max),
};

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
};
