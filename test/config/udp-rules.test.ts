/** UDP in the rule file: transport on listeners and backends, the udp: section, and routes kept to their transport. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { RouteTable } from '../../src/router/route-table.js';

const BASE = `listeners:
  - { name: tcp, bind: "127.0.0.1:0" }
  - { name: quic, bind: "127.0.0.1:0", transport: udp }
backends:
  web: { servers: ["127.0.0.1:4443"] }
  h3: { transport: udp, servers: ["127.0.0.1:4443"], send_proxy: v2 }
  wg: { transport: udp, servers: ["127.0.0.1:51820"] }
`;

function compile(text: string): ReturnType<typeof compileRulesText> {
  return compileRulesText(text, 'x.yaml');
}

function messages(text: string): string[] {
  const r = compile(text);
  assert.equal(r.ok, false, 'expected the rule file to be refused');
  return r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
}

describe('udp rules', () => {
  it('transport, the udp section and its defaults', () => {
    const r = compile(`${BASE}routes:
  - { name: h3, when: { tls: { sni: a.test } }, to: h3 }
  - { name: wg, when: { protocol: wireguard }, to: wg }
  - { name: web, when: { protocol: tls }, to: web }
`);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
    assert.deepEqual(r.rules.listeners.map((l) => l.transport), ['tcp', 'udp']);
    assert.equal(r.rules.backends.get('h3')!.transport, 'udp');
    assert.equal(r.rules.backends.get('h3')!.proxyV2.datagrams, 'first');
    assert.deepEqual(r.rules.udp, { defaultBackend: undefined, maxFlows: 20000, idleMs: 180000, perIpFlows: 256, perIpRate: 50000, perIpBurst: 100000, maxDatagram: 65535, inspectDatagrams: 8 });
    // Each transport has its own route table, in file order; a TCP connection never sees a UDP route.
    assert.deepEqual(new RouteTable(r.rules, 'udp').routes.map((x) => x.name), ['h3', 'wg']);
    assert.deepEqual(new RouteTable(r.rules, 'tcp').routes.map((x) => x.name), ['web']);
  });

  it('every udp key', () => {
    const r = compile(`${BASE}routes: [{ to: web }]
udp:
  default: wg
  flows: 500
  idle: 30s
  per_ip: { flows: 4, rate: 50, burst: 60 }
  max_datagram: 1500
  inspect_datagrams: 3
`);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
    assert.deepEqual(r.rules.udp, { defaultBackend: 'wg', maxFlows: 500, idleMs: 30000, perIpFlows: 4, perIpRate: 50, perIpBurst: 60, maxDatagram: 1500, inspectDatagrams: 3 });
    assert.equal(new RouteTable(r.rules, 'udp').defaultBackend, 'wg');
    assert.equal(new RouteTable(r.rules, 'tcp').defaultBackend, undefined);
  });

  it('proxy_v2.datagrams: every', () => {
    const r = compile(BASE.replace('send_proxy: v2 }', 'send_proxy: v2, proxy_v2: { datagrams: every } }') + 'default: web\nudp: { default: h3 }\n');
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
    assert.equal(r.rules.backends.get('h3')!.proxyV2.datagrams, 'every');
  });

  it('a UDP listener with nothing to send its datagrams to is refused', () => {
    const m = messages(`${BASE}default: web\n`);
    assert.ok(m.some((x) => x.startsWith('3:') && x.includes('listener "quic" takes UDP') && x.includes('udp.default')), m.join('\n'));
  });

  it('routes keep to their transport', () => {
    const m = messages(`${BASE}default: web
udp: { default: h3 }
routes:
  - { name: a, when: { http: { host: a.test } }, to: h3 }
  - { name: b, when: { protocol: ssh }, to: wg }
  - { name: c, when: { protocol: quic }, to: web }
  - { name: d, when: { not: { protocol: dns } }, to: web }
  - { name: e, when: { silent: 1s }, to: wg }
`);
    assert.ok(m.some((x) => x.startsWith('11:5 ') && x.includes('routes.a sends to the UDP backend "h3"') && x.includes('protocol http')), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('12:5 ') && x.includes('protocol ssh') && x.includes('only on TCP')), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('13:5 ') && x.includes('routes.c is a TCP route') && x.includes('protocol quic')), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('14:5 ') && x.includes('protocol dns')), m.join('\n'));
    assert.ok(m.some((x) => x.startsWith('15:5 ') && x.includes('silent')), m.join('\n'));
  });

  it('TCP-only keys are refused where they mean nothing', () => {
    const m = messages(`listeners:
  - { bind: "127.0.0.1:0", transport: udp, max_connections: 5, proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8"] } }
backends:
  u:
    transport: udp
    send_proxy: v1
    connect_timeout: 1s
    retries: 2
    health: { type: tcp }
    keepalive: true
    servers: ["127.0.0.1:53"]
  t: { servers: ["127.0.0.1:53"], send_proxy: v2, proxy_v2: { datagrams: every } }
udp: { default: u }
default: t
`);
    for (const want of ['max_connections applies to TCP listeners only', 'proxy_protocol applies to TCP listeners only', 'PROXY v1 has no UDP form', 'connect_timeout applies to TCP backends only', 'retries applies', 'health applies', 'keepalive applies', 'datagrams applies to backends with transport: udp only']) {
      assert.ok(m.some((x) => x.includes(want)), `${want}\n${m.join('\n')}`);
    }
  });

  it('a UDP default for TCP and a TCP default for UDP are refused', () => {
    const m = messages(`${BASE}default: h3\n`);
    assert.ok(m.some((x) => x.includes('default: backend "h3" is a UDP backend')), m.join('\n'));
  });

  it('udp limits are range-checked', () => {
    const m = messages(`${BASE}default: web
udp: { default: h3, flows: 0, idle: 10ms, max_datagram: 512, inspect_datagrams: 100, per_ip: { rate: 0 }, nope: 1 }
`);
    for (const want of ['udp.flows', 'udp.idle', 'udp.max_datagram must be a size from 1200', 'udp.inspect_datagrams', 'udp.per_ip.rate', 'unknown key "nope"']) {
      assert.ok(m.some((x) => x.includes(want)), `${want}\n${m.join('\n')}`);
    }
  });

  it('TCP and UDP on the same port are two listeners', () => {
    const r = compile(`listeners:
  - { name: a, bind: "127.0.0.1:8443" }
  - { name: b, bind: "127.0.0.1:8443", transport: udp }
backends:
  web: { servers: ["127.0.0.1:4443"] }
  h3: { transport: udp, servers: ["127.0.0.1:4443"] }
default: web
udp: { default: h3 }
`);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
    // Unnamed, they are named by their address, the UDP one with "/udp".
    const unnamed = compile('listeners: ["127.0.0.1:8443", { bind: "127.0.0.1:8443", transport: udp }]\nbackends:\n  web: { servers: ["127.0.0.1:4443"] }\n  h3: { transport: udp, servers: ["127.0.0.1:4443"] }\ndefault: web\nudp: { default: h3 }\n');
    assert.ok(unnamed.ok, unnamed.ok ? '' : unnamed.issues.map((i) => i.message).join('\n'));
    assert.deepEqual(unnamed.rules.listeners.map((l) => l.name), ['127.0.0.1:8443', '127.0.0.1:8443/udp']);
  });
});
