/**
 * The protocol catalogue: recorded first flights of real clients, each routed by a table that
 * lists every protocol, whole and byte by byte, plus the per-protocol captures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileRulesText } from '../../src/config/load.js';
import { PROTOCOLS } from '../../src/config/types.js';
import { Facts } from '../../src/inspect/facts.js';
import { PARSERS, PROTOCOL_TABLE, type ParserKey } from '../../src/protocols/table.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable } from '../../src/router/route-table.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));

function table(routes: string): RouteTable {
  const r = compileRulesText(`listeners: ["127.0.0.1:0"]\nbackends:\n  b: { servers: ["127.0.0.1:1"] }\nroutes:\n${routes}\ndefault: b\n`, 't.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return new RouteTable(r.rules);
}

/** The route chosen when the bytes arrive in the given chunks (undefined: still waiting at the end). */
function routeFor(t: RouteTable, chunks: readonly Uint8Array[]): string | undefined {
  const facts = new Facts(16384);
  let acc = Buffer.alloc(0);
  for (const [i, c] of chunks.entries()) {
    acc = Buffer.concat([acc, c]);
    facts.update(acc);
    const final = i === chunks.length - 1;
    const ctx: MatchContext = { bytes: acc, final, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 1, localAddress: '127.0.0.1', localPort: 443, facts };
    const d = t.decide(ctx);
    if (d.kind === 'route') return d.route?.name ?? 'default';
  }
  return undefined;
}

/** Protocols only a datagram carries (test/udp/datagram-protocols.test.ts routes those). */
const UDP_ONLY = new Set(['quic', 'dns', 'wireguard']);

// One route per TCP protocol, the specific socks versions before the generic one.
const EVERY = table(
  ([...PROTOCOLS.filter((p) => p !== 'socks' && !UDP_ONLY.has(p)), 'socks'] as string[])
    .map((p) => `  - { name: ${p}, when: { protocol: ${p} }, to: b }`)
    .join('\n'),
);

const RECORDED: readonly [string, string][] = [
  ['chromium-156-pq-clienthello.bin', 'tls'],
  ['socks4-curl-connect.bin', 'socks4'],
  ['socks4a-curl-connect.bin', 'socks4'],
  ['socks5-curl-greeting.bin', 'socks5'],
  ['openvpn-tcp-reset-v2.bin', 'openvpn'],
  ['openvpn-tcp-tls-crypt-v2-reset-v3.bin', 'openvpn'],
  ['xmpp-slixmpp-stream-header.bin', 'xmpp'],
  ['rdp-xfreerdp-connection-request.bin', 'rdp'],
  ['adb-connect.bin', 'adb'],
  ['postgres-psql15-sslrequest.bin', 'postgres'],
  ['postgres-psql15-startup.bin', 'postgres'],
  ['mqtt-mosquitto-pub-v311.bin', 'mqtt'],
  ['mqtt-mosquitto-pub-v5.bin', 'mqtt'],
  ['h2-curl-prior-knowledge.bin', 'http2'],
  ['tinc-1.0.36-id.bin', 'tinc'],
  ['syslog-logger-rfc5424-octet-counting.bin', 'syslog'],
];

describe('protocol catalogue', () => {
  for (const [file, expected] of RECORDED) {
    it(`${file} routes as ${expected}, whole and one byte at a time`, () => {
      const b = fixture(file);
      assert.equal(routeFor(EVERY, [b]), expected);
      assert.equal(routeFor(EVERY, [...b].map((x) => Uint8Array.of(x))), expected);
    });
  }

  it('plain HTTP and SSH still go to their own routes, garbage to the default', () => {
    assert.equal(routeFor(EVERY, [Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')]), 'http');
    assert.equal(routeFor(EVERY, [Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')]), 'ssh');
    assert.equal(routeFor(EVERY, [Buffer.from([0xde, 0xad, 0xbe, 0xef])]), 'default');
  });

  it('captures: the XMPP to domain, the RDP cookie, the Postgres kind, user and database', () => {
    const t = table(`  - { name: chat, when: { xmpp: { to: "*.example.test" } }, to: b }
  - { name: alice-rdp, when: { rdp: { cookie: [ALICE] } }, to: b }
  - { name: pg-tls, when: { postgres: { kind: ssl-request } }, to: b }
  - { name: pg-shop, when: { postgres: { database: shop, user: "~^al" } }, to: b }
  - { name: pg-other, when: { protocol: postgres }, to: b }`);
    assert.equal(routeFor(t, [fixture('xmpp-slixmpp-stream-header.bin')]), 'chat');
    assert.equal(routeFor(t, [fixture('rdp-xfreerdp-connection-request.bin')]), 'alice-rdp');
    assert.equal(routeFor(t, [fixture('postgres-psql15-sslrequest.bin')]), 'pg-tls');
    assert.equal(routeFor(t, [fixture('postgres-psql15-startup.bin')]), 'pg-shop');
    const other = Buffer.from('000000270003000075736572006361726f6c00646174616261736500736872656b0000', 'hex');
    other.writeUInt32BE(other.length, 0);
    assert.equal(routeFor(t, [other]), 'pg-other');
  });
});

describe('no parser claims another protocol', () => {
  it('every recorded first flight is invalid for every other parser', () => {
    const own: Record<string, ParserKey> = {};
    for (const [file, protocol] of RECORDED) own[file] = PROTOCOL_TABLE[protocol as keyof typeof PROTOCOL_TABLE].parser;
    const extra: [string, ParserKey][] = [
      ['node20-clienthello.bin', 'tls'],
      ['socks5-curl-userpass-greeting.bin', 'socks'],
      ['openvpn-tcp-tls-auth-reset-v2.bin', 'openvpn'],
      ['openvpn-tcp-tls-crypt-reset-v2.bin', 'openvpn'],
      ['rdp-xfreerdp-routing-token.bin', 'rdp'],
      ['xmpp-go-sendxmpp-stream-header.bin', 'xmpp'],
      ['postgres-psql15-cancel.bin', 'postgres'],
      ['mqtt-mosquitto-pub-v31.bin', 'mqtt'],
      ['syslog-logger-rfc5424-lf.bin', 'syslog'],
      ['syslog-logger-rfc3164-lf.bin', 'syslog'],
    ];
    for (const [file, key] of extra) own[file] = key;
    for (const [file, mine] of Object.entries(own)) {
      const b = fixture(file);
      assert.equal(PARSERS[mine]!(b, 16384).kind, 'ok', `${file} is ${mine}`);
      for (const key of Object.keys(PARSERS) as ParserKey[]) {
        if (key !== mine) assert.equal(PARSERS[key]!(b, 16384).kind, 'invalid', `${file} must not be ${key}`);
      }
    }
  });
});
