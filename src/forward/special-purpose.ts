/**
 * The addresses no forward-proxy tunnel reaches unless the allowlist names them: the IANA IPv4
 * and IPv6 Special-Purpose Address Registries (RFC 6890 §2.2.2 and §2.2.3, updated by RFC 8190),
 * entry by entry, plus the ranges those registries leave to others (multicast, IPv6 outside the
 * global unicast space). The registries' "Globally Reachable" column decides: an entry that is not
 * globally reachable is refused. Where an entry is decided otherwise, its comment says why.
 *
 * The most specific entry containing an address decides (2001::/23 is refused, 2001:3::/32 inside
 * it is not). Addresses arrive canonical (src/protocols/ip-canonical.ts): the IPv6 spellings of an
 * IPv4 address as that address, and NAT64, 6to4 and Teredo addresses are judged by the IPv4
 * addresses they carry (src/forward/address-policy.ts), so their own entries are never looked up.
 * Pure.
 */
import { within } from '../protocols/ip/canonical.js';
import { parseIPv4, parseIPv6 } from '../protocols/ip/address.js';

interface Entry {
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly refused: boolean;
}

/** [block, refused] — the name, the RFC and the registry's Globally Reachable value in the comment. */
type Row = readonly [string, boolean];

// IANA IPv4 Special-Purpose Address Registry.
const IPV4: readonly Row[] = [
  ['0.0.0.0/8', true], // "This network", RFC 791 §3.2 — not global (Linux connects 0.0.0.0 to this host)
  ['0.0.0.0/32', true], // "This host on this network", RFC 1122 §3.2.1.3 — not global
  ['10.0.0.0/8', true], // Private-Use, RFC 1918 — not global
  ['100.64.0.0/10', true], // Shared Address Space, RFC 6598 — not global (carrier-grade NAT)
  ['127.0.0.0/8', true], // Loopback, RFC 1122 §3.2.1.3 — not global
  ['169.254.0.0/16', true], // Link Local, RFC 3927 — not global (cloud metadata at 169.254.169.254)
  ['172.16.0.0/12', true], // Private-Use, RFC 1918 — not global
  ['192.0.0.0/24', true], // IETF Protocol Assignments, RFC 6890 §2.1 — not global, unless more specific
  ['192.0.0.0/29', true], // IPv4 Service Continuity Prefix, RFC 7335 — not global
  ['192.0.0.8/32', true], // IPv4 dummy address, RFC 7600 — not global
  // Port Control Protocol Anycast, RFC 7723 — globally reachable, but REFUSED: an anycast address
  // reaches the nearest PCP server, which is the operator's own NAT gateway, not a public host.
  ['192.0.0.9/32', true],
  // Traversal Using Relays around NAT Anycast, RFC 8155 — globally reachable, but REFUSED for the
  // same reason: the nearest TURN server is the operator's.
  ['192.0.0.10/32', true],
  ['192.0.0.170/32', true], // NAT64/DNS64 Discovery, RFC 8880 / RFC 7050 §2.2 — not global
  ['192.0.0.171/32', true], // NAT64/DNS64 Discovery, RFC 8880 / RFC 7050 §2.2 — not global
  ['192.0.2.0/24', true], // Documentation (TEST-NET-1), RFC 5737 — not global
  ['192.31.196.0/24', false], // AS112-v4, RFC 7535 — globally reachable
  ['192.52.193.0/24', false], // AMT, RFC 7450 — globally reachable
  // Deprecated (6to4 Relay Anycast), RFC 7526 — the registry removed its values; REFUSED: a
  // deprecated relay anycast (RFC 7526 §4) is no destination for a tunnel.
  ['192.88.99.0/24', true],
  ['192.88.99.2/32', true], // 6a44-relay anycast address, RFC 6751 — not global
  ['192.168.0.0/16', true], // Private-Use, RFC 1918 — not global
  ['192.175.48.0/24', false], // Direct Delegation AS112 Service, RFC 7534 — globally reachable
  ['198.18.0.0/15', true], // Benchmarking, RFC 2544 — not global
  ['198.51.100.0/24', true], // Documentation (TEST-NET-2), RFC 5737 — not global
  ['203.0.113.0/24', true], // Documentation (TEST-NET-3), RFC 5737 — not global
  ['240.0.0.0/4', true], // Reserved, RFC 1112 §4 — not global
  ['255.255.255.255/32', true], // Limited Broadcast, RFC 8190 / RFC 919 §7 — not global
  // Not in the registry: multicast, 224.0.0.0/4 (RFC 5771, the IANA IPv4 Multicast Address Space
  // Registry) — a TCP tunnel has no multicast destination.
  ['224.0.0.0/4', true],
];

// IANA IPv6 Special-Purpose Address Registry, after a base from the IANA IPv6 Address Space
// registry (RFC 4291 §2.4): only 2000::/3 is allocated as global unicast; the rest of ::/0 is
// reserved by the IETF, link-local, unique-local (listed below) or multicast.
const IPV6: readonly Row[] = [
  ['::/0', true], // outside 2000::/3: not global unicast — REFUSED (e.g. deprecated site-local fec0::/10, RFC 3879)
  ['2000::/3', false], // Global Unicast, RFC 4291 §2.4 — globally reachable
  ['ff00::/8', true], // Multicast, RFC 4291 §2.7 (not in the registry; inside the refused base anyway)
  ['::1/128', true], // Loopback Address, RFC 4291 — not global
  ['::/128', true], // Unspecified Address, RFC 4291 — not global
  ['::ffff:0:0/96', true], // IPv4-mapped Address, RFC 4291 — not global (canonicalised to the IPv4 address)
  ['64:ff9b::/96', false], // IPv4-IPv6 Translat., RFC 6052 — globally reachable (judged by the IPv4 address it carries)
  // IPv4-IPv6 Translat. (local use), RFC 8215 — not global. Where its IPv4 address sits depends on
  // the operator's prefix length (RFC 6052 §2.2), so it is refused as a whole, not by that address.
  ['64:ff9b:1::/48', true],
  ['100::/64', true], // Discard-Only Address Block, RFC 6666 — not global
  ['100:0:0:1::/64', true], // Dummy IPv6 Prefix, RFC 9780 — not global
  ['2001::/23', true], // IETF Protocol Assignments, RFC 2928 — not global, unless more specific
  ['2001::/32', false], // TEREDO, RFC 4380 / RFC 8190 — N/A (judged by the server and client IPv4 addresses it carries)
  ['2001:1::1/128', true], // Port Control Protocol Anycast, RFC 7723 — globally reachable, REFUSED as 192.0.0.9
  ['2001:1::2/128', true], // Traversal Using Relays around NAT Anycast, RFC 8155 — globally reachable, REFUSED as 192.0.0.10
  // DNS-SD Service Registration Protocol Anycast, RFC 9665 — globally reachable, REFUSED: it
  // reaches the nearest registrar, a device of the local network.
  ['2001:1::3/128', true],
  ['2001:2::/48', true], // Benchmarking, RFC 5180 / RFC Errata 1752 — not global
  ['2001:3::/32', false], // AMT, RFC 7450 — globally reachable
  ['2001:4:112::/48', false], // AS112-v6, RFC 7535 — globally reachable
  ['2001:10::/28', true], // Deprecated (previously ORCHID), RFC 4843 — not global
  ['2001:20::/28', false], // ORCHIDv2, RFC 7343 — globally reachable
  ['2001:30::/28', false], // Drone Remote ID Protocol Entity Tags (DETs) Prefix, RFC 9374 — globally reachable
  ['2001:db8::/32', true], // Documentation, RFC 3849 — not global
  ['2002::/16', false], // 6to4, RFC 3056 — N/A (judged by the IPv4 address it carries)
  ['2620:4f:8000::/48', false], // Direct Delegation AS112 Service, RFC 7534 — globally reachable
  ['3fff::/20', true], // Documentation, RFC 9637 — not global
  ['5f00::/16', true], // Segment Routing (SRv6) SIDs, RFC 9602 — not global
  ['fc00::/7', true], // Unique-Local, RFC 4193 / RFC 8190 — not global
  ['fe80::/10', true], // Link-Local Unicast, RFC 4291 — not global
];

function entries(rows: readonly Row[], parse: (t: string) => Uint8Array | undefined): Entry[] {
  return rows.map(([block, refused]) => {
    const [address, length] = block.split('/') as [string, string];
    return { bytes: parse(address)!, length: Number(length), refused };
  });
}

const TABLE = { 4: entries(IPV4, parseIPv4), 16: entries(IPV6, parseIPv6) } as const;

/** Whether the 4 or 16 canonical address bytes are refused (the most specific containing entry decides). */
export function refusedByRegistry(bytes: Uint8Array): boolean {
  const table = bytes.length === 4 ? TABLE[4] : bytes.length === 16 ? TABLE[16] : undefined;
  if (table === undefined) return true;
  let best: Entry | undefined;
  for (const e of table) if (within(bytes, e.bytes, e.length) && (best === undefined || e.length > best.length)) best = e;
  return best?.refused ?? false;
}
