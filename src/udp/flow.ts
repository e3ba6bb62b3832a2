/**
 * One UDP flow: a client address:port on a listener. Its first datagrams are held while the
 * routes decide (a QUIC ClientHello may span several Initial packets); then a socket connected
 * to the chosen server gets them, in order, with a PROXY v2 header when the backend wants one,
 * and every later datagram both ways. Answers go back to the client from the listener's socket,
 * so the client sees them come from the address it sent to.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Facts } from '../inspect/facts.js';
import type { ListenerConfig } from '../config/types.js';
import type { MatchContext } from '../matchers/context.js';
import type { ServerState } from '../backends/server-state.js';
import type { BackendPool } from '../backends/pool.js';
import type { Runtime } from '../listener/runtime.js';
import type { ClientHello } from '../protocols/tls-client-hello.js';
import { tlsVersionName } from '../protocols/tls-client-hello.js';
import { parseQuicLongHeader } from '../protocols/quic-initial.js';
import { outgoingHeader } from '../proxy/outgoing-header.js';
import { escapeClientText } from '../observe/escape.js';
import type { FlowEndReason, FlowTable, TableFlow, UdpDropReason } from './flow-table.js';

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
  readonly cids: string[] = [];
  lastSeen: number;
  private phase: Phase = 'inspect';
  private readonly started = performance.now();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private facts: Facts | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private backendSocket: Socket | undefined;
  private server: ServerState | undefined;
  private pool: BackendPool | undefined;
  private header: Buffer | undefined;
  private everyDatagram = false;
  private routeName: string | undefined;
  private backendName: string | undefined;
  private decideMs: number | undefined;
  private peeked = 0;
  private hello: ClientHello | undefined;
  private protocol: string | undefined;
  private endReason: string | undefined;
  private endDetail: string | undefined;
  private uniqueId: Buffer | undefined;
  private readonly count = { fromClient: 0, toClient: 0, bytesFromClient: 0, bytesToClient: 0, dropped: 0 };

  constructor(
    public key: string,
    private readonly host: FlowHost,
    private readonly rt: Runtime,
    /** The client as the socket reports it (where answers go). */
    private peerAddress: string,
    private peerPort: number,
    /** The client address rules and logs see (IPv4-mapped unwrapped). */
    public srcAddress: string,
    now: number,
  ) {
    this.lastSeen = now;
  }

  get listenerId(): string {
    return this.host.id;
  }

  get relaying(): boolean {
    return this.phase === 'relay' || this.phase === 'connecting';
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
        this.pendingBytes += datagram.length;
        this.inspect();
        return;
      case 'closed':
        return;
    }
  }

  /** The client's NAT gave it a new source port: answers go there from now on. */
  movedTo(key: string, peerAddress: string, peerPort: number, srcAddress: string): { oldKey: string; oldAddress: string } {
    const old = { oldKey: this.key, oldAddress: this.srcAddress };
    this.key = key;
    this.peerAddress = peerAddress;
    this.peerPort = peerPort;
    this.srcAddress = srcAddress;
    return old;
  }

  /** Called by the table once it has forgotten the flow. */
  closed(reason: FlowEndReason): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.count.dropped += this.pending.length;
    this.pending = [];
    this.backendSocket?.close();
    if (this.server !== undefined) this.pool?.release(this.server);
    const why = this.endReason ?? reason;
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

  private inspect(): void {
    const rt = this.rt;
    const facts = (this.facts ??= new Facts(rt.inspect.maxBytes));
    facts.updateDatagrams(this.pending, this.pendingBytes);
    const full = this.pending.length >= rt.udp.inspectDatagrams || this.pendingBytes >= rt.inspect.maxBytes;
    this.decide(full);
    if (this.phase === 'inspect' && this.deadline === undefined) {
      this.deadline = setTimeout(() => this.decide(true), rt.inspect.timeoutMs);
      this.deadline.unref();
    }
  }

  private decide(final: boolean): void {
    if (this.phase !== 'inspect') return;
    const elapsedMs = performance.now() - this.started;
    const ctx: MatchContext = {
      bytes: this.pending[0]!,
      final,
      elapsedMs,
      srcAddress: this.srcAddress,
      srcPort: this.peerPort,
      localAddress: this.host.localAddress,
      localPort: this.host.localPort,
      facts: this.facts!,
    };
    const d = this.rt.udpTable.decide(ctx);
    if (d.kind === 'wait') return;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.decideMs = elapsedMs;
    this.peeked = this.pendingBytes;
    this.routeName = d.route?.name;
    this.noteClient();
    this.facts = undefined;
    if (d.backend === undefined) {
      this.end('no-route', 'no route matched and there is no udp.default', 'no-route');
      return;
    }
    this.connect(d.backend);
  }

  /** What the close line and the PROXY header say about the client: kept, the parsed datagrams are not. */
  private noteClient(): void {
    const facts = this.facts!;
    // A QUIC long header: read its hello even when no route asked (a default route), for the log
    // and the PROXY header's SNI and ALPN.
    if (((this.pending[0]![0] ?? 0) & 0xc0) === 0xc0) facts.get('tls');
    const hello = facts.known<ClientHello>('tls');
    if (hello !== undefined) {
      this.hello = hello;
      this.protocol = 'quic';
      const first = parseQuicLongHeader(this.pending[0]!);
      if (first.kind === 'ok') this.host.table.addConnectionId(this, first.value.dcidHex);
      return;
    }
    for (const p of ['dns', 'wireguard', 'openvpn'] as const) if (facts.known(p) !== undefined) this.protocol = p;
  }

  private connect(backendName: string): void {
    this.backendName = backendName;
    const pool = this.rt.pools.get(backendName);
    const server = pool?.pick(this.srcAddress);
    if (pool === undefined || server === undefined) {
      this.end('backend-unavailable', `${backendName}: no server available`, 'backend-unavailable');
      return;
    }
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
    const socket = createSocket({ type: isIPv6(cfg.host) ? 'udp6' : 'udp4' });
    this.backendSocket = socket;
    this.phase = 'connecting';
    socket.on('error', (e: NodeJS.ErrnoException) => this.end('backend-error', `${cfg.address}: ${e.code ?? e.message}`));
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
    // The server's long-header packets name the connection ID it chose (RFC 9000 §7.2): a
    // client that comes back from another port with it keeps this flow.
    if (this.protocol === 'quic' && (datagram[0]! & 0x80) !== 0 && this.cids.length < 4) {
      const h = parseQuicLongHeader(datagram);
      if (h.kind === 'ok' && h.value.scid.length > 0) this.host.table.addConnectionId(this, h.value.scidHex);
    }
    this.host.sendToClient(datagram, this.peerPort, this.peerAddress);
  }

  /** Ends the flow with its own reason (the table then calls `closed`). */
  private end(reason: string, detail: string, dropped?: UdpDropReason): void {
    if (this.phase === 'closed') return;
    this.endReason = reason;
    this.endDetail = detail;
    if (dropped !== undefined) for (let i = 0; i < this.pending.length; i++) this.host.table.drop(dropped);
    this.host.table.remove(this, 'ended');
  }

  private log(reason: string): void {
    const log = this.rt.log;
    const level = WARN_REASONS.has(reason) ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    // One junk datagram from a new port is one flow: refusals, and evictions by a full table, are
    // summarised past a burst per interval (per listener and reason); other flows keep their line.
    if (SUMMARISED_REASONS.has(reason) && !this.rt.summary.admit(FLOW_LINE, this.host.config.name, reason, level)) return;
    const hello = this.hello;
    const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 100) / 100);
    log[level](
      {
        id: this.id,
        listener: this.host.config.name,
        transport: 'udp',
        client: { address: this.srcAddress, port: this.peerPort },
        route: this.routeName,
        backend: this.backendName,
        server: this.server?.config.address,
        protocol: this.protocol,
        sni: hello?.sni,
        alpn: hello && hello.alpn.length > 0 ? hello.alpn.map((a) => escapeClientText(a)) : undefined,
        tls_version: hello ? tlsVersionName(hello.version) : undefined,
        unique_id: this.uniqueId?.toString('hex'),
        peeked: this.peeked,
        datagrams: { from_client: this.count.fromClient, to_client: this.count.toClient, dropped: this.count.dropped },
        bytes: { from_client: this.count.bytesFromClient, to_client: this.count.bytesToClient },
        ms: { decide: ms(this.decideMs), total: ms(performance.now() - this.started) },
        reason,
        detail: this.endDetail,
      },
      FLOW_LINE,
    );
  }
}

const FLOW_RECV_BUFFER = 1024 * 1024;
const FLOW_LINE = 'flow closed';
const WARN_REASONS = new Set(['no-route', 'backend-unavailable', 'backend-error', 'proxy-header-error']);
const SUMMARISED_REASONS = new Set([...WARN_REASONS, 'evicted']);
