/**
 * Every protocol portplex recognises, in one static list: adding a protocol is a folder
 * src/protocols/<name>/ whose index.ts states a ProtocolModule (module.ts), and one entry here.
 * Nothing registers itself on import. The order is the order `protocol:` values are listed in
 * messages and the order the `when:` keys and close-line fields come in.
 */
import { adb } from './adb/index.js';
import { dns } from './dns/index.js';
import { http } from './http/index.js';
import { http2 } from './http2/index.js';
import type { ConditionOf, NamesOf, ValueOf } from './module.js';
import { mqtt } from './mqtt/index.js';
import { openvpn } from './openvpn/index.js';
import { postgres } from './postgres/index.js';
import { quic } from './quic/index.js';
import { rdp } from './rdp/index.js';
import { socks } from './socks/index.js';
import { ssh } from './ssh/index.js';
import { syslog } from './syslog/index.js';
import { tinc } from './tinc/index.js';
import { tls } from './tls/index.js';
import { wireguard } from './wireguard/index.js';
import { xmpp } from './xmpp/index.js';

export const PROTOCOL_MODULES = [tls, http, ssh, socks, openvpn, xmpp, rdp, postgres, mqtt, adb, http2, tinc, syslog, quic, dns, wireguard] as const;

type Module = (typeof PROTOCOL_MODULES)[number];

/** A parser kind: several `protocol:` values may share one (socks4 and socks5 both read SOCKS). */
export type ParserKey = Module['key'];
/** What a parser's complete answer is, by its key: Facts.get('tls') is a ParseResult<ClientHello>. */
export type ParsedValue<K extends ParserKey> = ValueOf<Extract<Module, { readonly key: K }>>;
/** A `protocol:` value. */
export type Protocol = NamesOf<Module>;
/** The conditions the protocols add to `when:` (tls.sni, xmpp.to, postgres.user, ...). */
export type ProtocolCondition = ConditionOf<Module>;
