/**
 * The close line of a UDP flow uses TCP's word for the same thing: a backend none of whose servers
 * can take the flow is `backend-unreachable` (it was `backend-unavailable`); the datagrams the flow
 * held are still counted under the drop reason `backend-unavailable`.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFromYaml, type TestPortplex } from '../helpers/net.js';
import { udpBackend, udpClient, type UdpBackend, type UdpClient } from '../helpers/udp.js';

/** A WireGuard handshake initiation (whitepaper §5.4.2): type 1, three zero bytes, then 144 bytes. */
function wireguardInitiation(sender: number): Buffer {
  const b = Buffer.alloc(148, 0x5a);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(sender, 4);
  b.fill(0, 132);
  return b;
}

const open: { close(): Promise<unknown> }[] = [];
after(async () => {
  for (const x of open.reverse()) await x.close().catch(() => undefined);
});

it('a backend whose only server is full: the next flow closes with backend-unreachable, as a TCP connection would', async () => {
  const server: UdpBackend = await udpBackend('wg');
  open.push(server);
  const p: TestPortplex = await startFromYaml(`listeners:
  - { name: vpn, bind: "127.0.0.1:0", transport: udp }
backends:
  wg: { transport: udp, servers: [{ address: "127.0.0.1:${server.port}", max_connections: 1 }] }
routes:
  - { name: wg, when: { protocol: wireguard }, to: wg }
`);
  open.push(p);
  const first: UdpClient = await udpClient(p.udpPort);
  const second: UdpClient = await udpClient(p.udpPort);
  open.push(first, second);
  await first.send(wireguardInitiation(1));
  await server.inbox.count(1);
  await second.send(wireguardInitiation(2));
  const closed = await p.logs.waitFor((l) => l['msg'] === 'flow closed' && (l['client'] as { port: number }).port === second.port);
  assert.equal(closed['reason'], 'backend-unreachable');
  assert.equal(closed['level'], 40, 'at warn, as before');
  assert.equal(closed['detail'], 'wg: no server available');
  assert.equal(p.running.flows.stats.dropped.get('backend-unavailable'), 1);
  assert.equal(server.inbox.received.length, 1, 'the full server got only the first flow');
});
