/**
 * The flow table alone, with flows that hold no socket: the descriptor budget refuses new flows
 * instead of evicting, and the connection-ID index names a connection only by the IDs its server
 * chose, only for a datagram that can be a 1-RTT packet, and forgets them with the last path.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable, type FlowEndReason, type QuicConnection, type TableFlow } from '../../src/udp/flow-table.js';
import { UDP_DEFAULTS as UDP } from '../../src/config/udp.js';

class Fake implements TableFlow {
  connection: QuicConnection | undefined;
  ended: FlowEndReason | undefined;
  constructor(
    readonly key: string,
    readonly srcAddress = '192.0.2.1',
    public lastSeen = 0,
    readonly listenerId = 'l',
  ) {}
  closed(reason: FlowEndReason): void {
    this.ended = reason;
  }
}

const CID = Buffer.from('0123456789abcdef', 'hex');
/** Short header (0x40 | bits), the DCID, then `rest` bytes. */
const short = (dcid: Uint8Array, rest: number): Buffer => Buffer.concat([Buffer.from([0x41]), dcid, Buffer.alloc(rest, 7)]);

it('past the descriptor budget a new flow is refused and nothing is evicted; at udp.flows the LRU makes room', () => {
  const t = new FlowTable<Fake>({ ...UDP, maxFlows: 3, perIpFlows: 10 }, 100, 2);
  const a = new Fake('a');
  const b = new Fake('b');
  t.add(a);
  assert.equal(t.refusesFlowFrom('192.0.2.1'), undefined);
  t.add(b);
  assert.equal(t.refusesFlowFrom('192.0.2.9'), 'fd-budget');
  assert.equal(a.ended, undefined);
  t.reconfigure({ ...UDP, maxFlows: 2, perIpFlows: 1 }, 100, 10);
  assert.equal(t.refusesFlowFrom('192.0.2.1'), 'per-ip-flows', 'the address has its flows');
  assert.equal(t.refusesFlowFrom('192.0.2.9'), undefined, 'udp.flows is the smaller bound now: the LRU evicts');
  t.add(new Fake('c', '192.0.2.9'));
  assert.equal(a.ended, 'evicted');
  t.close();
});

it('a connection is named only by a short header with its server-chosen ID and room for a header protection sample', () => {
  const t = new FlowTable<Fake>(UDP, 100);
  const f = new Fake('f');
  t.add(f);
  assert.equal(t.connectionNamedBy('l', short(CID, 20)), undefined, 'no ID indexed yet');
  t.addServerConnectionId(f, CID.toString('hex'));
  assert.equal(t.connectionNamedBy('l', short(CID, 20)), f, '1 + 8 + 4 + 16 bytes: the smallest 1-RTT packet');
  assert.equal(t.connectionNamedBy('l', short(CID, 19)), undefined, 'one byte short');
  assert.equal(t.connectionNamedBy('other', short(CID, 20)), undefined, 'another listener');
  const fixedBitClear = short(CID, 20);
  fixedBitClear[0] = 0x01;
  assert.equal(t.connectionNamedBy('l', fixedBitClear), undefined);
  const long = Buffer.concat([Buffer.from([0xe0, 0, 0, 0, 1, 8]), CID, Buffer.from([0]), Buffer.alloc(40)]);
  assert.equal(t.connectionNamedBy('l', long), undefined, 'a long header names no connection, even with its ID as DCID');
  t.close();
});

it('the first connection to claim an ID keeps it; the IDs go with the last path', () => {
  const t = new FlowTable<Fake>(UDP, 100);
  const first = new Fake('first');
  const other = new Fake('other');
  t.add(first);
  t.add(other);
  t.addServerConnectionId(first, CID.toString('hex'));
  t.addServerConnectionId(other, CID.toString('hex'));
  assert.equal(t.connectionNamedBy('l', short(CID, 20)), first);
  const path = new Fake('path', '198.51.100.7');
  t.add(path);
  t.join(path, first);
  assert.equal(t.stats.migrated, 1);
  assert.equal(path.connection, first.connection);
  t.remove(first, 'ended');
  assert.equal(t.connectionNamedBy('l', short(CID, 20)), path, 'the connection lives on in its other path');
  t.remove(path, 'ended');
  assert.equal(t.connectionNamedBy('l', short(CID, 20)), undefined);
  t.close();
});

it('the per-address datagram rate runs on the caller\'s clock', () => {
  const t = new FlowTable<Fake>({ ...UDP, perIpRate: 2, perIpBurst: 2 }, 100);
  assert.equal(t.admitsDatagramFrom('192.0.2.1', 1000), true);
  assert.equal(t.admitsDatagramFrom('192.0.2.1', 1000), true);
  assert.equal(t.admitsDatagramFrom('192.0.2.1', 1000), false);
  assert.equal(t.admitsDatagramFrom('192.0.2.1', 1500), true, 'half a second at 2/s: one more');
  t.close();
});
