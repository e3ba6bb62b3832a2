/**
 * Admission control: global and per-listener connection caps, per-address concurrent
 * connections, connections still in inspection and new-connection rate, and the total bytes
 * held in inspection buffers. Memory stays bounded whatever arrives: per-address counts exist
 * only while that address has open connections (bounded by the global cap), and rate buckets
 * live in an LRU of `tracked_addresses` entries. Each refusal kind is counted; its log lines go
 * through the log summary (a burst in full per interval, then one line with the count).
 */
import { LRUCache } from 'lru-cache';
import type { LimitsConfig, ListenerConfig } from '../config/types.js';
import type { Logger } from '../observe/logger.js';
import type { LogSummary } from '../observe/log-summary.js';

export type LimitKind = 'max-connections' | 'listener-max-connections' | 'per-ip-connections' | 'per-ip-rate' | 'per-ip-inspecting' | 'inspect-buffer-total' | 'accept-error';

interface PerAddress {
  active: number;
  inspecting: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const LIMIT_LINE = 'limit reached: connection refused';

export class Limits {
  private open = 0;
  private readonly perListener = new Map<string, number>();
  private readonly perAddress = new Map<string, PerAddress>();
  private buckets: LRUCache<string, Bucket>;
  private inspectBytes = 0;
  readonly refused = new Map<LimitKind, number>();

  constructor(
    private cfg: LimitsConfig,
    private readonly log: Logger,
    private readonly summary: LogSummary,
  ) {
    this.buckets = new LRUCache({ max: cfg.trackedAddresses });
  }

  /**
   * New limits from a rule reload. The counts of open connections carry over (they are what the
   * limits are checked against), so a reload never lets a flood through nor strands a count.
   */
  reconfigure(cfg: LimitsConfig): void {
    if (cfg.trackedAddresses !== this.cfg.trackedAddresses) {
      const buckets = new LRUCache<string, Bucket>({ max: cfg.trackedAddresses });
      for (const [k, v] of [...this.buckets.entries()].reverse()) buckets.set(k, v);
      this.buckets = buckets;
    }
    this.cfg = cfg;
  }

  get openConnections(): number {
    return this.open;
  }

  get inspectBufferBytes(): number {
    return this.inspectBytes;
  }

  /** At accept: the global and listener caps (the client address may still change with a PROXY header). */
  admitSocket(listener: ListenerConfig): boolean {
    if (this.open >= this.cfg.maxConnections) return this.refuse('max-connections', listener.name);
    const n = this.perListener.get(listener.name) ?? 0;
    if (listener.maxConnections > 0 && n >= listener.maxConnections) return this.refuse('listener-max-connections', listener.name);
    this.open++;
    this.perListener.set(listener.name, n + 1);
    return true;
  }

  releaseSocket(listener: ListenerConfig): void {
    this.open--;
    const n = (this.perListener.get(listener.name) ?? 1) - 1;
    if (n <= 0) this.perListener.delete(listener.name);
    else this.perListener.set(listener.name, n);
  }

  /** Once the client address is known: concurrent connections, inspection slots and rate of that address. */
  admitClient(address: string, listener: string): boolean {
    const c = this.cfg;
    const entry = this.perAddress.get(address) ?? { active: 0, inspecting: 0 };
    if (c.perIpConnections > 0 && entry.active >= c.perIpConnections) return this.refuse('per-ip-connections', listener, address);
    if (c.perIpInspecting > 0 && entry.inspecting >= c.perIpInspecting) return this.refuse('per-ip-inspecting', listener, address);
    if (c.perIpRate > 0 && !this.takeToken(address)) return this.refuse('per-ip-rate', listener, address);
    entry.active++;
    entry.inspecting++;
    this.perAddress.set(address, entry);
    return true;
  }

  /** The connection left inspection (routed or closed). */
  doneInspecting(address: string): void {
    const e = this.perAddress.get(address);
    if (e !== undefined && e.inspecting > 0) e.inspecting--;
  }

  releaseClient(address: string, stillInspecting: boolean): void {
    const e = this.perAddress.get(address);
    if (e === undefined) return;
    e.active--;
    if (stillInspecting && e.inspecting > 0) e.inspecting--;
    if (e.active <= 0) this.perAddress.delete(address);
  }

  /** Reserve inspection buffer bytes; false when the process-wide total would be exceeded. */
  holdInspectBytes(n: number, listener: string): boolean {
    if (this.inspectBytes + n > this.cfg.inspectBufferTotal) return this.refuse('inspect-buffer-total', listener);
    this.inspectBytes += n;
    return true;
  }

  releaseInspectBytes(n: number): void {
    this.inspectBytes -= n;
  }

  /** Counted and logged like a refusal (EMFILE and friends on accept). */
  note(kind: LimitKind, listener: string, detail: string): void {
    this.refuse(kind, listener, detail);
  }

  private takeToken(address: string): boolean {
    const now = performance.now();
    const rate = this.cfg.perIpRate;
    const b = this.buckets.get(address) ?? { tokens: this.cfg.perIpBurst, at: now };
    b.tokens = Math.min(this.cfg.perIpBurst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(address, b);
    return ok;
  }

  private refuse(kind: LimitKind, listener: string, client?: string): false {
    const total = (this.refused.get(kind) ?? 0) + 1;
    this.refused.set(kind, total);
    if (this.log.isLevelEnabled('warn') && this.summary.admit(LIMIT_LINE, listener, kind)) this.log.warn({ limit: kind, listener, client, refused_total: total }, LIMIT_LINE);
    return false;
  }

  snapshot(): { open: number; inspectBufferBytes: number; trackedAddresses: number; refused: Record<string, number> } {
    return { open: this.open, inspectBufferBytes: this.inspectBytes, trackedAddresses: this.perAddress.size, refused: Object.fromEntries(this.refused) };
  }
}
