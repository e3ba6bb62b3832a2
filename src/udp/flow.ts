/**
 * One UDP flow: a client address:port on a listener. Its first datagrams are held while the
 * routes decide (a QUIC ClientHello may span several Initial packets); then a socket connected
 * to the chosen server gets them, in order, with a PROXY v2 header when the backend wants one,
 * and every later datagram both ways. Answers go back to the client from the listener's socket,
 * so the client sees them come from the address it sent to. The decision is the socket-free
 * InspectionSession's in datagram mode (src/inspect/session.ts), the same core a TCP connection
 * drives; the flow feeds it the datagrams and keeps one timer at its deadline.
 *
 * A QUIC client that moved to another address:port is another flow, a new path of the same
 * connection: it goes to the same server through its own socket, so the server sees a new peer
 * address and validates it as QUIC requires (RFC 9000 §9.3); the relay never redirects the
 * answers of one address to another on the word of a datagram it cannot authenticate.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Facts } from '../inspect/facts.js';
import { InspectionSession, type SessionStep } from '../inspect/session.js';
import { DeadlineTimer } from '../net/deadline-timer.js';
import type { ListenerConfig } from '../config/types.js';
import type { ServerState } from '../backends/server-state.js';
import type { BackendPool } from '../backends/pool.js';
import type { Runtime } from '../engine/runtime.js';
import type { ClientHello } from '../protocols/tls/client-hello.js';
import type { CompiledRoute } from '../router/route-table.js';
import { parseQuicLongHeader } from '../protocols/quic/initial.js';
import { outgoingHeader } from '../proxy/outgoing-header.js';
import { helloFacts } from '../observe/close-captures.js';
import { clientFields, writeCloseLine, type UdpCloseReason, type UdpFlowCloseReason, type UdpTableCloseReason } from '../observe/close-line.js';
import type { FlowEndReason, FlowTable, QuicConnection, TableFlow, UdpDropReason } from './flow-table.js';
import { DnsExchange } from './dns-exchange.js';

/** What a flow needs of the listener it arrived on. */
export interface FlowHost {
  readonly id: string;
  readonly config: ListenerConfig;
  readonly localAddress: string;
  /** Known once bound (a listener on port 0 gets one from the OS). */
  localPort: number;
  readonly table: FlowTable<UdpFlow>;
  sendToClient(datagram: Buffer, port: number, address: string): void;
}

let sequence = 0;
const ID_PREFIX = process.pid.toString(36) + '-u';

type Phase = 'inspect' | 'connecting' | 'relay' | 'closed';

export class UdpFlow implements TableFlow {
  readonly id = ID_PREFIX + (++sequence).toString(36);
  connection: QuicConnection | undefined;
  lastSeen: number;
  private phase: Phase = 'inspect';
  private readonly started = performance.now();
  /** The datagrams held for the server: while the routes decide, then while its socket connects. */
  private pending: Buffer[] = [];
  /** The routes' inspection, from the first datagram to the decision. */
  private session: InspectionSession | undefined;
  private readonly timer = new DeadlineTimer(() => this.act(this.session?.tick(performance.now())), true);
  private backendSocket: Socket | undefined;
  private server: ServerState | undefined;
  private pool: BackendPool | undefined;
  private header: Buffer | undefined;
  private everyDatagram = false;
  private route: CompiledRoute | undefined;
  private routeName: string | undefined;
  /**
   * The datagrams the routes decided on, kept only when that decision depended on the client's
   * address: another address joining this QUIC connection is judged on them (`admits`).
   */
  private routedBy: readonly Buffer[] | undefined;
  /** The client's first Destination Connection ID (it chose it; everyone on the path saw it). */
  private clientDcidHex: string | undefined;
  private dns: DnsExchange | undefined;
  private backendName: string | undefined;
  private decideMs: number | undefined;
  private peeked = 0;
  private hello: ClientHello | undefined;
  private protocol: string | undefined;
  private endReason: UdpFlowCloseReason | undefined;
  private endDetail: string | undefined;
  private uniqueId: Buffer | undefined;
  private readonly count = { fromClient: 0, toClient: 0, bytesFromClient: 0, bytesToClient: 0, dropped: 0 };

  constructor(
    readonly key: string,
    private readonly host: FlowHost,
    private readonly rt: Runtime,
    /** The client as the socket reports it (where answers go). */
    private readonly peerAddress: string,
    private readonly peerPort: number,
    /** The client address rules and logs see (IPv4-mapped unwrapped). */
    readonly srcAddress: string,
    now: number,
  ) {
    this.lastSeen = now;
  }

  /**
   * A new path of `of`'s QUIC connection, from another client address:port: routed as `of` was,
   * under the rules `of` was routed by, to the same server (`openPath` once the table holds it).
   */
  static pathOf(of: UdpFlow, key: string, peerAddress: string, peerPort: number, srcAddress: string, now: number): UdpFlow {
    const f = new UdpFlow(key, of.host, of.rt, peerAddress, peerPort, srcAddress, now);
    f.route = of.route;
    f.routeName = of.routeName;
    f.routedBy = of.routedBy;
    f.hello = of.hello;
    f.protocol = of.protocol;
    f.clientDcidHex = of.clientDcidHex;
    f.backendName = of.backendName;
    f.pool = of.pool;
    f.server = of.server;
    if (f.pool !== undefined && f.server !== undefined) f.pool.hold(f.server);
    return f;
  }

  /** The path's own socket to its connection's server: the server sees a new peer address. */
  openPath(): void {
    if (this.pool === undefined || this.server === undefined) this.end('backend-unreachable', 'the connection has no server', 'backend-unavailable');
    else this.open(this.pool, this.server);
  }

  get listenerId(): string {
    return this.host.id;
  }

  /**
   * Would the routes have given this connection to a client at `srcAddress`? Asked before
   * another address joins it: the same route, or the join is refused (its `src:` conditions
   * hold for whoever uses the connection).
   */
  admits(srcAddress: string, srcPort: number): boolean {
    const held = this.routedBy;
    if (held === undefined) return true; // the routes that decided never looked at the address
    // Only the address matters to a route (`src:`): judged once per address, a few addresses kept.
    const verdicts = this.connection?.verdicts;
    const known = verdicts?.get(srcAddress);
    if (known !== undefined) return known;
    // Judged as at the decision: the same datagrams, all of them, at the same elapsed time.
    const step = this.inspection(srcAddress, srcPort, 0).replay(held, this.decideMs ?? 0);
    const same = step.kind === 'route' && step.decision.route === this.route && step.decision.backend === this.backendName;
    if (verdicts !== undefined) {
      if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
      verdicts.set(srcAddress, same);
    }
    return same;
  }

  /** A datagram from the client. */
  fromClient(datagram: Buffer, now: number): void {
    this.lastSeen = now;
    this.count.fromClient++;
    this.count.bytesFromClient += datagram.length;
    switch (this.phase) {
      case 'relay':
        this.toServer(datagram);
        return;
      case 'connecting':
        this.pending.push(datagram);
        return;
      case 'inspect':
        this.pending.push(datagram);
        this.session ??= this.inspection(this.srcAddress, this.peerPort, this.started);
        this.act(this.session.feed(datagram, performance.now()));
        return;
      case 'closed':
        return;
    }
  }

  /** Called by the table once it has forgotten the flow. */
  closed(reason: FlowEndReason): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.timer.stop();
    this.count.dropped += this.pending.length;
    this.pending = [];
    this.backendSocket?.close();
    if (this.server !== undefined) this.pool?.release(this.server);
    // `ended` comes only from end(), which names the flow's own reason first.
    const why: UdpCloseReason = this.endReason ?? (reason as UdpTableCloseReason);
    this.rt.observer?.connectionClosed({
      listener: this.host.config.name,
      route: this.routeName,
      backend: this.backendName,
      server: this.server?.config.address,
      reason: why,
      bytesFromClient: this.count.bytesFromClient,
      bytesToClient: this.count.bytesToClient,
      decideMs: this.decideMs,
      peeked: this.peeked,
    });
    this.log(why);
  }

  /** The routes' inspection for a client at `address`:`port`, its clock starting at `started`. */
  private inspection(address: string, port: number, started: number): InspectionSession {
    const rt = this.rt;
    return new InspectionSession(
      {
        table: rt.udpTable,
        inspect: rt.inspect,
        inspectDatagrams: rt.udp.inspectDatagrams,
        peer: { address, port },
        local: { address: this.host.localAddress, port: this.host.localPort },
      },
      started,
    );
  }

  /** Does what the session said: wait for more datagrams (until its deadline), or route. */
  private act(step: SessionStep | undefined): void {
    if (this.phase !== 'inspect' || step === undefined) return;
    if (step.kind === 'wait') return this.timer.wakeAt(step.deadline);
    // A datagram session neither reads a PROXY header nor refuses: only a route is left.
    if (step.kind !== 'route') return;
    this.timer.stop();
    const d = step.decision;
    this.decideMs = step.decideMs;
    this.peeked = step.peeked;
    this.route = d.route;
    this.routeName = d.route?.name;
    this.noteClient(this.session!.facts);
    this.session!.release();
    this.session = undefined;
    const table = this.rt.udpTable;
    // Only a QUIC connection can be joined from another address; keep what decided it only
    // when another address might have been decided otherwise.
    if (this.protocol === 'quic' && (d.route === undefined ? table.firstSourceRoute !== Infinity : table.firstSourceRoute <= d.route.index)) this.routedBy = this.pending.slice();
    if (d.backend === undefined) {
      this.end('no-route', 'no route matched and there is no udp.default', 'no-route');
      return;
    }
    this.connect(d.backend);
  }

  /** What the close line and the PROXY header say about the client: kept, the parsed datagrams are not. */
  private noteClient(facts: Facts): void {
    // A QUIC long header: read its hello even when no route asked (a default route), for the log
    // and the PROXY header's SNI and ALPN.
    if (((this.pending[0]![0] ?? 0) & 0xc0) === 0xc0) facts.get('tls');
    const hello = facts.known('tls');
    if (hello !== undefined) {
      this.hello = hello;
      this.protocol = 'quic';
      const first = parseQuicLongHeader(this.pending[0]!);
      if (first.kind === 'ok') this.clientDcidHex = first.value.dcidHex;
      return;
    }
    // Asked even when no route did: a DNS flow ends as soon as its queries are answered.
    facts.get('dns');
    for (const p of ['dns', 'wireguard', 'openvpn'] as const) if (facts.known(p) !== undefined) this.protocol = p;
    if (this.protocol === 'dns') this.dns = new DnsExchange();
  }

  private connect(backendName: string): void {
    this.backendName = backendName;
    const pool = this.rt.pools.get(backendName);
    const server = pool?.pick(this.srcAddress);
    if (pool === undefined || server === undefined) {
      this.end('backend-unreachable', `${backendName}: no server available`, 'backend-unavailable');
      return;
    }
    this.open(pool, server);
  }

  /** A socket connected to `server` (already counted as active for this flow), and the PROXY header. */
  private open(pool: BackendPool, server: ServerState): void {
    this.pool = pool;
    this.server = server;
    const cfg = server.config;
    if (cfg.sendProxy === 'v2') {
      if (pool.config.proxyV2.uniqueId) this.uniqueId = randomBytes(16);
      const r = outgoingHeader(
        'v2',
        { srcAddress: this.srcAddress, srcPort: this.peerPort, dstAddress: this.host.localAddress, dstPort: this.host.localPort, transport: 'udp' },
        { sni: this.hello?.sni, alpn: this.hello?.alpn[0], local: false, uniqueId: this.uniqueId, inboundTlvs: [] },
        pool.config.proxyV2,
      );
      if (!r.ok) {
        this.end('proxy-header-error', r.message);
        return;
      }
      this.header = r.header;
      this.everyDatagram = pool.config.proxyV2.datagrams === 'every';
    }
    this.phase = 'connecting';
    const onError = (e: NodeJS.ErrnoException): void => {
      // Out of descriptors (the socket is created by the implicit bind of connect): our problem, not the server's.
      if (e.code === 'EMFILE' || e.code === 'ENFILE') this.end('fd-exhausted', `${cfg.address}: ${e.code}`, 'fd-exhausted');
      else this.end('backend-error', `${cfg.address}: ${e.code ?? e.message}`);
    };
    let socket: Socket;
    try {
      socket = createSocket({ type: isIPv6(cfg.host) ? 'udp6' : 'udp4' });
    } catch (e) {
      onError(e as NodeJS.ErrnoException);
      return;
    }
    this.backendSocket = socket;
    socket.on('error', onError);
    socket.on('message', (m) => this.fromServer(m));
    socket.connect(cfg.port, cfg.host, () => {
      if (this.phase !== 'connecting') return;
      // A server answers in bursts (a QUIC congestion window of datagrams at once): more room than
      // Linux's default 208 KiB, within net.core.rmem_max.
      try {
        if (socket.getRecvBufferSize() < FLOW_RECV_BUFFER) socket.setRecvBufferSize(FLOW_RECV_BUFFER);
      } catch {
        // The default buffer still works.
      }
      this.phase = 'relay';
      const held = this.pending;
      this.pending = [];
      for (const d of held) this.toServer(d);
    });
  }

  private toServer(datagram: Buffer): void {
    const socket = this.backendSocket!;
    this.dns?.query(datagram);
    const header = this.header;
    const cb = this.onSendError;
    if (header === undefined) socket.send(datagram, cb);
    else {
      socket.send([header, datagram], cb);
      if (!this.everyDatagram) this.header = undefined;
    }
  }

  private readonly onSendError = (e: Error | null): void => {
    if (e === null) return;
    this.count.dropped++;
    this.host.table.drop('send-error');
  };

  private fromServer(datagram: Buffer): void {
    if (this.phase === 'closed') return;
    const now = Date.now();
    this.count.toClient++;
    this.count.bytesToClient += datagram.length;
    this.host.table.touch(this, now);
    if (this.protocol === 'quic' && (datagram[0]! & 0x80) !== 0) this.learnServerConnectionId(datagram);
    this.host.sendToClient(datagram, this.peerPort, this.peerAddress);
    if (this.dns?.answered(datagram)) this.end('answered', 'every query has its answer');
  }

  /**
   * The server's Initial and Handshake packets name, in their Source Connection ID, the ID it
   * chose (RFC 9000 §7.2), which the client then puts in its short headers: only the server and
   * those on the path between them have seen it. Not a Version Negotiation packet (its SCID
   * echoes the client's DCID, RFC 8999 §6), nor Retry (the client moves on to the ID of the
   * server's Initial), nor an ID equal to the client's own first DCID.
   */
  private learnServerConnectionId(datagram: Buffer): void {
    const h = parseQuicLongHeader(datagram);
    if (h.kind !== 'ok' || (h.value.type !== 'initial' && h.value.type !== 'handshake')) return;
    if (h.value.scid.length === 0 || h.value.scidHex === this.clientDcidHex) return;
    this.host.table.addServerConnectionId(this, h.value.scidHex);
  }

  /** Ends the flow with its own reason (the table then calls `closed`). */
  private end(reason: UdpFlowCloseReason, detail: string, dropped?: UdpDropReason): void {
    if (this.phase === 'closed') return;
    this.endReason = reason;
    this.endDetail = detail;
    if (dropped !== undefined) for (let i = 0; i < this.pending.length; i++) this.host.table.drop(dropped);
    this.host.table.remove(this, 'ended');
  }

  private log(reason: UdpCloseReason): void {
    const hello = this.hello;
    writeCloseLine(this.rt.log, this.rt.summary, {
      transport: 'udp',
      id: this.id,
      listener: this.host.config.name,
      client: { address: this.srcAddress, port: this.peerPort },
      route: this.routeName,
      backend: this.backendName,
      server: this.server?.config.address,
      protocol: this.protocol,
      clientFields: () => clientFields(helloFacts(hello), undefined, {}),
      uniqueId: this.uniqueId,
      peeked: this.peeked,
      datagrams: { fromClient: this.count.fromClient, toClient: this.count.toClient, dropped: this.count.dropped },
      bytes: { fromClient: this.count.bytesFromClient, toClient: this.count.bytesToClient },
      ms: { decide: this.decideMs, total: performance.now() - this.started },
      reason,
      detail: this.endDetail,
    });
  }
}

const FLOW_RECV_BUFFER = 1024 * 1024;
const MAX_VERDICTS = 16;
