/**
 * Where a forward-proxy route may connect. Names are checked against the allowlist, and so is
 * every resolved address: the special-purpose ranges (special-purpose.ts: loopback, private,
 * link-local and every other block that is not globally reachable) are denied unless the
 * allowlist names them (a CIDR that contains the address, or the exact host name) — the SSRF
 * guard. Pure.
 *
 * Every address is normalised once (canonicalAddress) and only that form is judged, so every
 * spelling of one address gets one answer, from the verdict and from the allowlist's CIDRs alike:
 * the IPv6 spellings of an IPv4 address (mapped, compatible, translated) are that IPv4 address,
 * and a NAT64, 6to4 or Teredo address is judged by the IPv4 address(es) it carries, all of which
 * must pass (an IPv6 CIDR never covers them). Text that is not a standard address (a zone ID,
 * "127.1") is never one that may be connected to.
 */
import type { ForwardAllowlist } from '../config/types.js';
import { nameMatches } from '../protocols/patterns.js';
import { canonicalAddress, endsInNumber, within, type CanonicalAddress } from '../protocols/ip/canonical.js';
import { parseIPv4, parseIPv6 } from '../protocols/ip/address.js';
import { refusedByRegistry } from './special-purpose.js';

/** The addresses that decide for `c`: the IPv4 addresses it carries when there are any, else itself. */
function judged(c: CanonicalAddress): readonly Uint8Array[] {
  return c.embedded.length > 0 ? c.embedded : [c.bytes];
}

/** Whether a connection to this address text is refused when no allowlist names it. */
export function isSpecialAddress(address: string): boolean {
  const c = canonicalAddress(address);
  return c === undefined || judged(c).some(refusedByRegistry);
}

export interface Policy {
  /** May this host (a name or an address literal) be asked for at all? */
  hostAllowed(host: string): boolean;
  /** May a connection go to this resolved address of `host`? */
  addressAllowed(host: string, address: string): boolean;
}

export function forwardPolicy(allow: ForwardAllowlist | undefined): Policy {
  const cidrs = (allow?.cidrs ?? []).flatMap((c) => {
    const bytes = c.family === 'ipv4' ? parseIPv4(c.address) : parseIPv6(c.address);
    return bytes === undefined ? [] : [{ bytes, length: c.prefix }];
  });
  const inCidrs = (a: Uint8Array): boolean => cidrs.some((c) => within(a, c.bytes, c.length));
  const exactNames = new Set((allow?.names ?? []).flatMap((p) => (p.kind === 'exact' ? [p.name] : [])));
  /** A host that is a name, not an address literal (nor text getaddrinfo would read as one). */
  const isName = (host: string): boolean => !host.includes(':') && !endsInNumber(host);
  return {
    hostAllowed(host) {
      if (allow === undefined) return true;
      const c = canonicalAddress(host);
      if (c !== undefined) return judged(c).every(inCidrs);
      return isName(host) && nameMatches(allow.names, host);
    },
    addressAllowed(host, address) {
      const c = canonicalAddress(address);
      if (c === undefined) return false;
      if (judged(c).every((a) => inCidrs(a) || !refusedByRegistry(a))) return true;
      // A special address is reached only when the allowlist names this host exactly.
      return isName(host) && exactNames.has(host);
    },
  };
}
