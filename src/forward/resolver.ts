/**
 * Name resolution for forward-proxy targets, cached in an LRU for the answer's TTL. Addresses come
 * from the system resolver (getaddrinfo: /etc/hosts, then DNS — what curl and nginx use); the TTL
 * from a DNS query for the same name when one answers, else a fixed 30 s, capped at 5 minutes.
 * Failures are cached for 5 s, so a client cannot make portplex hammer a dead resolver.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import { endsInNumber } from '../protocols/ip/canonical.js';

export type Resolution = { readonly ok: true; readonly addresses: readonly string[] } | { readonly ok: false; readonly error: string };

const DEFAULT_TTL_MS = 30_000;
const MAX_TTL_MS = 300_000;
const NEGATIVE_TTL_MS = 5_000;

export class TargetResolver {
  private readonly cache = new LRUCache<string, Resolution>({ max: 10_000, ttlAutopurge: false });
  private readonly inflight = new Map<string, Promise<Resolution>>();
  private readonly dnsResolver = new dns.Resolver({ timeout: 1000, tries: 1 });

  /** How many answers were served from the cache (for tests and metrics). */
  hits = 0;

  resolve(host: string): Promise<Resolution> {
    if (isIP(host) !== 0) return Promise.resolve({ ok: true, addresses: [host] });
    // getaddrinfo reads "127.1", "2130706433" or "0x7f.1" as an address (inet_aton): such a name is
    // never looked up (parseConnectTarget and the SNI parser refuse it before; this holds for any caller).
    if (endsInNumber(host)) return Promise.resolve({ ok: false, error: 'the name ends in a number, so getaddrinfo would read it as an IPv4 address: not resolved' });
    const cached = this.cache.get(host);
    if (cached !== undefined) {
      this.hits++;
      return Promise.resolve(cached);
    }
    let p = this.inflight.get(host);
    if (p === undefined) {
      p = this.lookup(host).finally(() => this.inflight.delete(host));
      this.inflight.set(host, p);
    }
    return p;
  }

  private async lookup(host: string): Promise<Resolution> {
    const [sys, ttl4, ttl6] = await Promise.allSettled([
      dns.lookup(host, { all: true, verbatim: true }),
      this.dnsResolver.resolve4(host, { ttl: true }),
      this.dnsResolver.resolve6(host, { ttl: true }),
    ]);
    if (sys.status === 'rejected') {
      const r: Resolution = { ok: false, error: (sys.reason as NodeJS.ErrnoException).code ?? String(sys.reason) };
      this.cache.set(host, r, { ttl: NEGATIVE_TTL_MS });
      return r;
    }
    const ttls = [ttl4, ttl6].flatMap((t) => (t.status === 'fulfilled' ? t.value.map((a) => a.ttl * 1000) : []));
    const ttl = ttls.length > 0 ? Math.max(1000, Math.min(MAX_TTL_MS, ...ttls)) : DEFAULT_TTL_MS;
    const r: Resolution = { ok: true, addresses: sys.value.map((a) => a.address) };
    this.cache.set(host, r, { ttl });
    return r;
  }
}
