/**
 * A DNS flow ends as soon as every query it carried has its answer (RFC 1035 §4.2.1: one response
 * per query), so answered queries hold no descriptor for udp.idle; the next query from the same
 * port is a new flow and is answered too.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';
import { udpClient, type UdpClient } from '../helpers/udp.js';
import { withTimeout } from '../helpers/interop.js';

const query = readFileSync(new URL('../../../test/fixtures/dns-node20-cares-query-a.bin', import.meta.url));
const withId = (q: Buffer, id: number): Buffer => {
  const b = Buffer.from(q);
  b.writeUInt16BE(id, 0);
  return b;
};

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A resolver that answers only once `batch` queries are in, each with its own ID and QR set. */
async function resolver(batch: number): Promise<{ port: number; from: number[] }> {
  const s = createSocket('udp4');
  const held: { q: Buffer; r: RemoteInfo }[] = [];
  const from: number[] = [];
  s.on('message', (q, r) => {
    from.push(r.port);
    held.push({ q, r });
    if (held.length < batch) return;
    for (const h of held.splice(0)) {
      const a = Buffer.from(h.q);
      a[2] = a[2]! | 0x80;
      s.send(a, h.r.port, h.r.address);
    }
  });
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
  return { port: s.address().port, from };
}

async function scene(batch: number, route: string): Promise<{ p: TestPortplex; c: UdpClient; from: number[] }> {
  const dns = await resolver(batch);
  const p = await startFromYaml(`listeners:
  - { bind: "127.0.0.1:0", transport: udp }
backends:
  dns: { transport: udp, servers: ["127.0.0.1:${dns.port}"] }
${route}
`);
  cleanups.push(() => p.close());
  const c = await udpClient(p.udpPort);
  cleanups.push(() => c.close());
  return { p, c, from: dns.from };
}

const closes = (p: TestPortplex): Record<string, unknown>[] => p.logs.lines.filter((l) => l['msg'] === 'flow closed');

it('an answered query ends its flow at once, also when the flow came by udp.default; the next query is a new flow', async () => {
  const { p, c, from } = await scene(1, 'udp: { default: dns }');
  await c.send(withId(query, 0x1111));
  await c.inbox.count(1);
  const closed = await withTimeout(p.logs.waitFor((l) => l['msg'] === 'flow closed'), 3000, 'the flow closed');
  assert.equal(closed['reason'], 'answered');
  assert.equal(closed['protocol'], 'dns');
  assert.deepEqual(closed['datagrams'], { from_client: 1, to_client: 1, dropped: 0 });
  assert.equal(p.running.flows.size, 0);
  await c.send(withId(query, 0x2222));
  const answers = await c.inbox.count(2);
  assert.equal(answers[1]!.data.readUInt16BE(0), 0x2222);
  assert.notEqual(from[1], from[0], 'a new flow, a new socket');
});

it('two queries from one port (A and AAAA) keep the flow until both are answered', async () => {
  const { p, c, from } = await scene(2, 'routes:\n  - { when: { protocol: dns }, to: dns }');
  await c.send(withId(query, 0x0a0a));
  await c.send(withId(query, 0x0b0b));
  const answers = await c.inbox.count(2);
  assert.deepEqual(answers.map((a) => a.data.readUInt16BE(0)).sort(), [0x0a0a, 0x0b0b]);
  await withTimeout(p.logs.waitFor((l) => l['msg'] === 'flow closed'), 3000, 'the flow closed');
  const lines = closes(p);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!['reason'], 'answered');
  assert.deepEqual(lines[0]!['datagrams'], { from_client: 2, to_client: 2, dropped: 0 });
  assert.equal(from[0], from[1], 'both through one flow');
});
