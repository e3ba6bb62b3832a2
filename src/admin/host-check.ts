/**
 * Which Host a request to the admin endpoint may name: the defence against DNS rebinding, where a
 * page at http://attacker.example:9900/ has its name re-pointed at 127.0.0.1 and then reads the
 * status page same-origin. Such a browser sends `Host: attacker.example:9900`; the admin's own
 * clients send an address or a name the admin knows. Pure: no sockets, no DNS.
 *
 * Accepted hosts:
 * - the IP address the connection arrived on (what the kubelet and Prometheus send: the pod IP),
 *   in any spelling of it ("[0:0::1]" is "::1", an IPv4 client on a dual-stack socket is IPv4);
 * - `localhost` on a connection that arrived on a loopback address;
 * - the name `admin.listen` binds (e.g. `localhost:9900`) and every `admin.allowed_hosts` entry.
 * The port is not compared: port mappings (docker -p, kubectl port-forward) change the port the
 * client sees, and a rebinding page runs on the admin's own port anyway, so it adds no protection.
 */
import { parseIPv4, parseIPv6 } from '../protocols/ip/address.js';
import { isLoopbackHost } from '../config/admin.js';
import type { Authority } from './request-target.js';

/** An address as the 16 bytes of its IPv6 form (IPv4 as ::ffff:a.b.c.d) in a string, or undefined for a name. */
export function addressKey(text: string): string | undefined {
  const v4 = parseIPv4(text);
  const bytes = v4 === undefined ? parseIPv6(text) : Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, v4[0]!, v4[1]!, v4[2]!, v4[3]!);
  return bytes === undefined ? undefined : String.fromCharCode(...bytes);
}

export interface HostPolicy {
  /** Lowercase names and addresses (as addressKey) accepted besides the connection's own address. */
  readonly allowed: ReadonlySet<string>;
}

/** allowed_hosts entries and the listen host, as the policy compares them. */
export function hostPolicy(names: readonly string[]): HostPolicy {
  return { allowed: new Set(names.map((n) => addressKey(n) ?? n.toLowerCase())) };
}

/** `localAddress` is the socket's local address (undefined once it is gone: then only allowed names pass). */
export function hostAllowed(host: Authority, localAddress: string | undefined, policy: HostPolicy): boolean {
  if (host.kind === 'name') {
    if (host.host === 'localhost' && localAddress !== undefined && isLoopbackHost(localAddress)) return true;
    return policy.allowed.has(host.host);
  }
  const key = addressKey(host.host);
  if (key === undefined) return false;
  return policy.allowed.has(key) || (localAddress !== undefined && addressKey(localAddress) === key);
}
