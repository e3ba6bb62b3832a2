/**
 * Where a forward-proxy route may connect. Names are checked against the allowlist, and so is
 * every resolved address: loopback, link-local, private and other special ranges are denied unless
 * the allowlist names them (a CIDR that contains the address, or the exact host name) — the SSRF
 * guard. Pure.
 */
import { isIP } from 'node:net';
import type { ForwardAllowlist } from '../config/types.js';
import { cidrSet } from '../matchers/cidr-set.js';
import { unmapIPv4 } from '../protocols/ip-address.js';
import { nameMatches } from '../matchers/names.js';

/**
 * Ranges no tunnel reaches unless the allowlist names them (RFC 6890 special-purpose registries).
 * ::ffff:0:0/96 catches IPv4-mapped literals that unmapIPv4() leaves alone ("::ffff:7f00:1" is 127.0.0.1).
 */
const SPECIAL = cidrSet(
  [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
    ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b:1::', 48],
  ].map(([address, prefix]) => ({ family: String(address).includes(':') ? 'ipv6' : 'ipv4', address: String(address), prefix: Number(prefix) }) as const),
);


export function isSpecialAddress(address: string): boolean {
  return SPECIAL(unmapIPv4(address));
}

export interface Policy {
  /** May this host (a name or an address literal) be asked for at all? */
  hostAllowed(host: string): boolean;
  /** May a connection go to this resolved address of `host`? */
  addressAllowed(host: string, address: string): boolean;
}

export function forwardPolicy(allow: ForwardAllowlist | undefined): Policy {
  const inCidrs = cidrSet(allow?.cidrs ?? []);
  const exactNames = new Set((allow?.names ?? []).flatMap((p) => (p.kind === 'exact' ? [p.name] : [])));
  return {
    hostAllowed(host) {
      if (allow === undefined) return true;
      return isIP(host) !== 0 ? inCidrs(unmapIPv4(host)) : nameMatches(allow.names, host);
    },
    addressAllowed(host, address) {
      const a = unmapIPv4(address);
      if (inCidrs(a)) return true;
      if (!isSpecialAddress(a)) return true;
      // A special address is reached only when the allowlist names this host exactly.
      return isIP(host) === 0 && exactNames.has(host);
    },
  };
}
