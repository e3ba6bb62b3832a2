/**
 * Every UDP flow of this process: a client address:port on one listener, and what it was routed
 * to. An LRU bounded in entries (the least recently active flow is evicted when a new one needs
 * the room), an idle timeout per flow, flows per client address, datagrams per second per client
 * address (token buckets in an LRU, so memory stays bounded whatever arrives), and an index of
 * QUIC connection IDs so a client whose NAT changed its source port keeps its flow.
 */
import { LRUCache } from 'lru-cache';
import type { UdpConfig } from '../config/types.js';

/** What the table needs of a flow. */
export interface TableFlow {
  /** Changed only by a migration, before `rekey`. */
  key: string;
  readonly listenerId: string;
  srcAddress: string;
  /** Last datagram either way (ms, Date.now()). */
  lastSeen: number;
  /** Connection IDs indexed for this flow (keys of the CID index). */
  readonly cids: string[];
  /** Ends the flow: the table has already forgotten it. */
  closed(reason: FlowEndReason): void;
}

export type FlowEndReason = 'idle-timeout' | 'evicted' | 'drain' | 'listener-closed' | 'ended';

/** Why a datagram from a client was dropped without reaching a backend. */
export type UdpDropReason = 'datagram-too-large' | 'per-ip-rate' | 'per-ip-flows' | 'not-accepting' | 'no-route' | 'backend-unavailable' | 'inspect-overflow' | 'send-error';

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

/** A flow keeps at most this many connection IDs indexed (the server's SCIDs seen in long headers, the client's first DCID). */
const MAX_CIDS_PER_FLOW = 8;

export class FlowTable<F extends TableFlow> {
  private flows: LRUCache<string, F>;
  private readonly perIp = new Map<string, number>();
  private buckets: LRUCache<string, Bucket>;
  private readonly cidIndex = new Map<string, F>();
  /** Connection ID lengths seen, to look a short-header packet's DCID up (its length is not on the wire). */
  private readonly cidLengths = new Set<number>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Why the next dispose happens, when the table itself removes a flow. */
  private removing: FlowEndReason = 'evicted';
  /** Set while the flows move to a table of another size: the old one's disposals end nothing. */
  private moving = false;
  readonly stats: UdpStats = { evicted: 0, expired: 0, migrated: 0, dropped: new Map<UdpDropReason, number>() };

  constructor(
    private cfg: UdpConfig,
    private trackedAddresses: number,
  ) {
    this.flows = this.newFlows(cfg.maxFlows);
    this.buckets = new LRUCache({ max: trackedAddresses });
  }

  get size(): number {
    return this.flows.size;
  }

  /** New limits from a reload; flows already in the table stay (the oldest go if the table shrank). */
  reconfigure(cfg: UdpConfig, trackedAddresses: number): void {
    const old = this.cfg;
    this.cfg = cfg;
    if (cfg.maxFlows !== old.maxFlows) {
      const next = this.newFlows(cfg.maxFlows);
      // Oldest first, so the most recent stay when the table shrank (the new table evicts, and counts, the rest).
      for (const [k, f] of [...this.flows.entries()].reverse()) next.set(k, f);
      const gone = this.flows;
      this.moving = true;
      gone.clear();
      this.moving = false;
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

  /** May this address start another flow? */
  admitsFlowFrom(address: string): boolean {
    return (this.perIp.get(address) ?? 0) < this.cfg.perIpFlows;
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

  /** Indexes a QUIC connection ID (bytes as hex) for the flow. */
  addConnectionId(flow: F, cidHex: string): void {
    if (cidHex.length === 0 || flow.cids.length >= MAX_CIDS_PER_FLOW) return;
    const k = `${flow.listenerId}|${cidHex}`;
    if (this.cidIndex.get(k) === flow) return;
    this.cidIndex.set(k, flow);
    flow.cids.push(k);
    this.cidLengths.add(cidHex.length / 2);
  }

  /**
   * The flow a datagram from an unknown address belongs to, by the connection ID it carries:
   * a long header names its DCID (RFC 9000 §17.2); a short header starts with it, its length
   * known only to the endpoints (§17.3.1), so every length seen is tried.
   */
  flowByConnectionId(listenerId: string, datagram: Uint8Array): F | undefined {
    if (datagram.length < 2 || this.cidIndex.size === 0) return undefined;
    const first = datagram[0]!;
    if ((first & 0x40) === 0) return undefined; // fixed bit clear: not QUIC v1/v2 (RFC 9000 §17.2, RFC 9287 aside)
    if (first & 0x80) {
      if (datagram.length < 6) return undefined;
      const len = datagram[5]!;
      if (len === 0 || len > 20 || datagram.length < 6 + len) return undefined;
      return this.cidIndex.get(`${listenerId}|${hex(datagram, 6, 6 + len)}`);
    }
    for (const len of this.cidLengths) {
      if (datagram.length < 1 + len) continue;
      const f = this.cidIndex.get(`${listenerId}|${hex(datagram, 1, 1 + len)}`);
      if (f !== undefined) return f;
    }
    return undefined;
  }

  /** The client moved (NAT rebinding): the flow goes on under its new address:port. */
  rekey(flow: F, oldKey: string, oldAddress: string): void {
    this.removing = 'ended';
    // The flow object is re-added under its new key: take the old entry out without ending it.
    this.flows.delete(oldKey);
    this.decrementIp(oldAddress);
    this.perIp.set(flow.srcAddress, (this.perIp.get(flow.srcAddress) ?? 0) + 1);
    this.flows.set(flow.key, flow);
    this.stats.migrated++;
  }

  close(): void {
    this.stopSweeping();
    this.removeAll('drain');
  }

  private newFlows(max: number): LRUCache<string, F> {
    return new LRUCache<string, F>({
      max,
      dispose: (flow, key, why) => {
        // `rekey` moves a flow: its old key goes, the flow stays.
        if (this.moving || flow.key !== key) return;
        const reason: FlowEndReason = why === 'evict' ? 'evicted' : this.removing;
        if (reason === 'evicted') this.stats.evicted++;
        this.forget(flow, reason);
      },
    });
  }

  private forget(flow: F, reason: FlowEndReason): void {
    this.decrementIp(flow.srcAddress);
    for (const k of flow.cids) if (this.cidIndex.get(k) === flow) this.cidIndex.delete(k);
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
    for (const f of this.flows.rvalues()) {
      if (f === undefined) continue;
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
