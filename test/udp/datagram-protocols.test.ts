/**
 * The UDP side of the protocol catalogue: recorded first datagrams of real clients (and the RFC
 * QUIC vectors) routed by a table with one route per UDP protocol, and the tls conditions reading
 * the ClientHello inside QUIC exactly as they read it over TCP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileRulesText } from '../../src/config/load.js';
import { UDP_PROTOCOLS } from '../../src/config/types.js';
import { Facts } from '../../src/inspect/facts.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable } from '../../src/router/route-table.js';
import { clientInitialDatagrams, handshakeOfRecord } from '../helpers/quic-initial-builder.js';
import { parseQuicClientHello, parseQuicLongHeader, QUIC_VERSION_1, QUIC_VERSION_2 } from '../../src/protocols/quic/initial.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));
/** A datagram recording: each datagram preceded by its length as a 2-byte big-endian integer (test/fixtures/README.md). */
function framedFixture(name: string): Buffer[] {
  const b = fixture(name);
  const out: Buffer[] = [];
  for (let p = 0; p < b.length; ) {
    assert.ok(p + 2 <= b.length, `${name}: truncated length at ${p}`);
    const len = b.readUInt16BE(p);
    assert.ok(p + 2 + len <= b.length, `${name}: truncated datagram at ${p}`);
    out.push(b.subarray(p + 2, p + 2 + len));
    p += 2 + len;
  }
  return out;
}
const hexFixture = (name: string): Buffer => Buffer.from(fixture(name).toString('latin1').replace(/\s+/g, ''), 'hex');

function table(routes: string): RouteTable {
  const r = compileRulesText(
    `listeners: [{ bind: "127.0.0.1:0", transport: udp }]\nbackends:\n  u: { transport: udp, servers: ["127.0.0.1:1"] }\nroutes:\n${routes}\n`,
    't.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return new RouteTable(r.rules, 'udp');
}

/** The route chosen as the datagrams arrive one by one (undefined: still waiting after the last). */
function routeFor(t: RouteTable, datagrams: readonly Uint8Array[], finalAtEnd = true): string | undefined {
  const facts = new Facts(16384);
  const seen: Uint8Array[] = [];
  let size = 0;
  for (const [i, d] of datagrams.entries()) {
    seen.push(d);
    size += d.length;
    facts.updateDatagrams(seen, size);
    const ctx: MatchContext = { bytes: seen[0]!, final: finalAtEnd && i === datagrams.length - 1, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 1, localAddress: '127.0.0.1', localPort: 443, facts };
    const d2 = t.decide(ctx);
    if (d2.kind === 'route') return d2.route?.name ?? 'default';
  }
  return undefined;
}

const EVERY = table(
  UDP_PROTOCOLS.filter((p) => p !== 'tls')
    .map((p) => `  - { name: ${p}, when: { protocol: ${p} }, to: u }`)
    .join('\n'),
);

function wireguardInitiation(): Buffer {
  const b = Buffer.alloc(148, 0x33);
  b.writeUInt32LE(1, 0);
  return b;
}

describe('UDP protocols by their first datagram(s)', () => {
  const recorded: [string, Buffer[], string][] = [
    ['dns-node20-cares-query-a.bin', [fixture('dns-node20-cares-query-a.bin')], 'dns'],
    ['dns-glibc236-edns-query-a.bin', [fixture('dns-glibc236-edns-query-a.bin')], 'dns'],
    ['openvpn-udp-reset-v2.bin', [fixture('openvpn-udp-reset-v2.bin')], 'openvpn'],
    ['openvpn-udp-tls-crypt-v2-reset-v3.bin', [fixture('openvpn-udp-tls-crypt-v2-reset-v3.bin')], 'openvpn'],
    ['a WireGuard handshake initiation', [wireguardInitiation()], 'wireguard'],
    ['RFC 9001 A.2 client Initial', [hexFixture('quic-rfc9001-a2-client-initial.hex')], 'quic'],
    ['RFC 9369 A.2 client Initial (QUIC v2)', [hexFixture('quic-rfc9369-a2-client-initial.hex')], 'quic'],
  ];
  for (const [name, datagrams, want] of recorded) {
    it(`${name} routes to ${want}`, () => assert.equal(routeFor(EVERY, datagrams), want));
  }

  it('TCP first flights and random datagrams match no UDP protocol', () => {
    for (const f of ['node20-clienthello.bin', 'openvpn-tcp-reset-v2.bin', 'socks5-curl-greeting.bin']) assert.equal(routeFor(EVERY, [fixture(f)]), 'default', f);
    assert.equal(routeFor(EVERY, [Buffer.from('GET / HTTP/1.1\r\n\r\n')]), 'default');
    assert.equal(routeFor(EVERY, [Buffer.alloc(1200, 0xc3)]), 'default');
  });

  it('a ClientHello over two Initial packets waits for the second, then tls conditions read it as over TCP', () => {
    const record = fixture('chromium-156-pq-clienthello.bin');
    const t = table(['  - { name: other, when: { tls: { sni: b.test } }, to: u }', '  - { name: h3, when: { tls: { sni: a.test, alpn: [h2], version: "1.3", ech: true } }, to: u }'].join('\n'));
    for (const version of [QUIC_VERSION_1, QUIC_VERSION_2]) {
      const datagrams = clientInitialDatagrams({ version, dcid: Buffer.from('0011223344556677', 'hex'), scid: Buffer.alloc(0) }, handshakeOfRecord(record), { cuts: [700] });
      assert.equal(datagrams.length, 2);
      assert.equal(routeFor(t, datagrams.slice(0, 1), false), undefined, 'waits while the hello is incomplete');
      assert.equal(routeFor(t, datagrams), 'h3');
      // The second datagram first (reordered by the network): still waits, then decides the same.
      assert.equal(routeFor(t, [datagrams[1]!], false), undefined);
    }
  });

  it('Chromium 156 over QUIC (recorded): its hello in two Initials routes to the a.test/h3 route, in either order', () => {
    const datagrams = framedFixture('chromium-156-quic-initials.bin');
    assert.deepEqual(
      datagrams.map((d) => d.length),
      [1250, 1250],
      "Chromium's QUIC datagrams are 1250 bytes",
    );
    for (const d of datagrams) {
      const h = parseQuicLongHeader(d);
      assert.ok(h.kind === 'ok' && h.value.type === 'initial' && h.value.version === QUIC_VERSION_1 && h.value.dcid.length === 8 && h.value.scid.length === 0);
    }
    const r = parseQuicClientHello(datagrams, -1);
    assert.equal(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.equal(r.value.datagrams, 2, 'the hello needs both datagrams');
    assert.equal(r.value.packets, 2);
    assert.equal(r.value.hello.sni, 'a.test');
    assert.deepEqual(r.value.hello.alpn, ['h3'], 'Chromium offers only h3 over QUIC');
    assert.deepEqual(r.value.hello.supportedVersions, [0x0304], 'TLS 1.3 only');
    assert.equal(r.value.hello.ech, true, 'a GREASE ECH extension');
    assert.equal(parseQuicClientHello(datagrams.slice(0, 1), -1).kind, 'incomplete');

    const t = table(
      [
        '  - { name: b, when: { tls: { sni: b.test } }, to: u }',
        '  - { name: a-h2, when: { tls: { sni: a.test, alpn: [h2] } }, to: u }',
        '  - { name: a, when: { protocol: quic, tls: { sni: a.test, alpn: [h3], version: "1.3" } }, to: u }',
      ].join('\n'),
    );
    assert.equal(routeFor(t, datagrams.slice(0, 1), false), undefined, 'waits for the second Initial');
    assert.equal(routeFor(t, datagrams), 'a');
    assert.equal(routeFor(t, [datagrams[1]!], false), undefined, 'the second alone: still waiting');
    assert.equal(routeFor(t, [datagrams[1]!, datagrams[0]!]), 'a', 'reordered by the network: the same route');
    assert.equal(routeFor(EVERY, datagrams), 'quic');
    assert.equal(routeFor(EVERY, datagrams.slice(0, 1)), 'default', '`protocol: quic` needs the whole hello (README), not the first Initial alone');
  });

  it('an incomplete hello at the deadline matches no tls route', () => {
    const record = fixture('chromium-156-pq-clienthello.bin');
    const [first] = clientInitialDatagrams({ version: QUIC_VERSION_1, dcid: Buffer.from('0011223344556677', 'hex'), scid: Buffer.alloc(0) }, handshakeOfRecord(record), { cuts: [700] });
    assert.equal(routeFor(EVERY, [first!], true), 'default');
  });

  it('bytes conditions see the first datagram', () => {
    const t = table('  - { name: big, when: { bytes: { length: "1200.." } }, to: u }\n  - { name: wg, when: { bytes: { prefix: "01000000" } }, to: u }');
    assert.equal(routeFor(t, [wireguardInitiation()]), 'wg');
    assert.equal(routeFor(t, [Buffer.alloc(1200, 1)]), 'big');
  });
});
