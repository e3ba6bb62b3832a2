/**
 * Every UDP flow of this process: a client address:port on one listener, and what it was routed
 * to. An LRU bounded in entries (the least recently active flow is evicted when a new one needs
 * the room), a budget of descriptors past which new flows are refused (fd-budget.ts), an idle
 * timeout per flow, flows per client address, datagrams per second per client address (token
 * buckets in an LRU, so memory stays bounded whatever arrives), and an index of the connection
 * IDs QUIC servers chose, so a client whose NAT changed its source port reaches its server again.
 */
import { LRUCache } from 'lru-cache';
import { RecencyMap } from './recency-map.js';
import type { UdpConfig } from '../config/types.js';
import { UDP_TABLE_CLOSE_REASONS } from '../observe/close-line.js';

/** What the table needs of a flow. */
export interface TableFlow {
  /** Listener, address and port: a flow never changes its client (a client that moves is another flow). */
  readonly key: string;
  readonly listenerId: string;
  readonly srcAddress: string;
  /** Last datagram either way (ms, Date.now()). */
  lastSeen: number;
  /** The QUIC connection this flow is a path of, once its server named a connection ID. */
  connection: QuicConnection | undefined;
  /** Ends the flow: the table has already forgotten it. */
  closed(reason: FlowEndReason): void;
}

/**
 * Why the table ended a flow (close-line.ts's UDP_TABLE_CLOSE_REASONS); `ended`: the flow ended
 * itself, and its close line names its own reason.
 */
export const FLOW_END_REASONS = [...UDP_TABLE_CLOSE_REASONS, 'ended'] as const;
export type FlowEndReason = (typeof FLOW_END_REASONS)[number];

/**
 * Why a datagram from a client was dropped without reaching a backend: the `reason` label of
 * portplex_udp_datagrams_dropped_total (the README's metrics table lists the same, a test keeps them equal).
 */
export const UDP_DROP_REASONS = [
  'datagram-too-large',
  'per-ip-rate',
  'per-ip-flows',
  'not-accepting',
  'no-route',
  'backend-unavailable',
  'send-error',
  'fd-budget',
  'fd-exhausted',
  'moved-off-route',
] as const;
export type UdpDropReason = (typeof UDP_DROP_REASONS)[number];

/**
 * One QUIC connection as the relay sees it: the flows (client address:ports) that are its paths,
 * and the connection IDs its server chose (RFC 9000 §5.1), which name it in the client's
 * short-header packets whatever address they come from.
 */
export class QuicConnection {
  readonly paths = new Set<TableFlow>();
  /** Keys of the CID index. */
  readonly cids: string[] = [];
  /** Client addresses already judged against the connection's route, so a repeated join attempt is not judged again. */
  readonly verdicts = new Map<string, boolean>();
}

/** Cumulative since the process started (a reload keeps them). */
export interface UdpStats {
  evicted: number;
  expired: number;
  migrated: number;
  readonly dropped: Map<UdpDropReason, number>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A connection keeps at most this many connection IDs indexed (the server's SCIDs seen in its long headers). */
const MAX_CIDS_PER_CONNECTION = 8;
/**
 * A 1-RTT packet is at least its first byte, the DCID, and the 4 + 16 bytes from the packet
 * number on that header protection samples (RFC 9001 §5.4.2): anything shorter is not one.
 */
const SHORT_HEADER_MIN_AFTER_CID = 1 + 4 + 16;

export class FlowTable<F extends TableFlow> {
  private flows: RecencyMap<F>;
  private readonly perIp = new Map<string, number>();
  private buckets: LRUCache<string, Bucket>;
  private readonly cidIndex = new Map<string, QuicConnection>();
  /** Connection ID lengths seen, to look a short-header packet's DCID up (its length is not on the wire). */
  private readonly cidLengths = new Set<number>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Why the next dispose happens, when the table itself removes a flow. */
  private removing: FlowEndReason = 'evicted';
  readonly stats: UdpStats = { evicted: 0, expired: 0, migrated: 0, dropped: new Map<UdpDropReason, number>() };

  /**
   * `fdBudget`: flows the descriptors allow (udpFlowBudget); past it new flows are refused, not
   * made room for, so a flood of new flows cannot cut the established ones.
   */
  constructor(
    private cfg: UdpConfig,
    private trackedAddresses: number,
    private fdBudget = Infinity,
  ) {
    this.flows = this.newFlows(cfg.maxFlows);
    this.buckets = new LRUCache({ max: trackedAddresses });
  }

  get size(): number {
    return this.flows.size;
  }

  /** New limits from a reload; flows already in the table stay (the oldest go if the table shrank). */
  reconfigure(cfg: UdpConfig, trackedAddresses: number, fdBudget = this.fdBudget): void {
    const old = this.cfg;
    this.cfg = cfg;
    this.fdBudget = fdBudget;
    if (cfg.maxFlows !== old.maxFlows) {
      const next = this.newFlows(cfg.maxFlows);
      // Oldest first, so the most recent stay when the table shrank (the new table evicts, and counts, the rest).
      for (const f of this.flows.values()) next.set(f.key, f);
      this.flows = next;
    }
    if (trackedAddresses !== this.trackedAddresses) {
      this.trackedAddresses = trackedAddresses;
      this.buckets = new LRUCache({ max: trackedAddresses });
    }
    if (cfg.idleMs !== old.idleMs && this.sweeper !== undefined) {
      this.stopSweeping();
      this.startSweeping();
    }
  }

  get(key: string): F | undefined {
    return this.flows.get(key);
  }

  /** Marks activity: moves the flow to the fresh end of the LRU. */
  touch(flow: F, now: number): void {
    flow.lastSeen = now;
    this.flows.get(flow.key);
  }

  /**
   * Why this address may not start another flow now, if it may not: its own count, or the
   * descriptor budget (at `udp.flows` the LRU makes room instead, as it always did).
   */
  refusesFlowFrom(address: string): UdpDropReason | undefined {
    if ((this.perIp.get(address) ?? 0) >= this.cfg.perIpFlows) return 'per-ip-flows';
    if (this.flows.size >= this.fdBudget) return 'fd-budget';
    return undefined;
  }

  add(flow: F): void {
    this.perIp.set(flow.srcAddress, (this.perIp.get(flow.srcAddress) ?? 0) + 1);
    this.removing = 'evicted';
    this.flows.set(flow.key, flow);
    this.startSweeping();
  }

  /** Ends a flow from outside the table (backend error, no route). */
  remove(flow: F, reason: FlowEndReason): void {
    if (this.flows.peek(flow.key) !== flow) return;
    this.removing = reason;
    this.flows.delete(flow.key);
  }

  /** Ends every flow of one listener (it closed), or every flow. */
  removeAll(reason: FlowEndReason, listenerId?: string): void {
    for (const f of [...this.flows.values()]) if (listenerId === undefined || f.listenerId === listenerId) this.remove(f, reason);
  }

  flowsOf(listenerId: string): number {
    let n = 0;
    for (const f of this.flows.values()) if (f.listenerId === listenerId) n++;
    return n;
  }

  /** Token bucket per client address: false when it sent more than its rate (and burst) allows. */
  admitsDatagramFrom(address: string, now: number): boolean {
    const cfg = this.cfg;
    let b = this.buckets.get(address);
    if (b === undefined) {
      this.buckets.set(address, { tokens: cfg.perIpBurst - 1, at: now });
      return true;
    }
    b.tokens = Math.min(cfg.perIpBurst, b.tokens + ((now - b.at) * cfg.perIpRate) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  drop(reason: UdpDropReason): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + 1);
  }

  /**
   * Indexes a connection ID that the flow's server chose (bytes as hex). The first connection to
   * claim an ID keeps it: a later one cannot take it over.
   */
  addServerConnectionId(flow: F, cidHex: string): void {
    if (cidHex.length === 0) return;
    let conn = flow.connection;
    if (conn === undefined) {
      conn = flow.connection = new QuicConnection();
      conn.paths.add(flow);
    }
    const k = `${flow.listenerId}|${cidHex}`;
    if (conn.cids.length >= MAX_CIDS_PER_CONNECTION || this.cidIndex.has(k)) return;
    this.cidIndex.set(k, conn);
    conn.cids.push(k);
    this.cidLengths.add(cidHex.length / 2);
  }

  /**
   * A flow of the QUIC connection that a datagram from a new address:port names, when it can be
   * a 1-RTT packet of that connection: a short header (RFC 9000 §17.3.1: form bit 0, fixed bit
   * 1) whose DCID is a connection ID the server chose, with room after it for a packet number
   * and a header protection sample. Its DCID length is known only to the endpoints, so each
   * length a server used is tried. Long headers never qualify: a client's Initial names a
   * connection ID the client picked (and anyone who saw it can copy), and QUIC expects a
   * client's address to stay put during the handshake (RFC 9000 §9).
   */
  connectionNamedBy(listenerId: string, datagram: Uint8Array): F | undefined {
    if (datagram.length < 2 || this.cidIndex.size === 0) return undefined;
    if ((datagram[0]! & 0xc0) !== 0x40) return undefined;
    for (const len of this.cidLengths) {
      if (datagram.length < len + SHORT_HEADER_MIN_AFTER_CID) continue;
      const conn = this.cidIndex.get(`${listenerId}|${hex(datagram, 1, 1 + len)}`);
      if (conn !== undefined) for (const f of conn.paths) return f as F;
    }
    return undefined;
  }

  /** The flow, just added, is another path of `of`'s QUIC connection (the client moved). */
  join(flow: F, of: F): void {
    const conn = of.connection;
    if (conn === undefined) return;
    flow.connection = conn;
    conn.paths.add(flow);
    this.stats.migrated++;
  }

  close(): void {
    this.stopSweeping();
    this.removeAll('drain');
  }

  private newFlows(max: number): RecencyMap<F> {
    return new RecencyMap<F>(max, (flow, _key, why) => {
      const reason: FlowEndReason = why === 'evict' ? 'evicted' : this.removing;
      if (reason === 'evicted') this.stats.evicted++;
      this.forget(flow, reason);
    });
  }

  private forget(flow: F, reason: FlowEndReason): void {
    this.decrementIp(flow.srcAddress);
    const conn = flow.connection;
    if (conn !== undefined) {
      conn.paths.delete(flow);
      // The connection IDs go with its last path.
      if (conn.paths.size === 0) for (const k of conn.cids) if (this.cidIndex.get(k) === conn) this.cidIndex.delete(k);
    }
    flow.closed(reason);
  }

  private decrementIp(address: string): void {
    const n = (this.perIp.get(address) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(address);
    else this.perIp.set(address, n);
  }

  /** Idle flows are found from the stale end of the LRU: the work is the number that expired, plus one. */
  private sweep(): void {
    const now = Date.now();
    const idle = this.cfg.idleMs;
    const expired: F[] = [];
    for (const f of this.flows.values()) {
      if (now - f.lastSeen < idle) break;
      expired.push(f);
    }
    for (const f of expired) {
      this.stats.expired++;
      this.remove(f, 'idle-timeout');
    }
    if (this.flows.size === 0) this.stopSweeping();
  }

  private startSweeping(): void {
    if (this.sweeper !== undefined) return;
    const every = Math.max(25, Math.min(1000, Math.floor(this.cfg.idleMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

function hex(b: Uint8Array, s: number, e: number): string {
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('hex');
}
