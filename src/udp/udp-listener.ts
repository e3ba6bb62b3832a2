/**
 * One UDP socket per `transport: udp` listener. Each datagram is checked against the size and
 * per-address rate limits, then handed to its flow: the flow of its address:port, else a new
 * flow (within the per-address and descriptor limits) — a new path of the QUIC connection whose
 * server-issued connection ID it carries (the client's NAT moved it), or one routed afresh.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { ListenerConfig } from '../config/types.js';
import { PortplexError } from '../errors.js';
import { listenerKey } from '../config/listener-key.js';
import type { Listening } from '../engine/listener-set.js';
import type { Runtime } from '../engine/runtime.js';
import { unmapIPv4 } from '../protocols/ip/address.js';
import type { FlowTable } from './flow-table.js';
import { UdpFlow, type FlowHost } from './flow.js';

const RECV_BUFFER = 4 * 1024 * 1024;

/** How often a retired listener looks whether its last flow has ended (flows end by idle timeout, not by an event). */
const IDLE_POLL_MS = 1000;

/**
 * stopAccepting() refuses new flows; the flows there are go on (their answers leave from this
 * socket). close() ends the listener's flows and closes the socket.
 */
export interface BoundUdpListener extends Listening {
  readonly socket: Socket;
  readonly address: AddressInfo;
}

export function bindUdpListener(initial: ListenerConfig, runtime: () => Runtime, table: FlowTable<UdpFlow>): Promise<BoundUdpListener> {
  let cfg = initial;
  let accepting = true;
  const id = listenerKey(initial);
  const v6 = initial.host.includes(':');
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: initial.host === '::' });
  const host: FlowHost = {
    id,
    get config() {
      return cfg;
    },
    localAddress: initial.host,
    localPort: initial.port,
    table,
    sendToClient(datagram, port, address) {
      socket.send(datagram, port, address, (e) => {
        if (e) table.drop('send-error');
      });
    },
  };

  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const rt = runtime();
    const now = Date.now();
    const src = unmapIPv4(rinfo.address);
    if (msg.length > rt.udp.maxDatagram) return table.drop('datagram-too-large');
    if (!table.admitsDatagramFrom(src, now)) return table.drop('per-ip-rate');
    const key = `${id}|${rinfo.address}|${rinfo.port}`;
    let flow = table.get(key);
    if (flow === undefined) {
      // A new flow, whatever it carries: the same limits for every address.
      if (!accepting) return table.drop('not-accepting');
      const refused = table.refusesFlowFrom(src);
      if (refused !== undefined) return table.drop(refused);
      const connection = table.connectionNamedBy(id, msg);
      if (connection !== undefined) {
        // A QUIC client that moved (or someone who copied a connection ID): a new path to the
        // connection's server, if the connection's route takes this address.
        if (!connection.admits(src, rinfo.port)) return table.drop('moved-off-route');
        flow = UdpFlow.pathOf(connection, key, rinfo.address, rinfo.port, src, now);
        // Joined before it is added: adding to a full table may evict the connection's only other
        // path, and the connection's IDs must then stay with this one rather than go with it.
        table.join(flow, connection);
        table.add(flow);
        flow.openPath();
      } else {
        flow = new UdpFlow(key, host, rt, rinfo.address, rinfo.port, src, now);
        table.add(flow);
      }
    }
    flow.fromClient(msg, now);
  };

  return new Promise((resolve, reject) => {
    const onBindError = (e: NodeJS.ErrnoException): void => {
      socket.close();
      reject(new PortplexError('PORTPLEX_ERR_LISTEN', `cannot listen on ${cfg.name} (udp): ${e.code ?? e.message}`, { cause: e }));
    };
    socket.once('error', onBindError);
    socket.bind({ address: initial.host, port: initial.port }, () => {
      socket.removeListener('error', onBindError);
      // Bursts of datagrams wait in the socket's receive buffer while the event loop is busy; ask
      // for more than Linux's default 208 KiB (the kernel caps it at net.core.rmem_max).
      try {
        if (socket.getRecvBufferSize() < RECV_BUFFER) socket.setRecvBufferSize(RECV_BUFFER);
      } catch {
        // Not fatal: the default buffer still works.
      }
      // A send to a client that went away may report ICMP errors here: never fatal.
      socket.on('error', () => table.drop('send-error'));
      socket.on('message', onMessage);
      const address = socket.address();
      host.localPort = address.port;
      let closing: Promise<void> | undefined;
      resolve({
        get config() {
          return cfg;
        },
        socket,
        address,
        // Its flows now in the table.
        open: () => table.flowsOf(id),
        idle: () =>
          new Promise<void>((done) => {
            if (table.flowsOf(id) === 0) return done();
            const poll = setInterval(() => {
              if (table.flowsOf(id) > 0) return;
              clearInterval(poll);
              done();
            }, IDLE_POLL_MS);
            poll.unref();
          }),
        reconfigure(next) {
          cfg = next;
        },
        stopAccepting() {
          accepting = false;
        },
        close() {
          return (closing ??= new Promise<void>((done) => {
            accepting = false;
            table.removeAll('listener-closed', id);
            socket.close(() => done());
          }));
        },
      });
    });
  });
}
