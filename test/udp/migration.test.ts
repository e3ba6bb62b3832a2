/**
 * A UDP flow belongs to the address that opened it. Side by side: the legitimate NAT rebinding (the
 * client's port changes, its packets carry the connection ID its server chose) reaches the same
 * server on a new path of its own; the attacks — a datagram that copies the client's Initial DCID
 * (sent in clear), one that copies a server connection ID while the client is active, one from an
 * address the route's `src:` refuses or past the per-address limit — never take the client's
 * flow, never reach the server through the client's socket and never turn its answers away.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';
import { udpClient, type UdpClient } from '../helpers/udp.js';
import { recordClientHello } from '../helpers/tls.js';
import { clientInitialDatagrams, handshakeOfRecord, type QuicConn } from '../helpers/quic-initial-builder.js';
import { QUIC_VERSION_1 } from '../../src/protocols/quic/initial.js';
import type { UdpDropReason } from '../../src/udp/flow-table.js';

interface Seen {
  readonly server: number;
  /** The portplex socket it came from: one per path. */
  readonly port: number;
  readonly data: Buffer;
}

/** Long header, Handshake type (v1: 0b10, RFC 9000 §17.2.4) naming `scid` as the server's connection ID. */
function handshakePacket(dcid: Uint8Array, scid: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0xe0, 0, 0, 0, 1, dcid.length]), dcid, Buffer.from([scid.length]), scid, Buffer.from([0x40, 0x10]), Buffer.alloc(16, 0xaa)]);
}

/** Version Negotiation (RFC 8999 §6): version 0, the client's SCID as DCID and its DCID as SCID. */
function versionNegotiation(clientDcid: Uint8Array, clientScid: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x80, 0, 0, 0, 0, clientScid.length]), clientScid, Buffer.from([clientDcid.length]), clientDcid, Buffer.from([0, 0, 0, 1])]);
}

/**
 * A 1-RTT packet (RFC 9000 §17.3.1): 0x40 | bits, the DCID, then a packet number and payload,
 * long enough for a header protection sample (RFC 9001 §5.4.2). `tag` is readable in the answers.
 */
function oneRtt(dcid: Uint8Array, tag: string): Buffer {
  const body = Buffer.alloc(Math.max(24, tag.length), 0);
  body.write(tag, 'latin1');
  return Buffer.concat([Buffer.from([0x41]), dcid, body]);
}

/**
 * Stands in for a QUIC server: records every datagram with the portplex socket it came from and
 * answers each, to that socket, with a Handshake packet naming its connection ID (a 1-RTT packet,
 * which does not name it, once the client sent a short header) followed by
 * `to:` and what it got (a real server answers only what it can decrypt; this one shows where
 * answers go). With `negotiate`, a client Initial first gets a Version Negotiation packet, whose
 * SCID is the client's own DCID.
 */
async function fakeQuicServer(index: number, cid: Buffer, seen: Seen[], negotiate = false): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', (data, from) => {
    seen.push({ server: index, port: from.port, data });
    const long = (data[0]! & 0x80) !== 0;
    const clientScid = long ? data.subarray(6 + data[5]! + 1, 6 + data[5]! + 1 + data[6 + data[5]!]!) : Buffer.from('clientsc');
    if (long && negotiate) s.send(versionNegotiation(data.subarray(6, 6 + data[5]!), clientScid), from.port, from.address);
    // A long-header packet only during the handshake; after it (a short header came in) a real
    // server speaks 1-RTT, whose short header names the client's ID and never its own again.
    const head = long ? handshakePacket(clientScid, cid) : Buffer.concat([Buffer.from([0x41]), clientScid, Buffer.alloc(20, 0xbb)]);
    s.send(Buffer.concat([head, Buffer.from('to:'), data]), from.port, from.address);
  });
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** Did an answer to the datagram tagged `tag` reach this client? */
const answered = (c: UdpClient, tag: string): boolean => c.inbox.received.some((r) => r.data.includes(tag));

/** Resolves once `cond` holds (each check after a macrotask); rejects with `what` after `ms`. */
async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let seq = 0;
function conn(): QuicConn {
  seq++;
  return { version: QUIC_VERSION_1, dcid: Buffer.from(`cd${seq.toString().padStart(6, '0')}`), scid: Buffer.from(`cs${seq.toString().padStart(6, '0')}`) };
}

describe('UDP: a flow belongs to the address that opened it', () => {
  let hello: Buffer;
  const cleanups: (() => Promise<unknown>)[] = [];
  before(async () => {
    hello = handshakeOfRecord(await recordClientHello({ servername: 'a.test', alpn: ['h3'] }));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  /** Two servers (round-robin: a second pick would go to the other one), portplex in front. */
  async function scene(opts: { route?: string; udp?: string; negotiate?: boolean } = {}): Promise<{ p: TestPortplex; seen: Seen[]; cid: Buffer; client: (host?: string) => Promise<UdpClient> }> {
    const seen: Seen[] = [];
    const cid = Buffer.from(`5e${(++seq).toString(16).padStart(14, '0')}`, 'hex');
    const servers = [await fakeQuicServer(0, cid, seen, opts.negotiate), await fakeQuicServer(1, cid, seen, opts.negotiate)];
    for (const s of servers) cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
    const p = await startFromYaml(`listeners:
  - { bind: "127.0.0.1:0", transport: udp }
backends:
  h3: { transport: udp, balance: roundrobin, servers: [${servers.map((s) => `"127.0.0.1:${s.address().port}"`).join(', ')}] }
routes:
  - { when: { protocol: quic${opts.route ?? ''} }, to: h3 }
${opts.udp ?? ''}`);
    cleanups.push(() => p.close());
    const client = async (host?: string): Promise<UdpClient> => {
      const c = await udpClient(p.udpPort, 0, host);
      cleanups.push(() => c.close());
      return c;
    };
    return { p, seen, cid, client };
  }

  /** A real client's handshake: its Initial, and the server's answer (which names the server's connection ID). */
  async function open(client: UdpClient, seen: Seen[], answers = 1): Promise<{ q: QuicConn; path: Seen }> {
    const q = conn();
    await client.send(clientInitialDatagrams(q, hello)[0]!);
    await client.inbox.count(answers);
    return { q, path: seen[seen.length - 1]! };
  }

  const dropped = (p: TestPortplex, reason: UdpDropReason): number => p.running.flows.stats.dropped.get(reason) ?? 0;

  it('NAT rebinding: the client at its new port reaches the same server on a new path, by the connection ID the server chose', async () => {
    const { p, seen, cid, client } = await scene();
    const before = await client();
    const { path } = await open(before, seen);
    await before.close();
    const moved = await client();
    await moved.send(oneRtt(cid, 'after the move'));
    await until(() => answered(moved, 'after the move'), 'the answer at the new port');
    const arrived = seen[seen.length - 1]!;
    assert.equal(arrived.server, path.server, 'the same server: only it knows the connection');
    assert.notEqual(arrived.port, path.port, 'a socket of its own: the server sees a new peer address and validates it (RFC 9000 §9.3)');
    assert.equal(p.running.flows.stats.migrated, 1);
    assert.equal(p.running.flows.size, 2, 'the path it left stays until udp.idle');
    // A flow routed afresh is picked anew (round-robin: the other server), so the path above was no pick.
    const fresh = await client();
    await open(fresh, seen);
    assert.notEqual(seen[seen.length - 1]!.server, path.server);
  });

  it('a move into a full table keeps the connection: the path it evicts is the old one, and a second move still finds the server', async () => {
    const { p, seen, cid, client } = await scene({ udp: 'udp: { flows: 1 }' });
    const first = await client();
    const { path } = await open(first, seen);
    await first.close();
    const second = await client();
    await second.send(oneRtt(cid, 'first move'));
    await until(() => answered(second, 'first move'), 'the answer after the first move');
    assert.equal(p.running.flows.size, 1, 'the table holds one flow: the old path was evicted');
    await second.close();
    const third = await client();
    await third.send(oneRtt(cid, 'second move'));
    await until(() => answered(third, 'second move'), 'the answer after the second move');
    assert.equal(seen[seen.length - 1]!.server, path.server, 'the connection was still known');
    assert.equal(p.running.flows.stats.migrated, 2);
  });

  it("a datagram that copies the client's Initial DCID (even one a Version Negotiation echoed) gets no flow of it", async () => {
    const { p, seen, cid, client } = await scene({ negotiate: true });
    const real = await client();
    const { q, path } = await open(real, seen, 2);
    const attacker = await client();
    await attacker.send(oneRtt(q.dcid, 'steal short'));
    await attacker.send(handshakePacket(q.dcid, Buffer.from('attacker')));
    await until(() => dropped(p, 'no-route') === 2, 'both refused as no-route');
    assert.equal(seen.length, 1, "nothing of the attacker's reached a server");
    assert.equal(attacker.inbox.received.length, 0);
    await real.send(oneRtt(cid, 'still mine'));
    await until(() => answered(real, 'still mine'), 'the real client answered');
    assert.equal(seen[1]!.port, path.port, "the real client's flow is where it was");
    assert.equal(p.running.flows.stats.migrated, 0);
    assert.equal(attacker.inbox.received.length, 0, 'and the attacker got none of its answers');
  });

  it("a datagram that copies the server's connection ID while the client is active travels its own path: the client keeps its flow and its answers", async () => {
    const { p, seen, cid, client } = await scene();
    const real = await client();
    const { path } = await open(real, seen);
    const attacker = await client();
    await attacker.send(oneRtt(cid, 'x-1'));
    await until(() => seen.length === 2, 'the copy at the server');
    assert.equal(seen[1]!.server, path.server);
    assert.notEqual(seen[1]!.port, path.port, "never through the client's socket: to the server it is another peer, whose packets it cannot decrypt");
    for (const tag of ['r-2', 'r-3']) {
      await real.send(oneRtt(cid, tag));
      await until(() => answered(real, tag), `answer ${tag}`);
      assert.equal(seen[seen.length - 1]!.port, path.port);
    }
    assert.ok(!real.inbox.received.some((r) => r.data.includes('x-1')), "the client never gets the attacker's answers");
    assert.ok(!attacker.inbox.received.some((r) => r.data.includes('r-')), "nor the attacker the client's");
    assert.equal(p.running.flows.stats.migrated, 1, 'counted as a path that joined');
    // A copy too short to be a 1-RTT packet (no room for a header protection sample) joins nothing.
    const short = await client();
    await short.send(Buffer.concat([Buffer.from([0x41]), cid, Buffer.alloc(19)]));
    await until(() => dropped(p, 'no-route') === 1, 'the short copy refused');
    assert.equal(seen.length, 4);
  });

  it("a new address the route's src: refuses, or past its per-address flows, does not join", async () => {
    const { p, seen, cid, client } = await scene({ route: ', src: ["127.0.0.1/32"]', udp: 'udp: { per_ip: { flows: 2 } }' });
    const real = await client();
    const { path } = await open(real, seen);
    const outside = await client('127.0.0.2');
    await outside.send(oneRtt(cid, 'from outside'));
    await until(() => dropped(p, 'moved-off-route') === 1, 'refused by the route');
    assert.equal(seen.length, 1, 'never reached the server');
    // Inside the route: the second flow of 127.0.0.1 joins, the third is past per_ip.flows.
    const moved = await client();
    await moved.send(oneRtt(cid, 'inside'));
    await until(() => answered(moved, 'inside'), 'the allowed move answered');
    assert.equal(seen[1]!.server, path.server);
    const third = await client();
    await third.send(oneRtt(cid, 'one too many'));
    await until(() => dropped(p, 'per-ip-flows') === 1, 'refused by per_ip.flows');
    assert.equal(seen.length, 2);
    assert.equal(outside.inbox.received.length + third.inbox.received.length, 0);
  });
});
