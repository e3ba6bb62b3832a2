/**
 * Addresses the rule file binds (listeners, demo services, the admin endpoint) that the system
 * would refuse to bind together, so that `check` refuses what `run` would fail on with
 * EADDRINUSE. Measured on Linux with Node's own listen/bind calls (no SO_REUSEPORT):
 * - the same address and port twice, on one transport (TCP with TCP, UDP with UDP);
 * - a wildcard and an address of its family: 0.0.0.0 with 127.0.0.1; :: with ::1;
 * - an IPv4-mapped address (::ffff:127.0.0.1) counts as its IPv4 address (and 0.0.0.0 covers it);
 * - the same host name twice (it resolves to the same address).
 * Only certain conflicts are errors: `::` without IPV6_V6ONLY also takes IPv4 only while the
 * system's net.ipv6.bindv6only is 0, and a host name may resolve to either family, so a conflict
 * that depends on either is left to `run`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { NodeReader } from './yaml-reader.js';
import type { SourcePos, Transport } from './types.js';
import { formatHostPort } from './units.js';

export interface BindSite {
  readonly host: string;
  readonly port: number;
  readonly transport: Transport;
  /** What binds it, as messages name it: `listener "main"`, `demo service "web"`, `the admin endpoint`. */
  readonly what: string;
  /** Where the message points: the key the admin wrote. */
  readonly at: string;
  readonly pos: SourcePos;
}

/** A wildcard of one family (value ''), one address, or a host name resolved only when `run` binds. */
interface Scope {
  readonly kind: 'any4' | 'any6' | 'ip4' | 'ip6' | 'name';
  readonly value: string;
}

/** The addresses a bind takes, canonical (so "0:0::1" and "::1" are one). */
function scopeOf(host: string): Scope {
  if (isIPv4(host)) return host === '0.0.0.0' ? { kind: 'any4', value: '' } : { kind: 'ip4', value: host };
  if (isIPv6(host)) {
    const canonical = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    if (canonical === '::') return { kind: 'any6', value: '' };
    // The WHATWG URL parser writes an IPv4-mapped address in hex: ::ffff:7f00:1.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (mapped) {
      const hi = parseInt(mapped[1]!, 16);
      const lo = parseInt(mapped[2]!, 16);
      const v4 = `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
      return v4 === '0.0.0.0' ? { kind: 'any4', value: '' } : { kind: 'ip4', value: v4 };
    }
    return { kind: 'ip6', value: canonical };
  }
  return { kind: 'name', value: host.toLowerCase() };
}

function overlaps(a: Scope, b: Scope): boolean {
  if (a.kind === 'name' || b.kind === 'name') return a.kind === b.kind && a.value === b.value;
  const family = (s: Scope): 4 | 6 => (s.kind === 'any4' || s.kind === 'ip4' ? 4 : 6);
  if (family(a) !== family(b)) return false;
  if (a.kind === 'any4' || a.kind === 'any6' || b.kind === 'any4' || b.kind === 'any6') return true;
  return a.value === b.value;
}

/** Whether the system certainly refuses to bind `b` once `a` is bound. Port 0 is chosen by the system: never a conflict. */
export function bindsConflict(a: Pick<BindSite, 'host' | 'port' | 'transport'>, b: Pick<BindSite, 'host' | 'port' | 'transport'>): boolean {
  return a.port !== 0 && a.port === b.port && a.transport === b.transport && overlaps(scopeOf(a.host), scopeOf(b.host));
}

/** One error per site that an earlier site already takes, at the later site, naming both. */
export function checkBindConflicts(r: NodeReader, sites: readonly BindSite[]): void {
  sites.forEach((site, i) => {
    const earlier = sites.slice(0, i).find((e) => bindsConflict(e, site));
    if (earlier === undefined) return;
    const mine = formatHostPort(site);
    const theirs = formatHostPort(earlier);
    const same = mine === theirs ? '' : ` (${theirs}, which includes it)`;
    const proto = site.transport === 'udp' ? 'UDP ' : '';
    r.issues.push({
      ...site.pos,
      message: `${site.at}: ${proto}${mine} is already used by ${earlier.what}${same} at ${earlier.pos.file}:${earlier.pos.line}:${earlier.pos.col}: the system refuses the second bind (EADDRINUSE); give each its own port or address`,
    });
  });
}
