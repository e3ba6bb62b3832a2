import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATAGRAM_PARSERS, PARSERS, PROTOCOL_TABLE } from '../../src/protocols/table.js';
import { PROTOCOL_MODULES } from '../../src/protocols/index.js';
import { capturedFields, PROTOCOLS, WHEN_PROTOCOLS } from '../../src/protocols/registry.js';

describe('protocols/index.ts: every registry comes from the one list', () => {
  it('each protocol: value names one row of the table, read by its folder\'s parser', () => {
    assert.deepEqual(Object.keys(PROTOCOL_TABLE), [...PROTOCOLS]);
    for (const m of PROTOCOL_MODULES) for (const name of Object.keys(m.names)) assert.equal(PROTOCOL_TABLE[name as keyof typeof PROTOCOL_TABLE].parser, m.key);
  });
  it('each folder has a parser on TCP, on UDP, or reads another\'s on UDP', () => {
    for (const m of PROTOCOL_MODULES) {
      const r: { readonly udpReads?: string } = m;
      assert.ok(PARSERS[m.key] !== undefined || DATAGRAM_PARSERS[m.key] !== undefined || r.udpReads !== undefined, m.key);
    }
  });
  it('the protocol: values, the when: keys and the close-line fields keep the order they had', () => {
    assert.deepEqual(PROTOCOLS, ['tls', 'http', 'ssh', 'socks', 'socks4', 'socks5', 'openvpn', 'xmpp', 'rdp', 'postgres', 'mqtt', 'adb', 'http2', 'tinc', 'syslog', 'quic', 'dns', 'wireguard']);
    assert.deepEqual(WHEN_PROTOCOLS.map((m) => m.key), ['tls', 'http', 'xmpp', 'rdp', 'postgres']);
    const everything = { tls: { sni: 'a.test', alpn: ['h2'], version: 0x0304, ech: false }, http: { host: 'b.test' }, xmpp: { to: 'c.test' }, rdp: { cookie: 'd' }, postgres: { kind: 'startup', user: 'u', database: 'db' } };
    const fields = capturedFields((k) => (everything as unknown as Record<string, never>)[k], (s) => s);
    assert.deepEqual(Object.keys(fields), ['sni', 'alpn', 'tls_version', 'http_host', 'xmpp_to', 'rdp_cookie', 'pg_kind', 'pg_user', 'pg_database']);
    assert.deepEqual(fields, { sni: 'a.test', alpn: ['h2'], tls_version: '1.3', http_host: 'b.test', xmpp_to: 'c.test', rdp_cookie: 'd', pg_kind: 'startup', pg_user: 'u', pg_database: 'db' });
  });
  it('no first message parsed complete: no captured fields', () => {
    assert.deepEqual(capturedFields(() => undefined, (s) => s), {});
  });
});
