/**
 * UDP listeners end to end on loopback: QUIC flows routed by the SNI inside their Initial packets
 * (one datagram and several), every datagram of a flow relayed both ways through one backend
 * socket, DNS and WireGuard by their first datagram, the PROXY v2 DGRAM header, idle timeout,
 * eviction and the per-address limits. A client that moves: migration.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';
import { udpBackend, udpClient, type UdpBackend, type UdpClient } from '../helpers/udp.js';
import { recordClientHello } from '../helpers/tls.js';
import { clientInitialDatagrams, handshakeOfRecord, type QuicConn } from '../helpers/quic-initial-builder.js';
import { parseProxyV2 } from '../../src/protocols/proxy/v2.js';
import { QUIC_VERSION_1, QUIC_VERSION_2 } from '../../src/protocols/quic/initial.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

let seq = 0;
/** A QUIC connection with its own connection IDs (8 bytes each, distinct per call). */
function conn(version = QUIC_VERSION_1): QuicConn {
  seq++;
  return { version, dcid: Buffer.from(`dc${seq.toString().padStart(6, '0')}`), scid: Buffer.from(`sc${seq.toString().padStart(6, '0')}`) };
}

/** A 1-RTT (short header) packet as a client sends it after the handshake: 0x40 | bits, then the server's connection ID. */
function shortPacket(dcid: Uint8Array, body: string): Buffer {
  return Buffer.concat([Buffer.from([0x41]), dcid, Buffer.from(body)]);
}

/** A WireGuard handshake initiation (whitepaper §5.4.2): type 1, three zero bytes, then 144 bytes. */
function wireguardInitiation(sender: number): Buffer {
  const b = Buffer.alloc(148, 0x5a);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(sender, 4);
  b.fill(0, 132); // mac2 zero: no cookie
  return b;
}

function yaml(ports: Record<string, number>, extra = ''): string {
  return `listeners:
  - { name: quic, bind: "127.0.0.1:0", transport: udp }
backends:
  a: { transport: udp, servers: ["127.0.0.1:${ports['a']}"] }
  b: { transport: udp, servers: ["127.0.0.1:${ports['b']}"] }
  wg: { transport: udp, servers: ["127.0.0.1:${ports['wg']}"] }
  dns: { transport: udp, servers: ["127.0.0.1:${ports['dns']}"] }
routes:
  - { name: to-a, when: { tls: { sni: a.test } }, to: a }
  - { name: to-b, when: { protocol: quic, tls: { sni: b.test, alpn: [h3] } }, to: b }
  - { name: wg, when: { protocol: wireguard }, to: wg }
  - { name: dns, when: { protocol: dns }, to: dns }
${extra}`;
}

describe('UDP listeners', () => {
  let a: UdpBackend, b: UdpBackend, wg: UdpBackend, dns: UdpBackend;
  let helloA: Buffer, helloB: Buffer;
  const clients: UdpClient[] = [];
  const client = async (port: number, local = 0): Promise<UdpClient> => {
    const c = await udpClient(port, local);
    clients.push(c);
    return c;
  };
  const portplexes: TestPortplex[] = [];
  /** Closed after the tests even when an assertion failed, so no socket keeps the test file alive. */
  const extraBackends: UdpBackend[] = [];
  const start = async (extra = ''): Promise<TestPortplex> => {
    const p = await startFromYaml(yaml({ a: a.port, b: b.port, wg: wg.port, dns: dns.port }, extra));
    portplexes.push(p);
    return p;
  };
  const reset = (): void => {
    for (const x of [a, b, wg, dns]) x.inbox.received.length = 0;
  };

  before(async () => {
    [a, b, wg, dns] = await Promise.all([udpBackend('a'), udpBackend('b'), udpBackend('wg'), udpBackend('dns')]);
    helloA = handshakeOfRecord(await recordClientHello({ servername: 'a.test', alpn: ['h3'] }));
    helloB = handshakeOfRecord(await recordClientHello({ servername: 'b.test', alpn: ['h3'] }));
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const p of portplexes) await p.close();
    await Promise.all([a, b, wg, dns, ...extraBackends].map((x) => x.close()));
  });

  it('two backends receive exactly the QUIC flows whose SNI names them, every datagram both ways', async () => {
    reset();
    const p = await start();
    const ca = await client(p.udpPort);
    const cb = await client(p.udpPort);
    const qa = conn();
    const qb = conn(QUIC_VERSION_2);
    const initialsA = clientInitialDatagrams(qa, helloA);
    // b's hello is cut into two Initial packets, in two datagrams: routed only once both are in.
    const initialsB = clientInitialDatagrams(qb, helloB, { cuts: [60] });
    assert.equal(initialsB.length, 2);
    const laterA = [shortPacket(qa.dcid, 'a-1'), shortPacket(qa.dcid, 'a-2')];
    const laterB = [shortPacket(qb.dcid, 'b-1'), shortPacket(qb.dcid, 'b-2'), shortPacket(qb.dcid, 'b-3')];
    for (const d of initialsA) await ca.send(d);
    for (const d of initialsB) await cb.send(d);
    await a.inbox.count(1);
    await b.inbox.count(2);
    for (const d of laterA) await ca.send(d);
    for (const d of laterB) await cb.send(d);
    const gotA = await a.inbox.count(3);
    const gotB = await b.inbox.count(5);
    assert.deepEqual(gotA.map((r) => r.data), [...initialsA, ...laterA]);
    assert.deepEqual(gotB.map((r) => r.data), [...initialsB, ...laterB]);
    // One backend socket per flow: every datagram of a flow came from the same port.
    assert.equal(new Set(gotA.map((r) => r.from.port)).size, 1);
    assert.equal(new Set(gotB.map((r) => r.from.port)).size, 1);
    // Every answer came back to its client, from the listener's address.
    const answersA = await ca.inbox.count(3);
    const answersB = await cb.inbox.count(5);
    assert.deepEqual(answersA.map((r) => r.data), gotA.map((r) => Buffer.concat([Buffer.from('a:'), r.data])));
    assert.deepEqual(answersB.map((r) => r.data), gotB.map((r) => Buffer.concat([Buffer.from('b:'), r.data])));
    for (const r of [...answersA, ...answersB]) assert.equal(r.from.port, p.udpPort);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.inbox.received.length, 3, 'nothing else reached a');
    assert.equal(b.inbox.received.length, 5, 'nothing else reached b');
    assert.equal(p.running.flows.size, 2);
  });

  it('a post-quantum Chromium ClientHello over two Initial packets routes by its SNI', async () => {
    reset();
    const p = await start();
    const c = await client(p.udpPort);
    const hello = handshakeOfRecord(fixture('chromium-156-pq-clienthello.bin')); // SNI a.test, 1942 bytes
    const initials = clientInitialDatagrams(conn(), hello, { cuts: [1100] });
    assert.equal(initials.length, 2);
    await c.send(initials[0]!);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.inbox.received.length, 0, 'not routed before the whole hello is in');
    await c.send(initials[1]!);
    const got = await a.inbox.count(2);
    assert.deepEqual(got.map((r) => r.data), initials);
    assert.equal(b.inbox.received.length, 0);
  });

  it('WireGuard and DNS by their first datagram; anything else is dropped without a route', async () => {
    reset();
    const p = await start();
    const w = await client(p.udpPort);
    const d = await client(p.udpPort);
    const x = await client(p.udpPort);
    const init = wireguardInitiation(0x01020304);
    await w.send(init);
    await w.send(Buffer.from('04000000transport-data'));
    const query = fixture('dns-node20-cares-query-a.bin');
    await d.send(query);
    await x.send(Buffer.from('hello, nobody'));
    assert.deepEqual((await wg.inbox.count(2)).map((r) => r.data.length), [148, 22]);
    assert.deepEqual((await dns.inbox.count(1))[0]!.data, query);
    const dropped = await p.logs.waitFor((l) => l['msg'] === 'flow closed' && l['reason'] === 'no-route');
    assert.equal((dropped['client'] as { port: number }).port, x.port);
    assert.equal(p.running.flows.stats.dropped.get('no-route'), 1);
    assert.equal(a.inbox.received.length + b.inbox.received.length, 0);
  });

  it('PROXY v2 over DGRAM: the header on the first datagram of a flow, or on every one', async () => {
    for (const mode of ['first', 'every'] as const) {
      const backend = await udpBackend('pp', false);
      extraBackends.push(backend);
      const p = await startFromYaml(`listeners:
  - { bind: "127.0.0.1:0", transport: udp }
backends:
  pp: { transport: udp, send_proxy: v2, proxy_v2: { datagrams: ${mode}, unique_id: true }, servers: ["127.0.0.1:${backend.port}"] }
udp: { default: pp }
`);
      portplexes.push(p);
      const c = await client(p.udpPort);
      const q = conn();
      const initials = clientInitialDatagrams(q, helloA);
      await c.send(initials[0]!);
      await c.send(shortPacket(q.dcid, 'next'));
      const got = await backend.inbox.count(2);
      const h = parseProxyV2(got[0]!.data);
      assert.equal(h.kind, 'ok');
      if (h.kind !== 'ok') return;
      assert.equal(h.value.command, 'proxy');
      assert.equal(h.value.transport, 'dgram');
      assert.equal(h.value.family, 'inet');
      assert.deepEqual(h.value.src, { address: '127.0.0.1', port: c.port });
      assert.deepEqual(h.value.dst, { address: '127.0.0.1', port: p.udpPort });
      assert.equal(h.value.authority, 'a.test', 'AUTHORITY: the SNI of the QUIC hello');
      assert.equal(h.value.alpn, 'h3', 'ALPN');
      assert.equal(h.value.uniqueId?.length, 16);
      assert.deepEqual(got[0]!.data.subarray(h.length), initials[0], `${mode}: the datagram follows the header`);
      if (mode === 'first') assert.deepEqual(got[1]!.data, shortPacket(q.dcid, 'next'));
      else {
        const h2 = parseProxyV2(got[1]!.data);
        assert.equal(h2.kind, 'ok');
        if (h2.kind === 'ok') assert.deepEqual(got[1]!.data.subarray(h2.length), shortPacket(q.dcid, 'next'));
      }
    }
  });

  it('an idle flow is forgotten; the client\'s next datagram is a new flow', async () => {
    reset();
    const p = await start('udp: { idle: 150ms }\n');
    const c = await client(p.udpPort);
    await c.send(wireguardInitiation(7));
    const first = await wg.inbox.count(1);
    const closed = await p.logs.waitFor((l) => l['msg'] === 'flow closed' && l['reason'] === 'idle-timeout');
    assert.deepEqual(closed['datagrams'], { from_client: 1, to_client: 1, dropped: 0 });
    assert.equal(p.running.flows.size, 0);
    assert.equal(p.running.flows.stats.expired, 1);
    await c.send(wireguardInitiation(8));
    const second = await wg.inbox.count(2);
    assert.notEqual(second[1]!.from.port, first[0]!.from.port, 'a new backend socket');
  });

  it('a full table evicts the least recently active flow, and counts it', async () => {
    reset();
    const p = await start('udp: { flows: 2 }\n');
    const [c1, c2, c3] = [await client(p.udpPort), await client(p.udpPort), await client(p.udpPort)];
    await c1.send(wireguardInitiation(1));
    await wg.inbox.count(1);
    await c2.send(wireguardInitiation(2));
    await wg.inbox.count(2);
    await c1.send(Buffer.from('04000000keepalive')); // c1 active again: c2 is now the oldest
    await wg.inbox.count(3);
    await c3.send(wireguardInitiation(3));
    await wg.inbox.count(4);
    const evicted = await p.logs.waitFor((l) => l['msg'] === 'flow closed' && l['reason'] === 'evicted');
    assert.equal((evicted['client'] as { port: number }).port, c2.port);
    assert.equal(p.running.flows.stats.evicted, 1);
    assert.equal(p.running.flows.size, 2);
  });

  it('per-address limits: flows, datagram rate, datagram size', async () => {
    reset();
    const p = await start('udp: { per_ip: { flows: 1, rate: 1, burst: 3 }, max_datagram: 1200 }\n');
    const c1 = await client(p.udpPort);
    const c2 = await client(p.udpPort);
    await c1.send(wireguardInitiation(1));
    await c2.send(wireguardInitiation(2)); // a second flow from 127.0.0.1
    await c1.send(Buffer.alloc(1300, 4)); // too large
    await c1.send(Buffer.from('04000000ok'));
    await c1.send(Buffer.from('04000000over-rate'));
    await wg.inbox.count(2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(wg.inbox.received.length, 2);
    const dropped = p.running.flows.stats.dropped;
    assert.equal(dropped.get('per-ip-flows'), 1);
    assert.equal(dropped.get('datagram-too-large'), 1);
    assert.equal(dropped.get('per-ip-rate'), 1);
  });

  it('garbage and QUIC-shaped junk from many ports never breaks the listener', async () => {
    reset();
    const p = await start('udp: { per_ip: { flows: 1000, rate: 100000 } }\n');
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const junk = await Promise.all(Array.from({ length: 10 }, () => client(p.udpPort)));
    for (let i = 0; i < 300; i++) {
      const size = [0, 1, 5, 20, 1200, 1350][rnd(6)]!;
      const d = Buffer.alloc(size);
      for (let k = 0; k < size; k++) d[k] = rnd(256);
      if (size > 6 && i % 2 === 0) d.set([0xc0 | rnd(64), 0, 0, 0, 1, rnd(24)], 0); // a long header, version 1, any DCID length
      await junk[i % junk.length]!.send(d);
      // Paced: one process sends and receives, and a flood would only measure the socket buffer.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
    }
    // Still routing: a real QUIC flow after the junk reaches its backend.
    const c = await client(p.udpPort);
    const q = conn();
    const [initial] = clientInitialDatagrams(q, helloA);
    await c.send(initial!);
    const got = await a.inbox.count(1);
    assert.deepEqual(got[0]!.data, initial);
    assert.equal(b.inbox.received.length + wg.inbox.received.length + dns.inbox.received.length, 0);
  });

  it('a reload keeps the UDP listener and its flows; close ends them', async () => {
    reset();
    const text = yaml({ a: a.port, b: b.port, wg: wg.port, dns: dns.port });
    const p = await startFromYaml(text);
    portplexes.push(p);
    const c = await client(p.udpPort);
    await c.send(wireguardInitiation(1));
    await wg.inbox.count(1);
    const socket = p.running.udpListeners[0]!.socket;
    const { compileRulesText } = await import('../../src/config/load.js');
    const next = compileRulesText(text + 'udp: { idle: 1h }\n', 'test.yaml');
    assert.ok(next.ok);
    const r = await p.running.reload(next.rules);
    assert.ok(r.ok);
    assert.deepEqual(r.kept, ['quic']);
    assert.equal(p.running.udpListeners[0]!.socket, socket, 'not re-bound');
    await c.send(Buffer.from('04000000after-reload'));
    const got = await wg.inbox.count(2);
    assert.equal(got[1]!.from.port, got[0]!.from.port, 'the flow went on');
    await p.close();
    const closed = await p.logs.waitFor((l) => l['msg'] === 'flow closed');
    assert.equal(closed['reason'], 'listener-closed');
    assert.equal(p.running.flows.size, 0);
  });
});
