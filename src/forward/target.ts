/**
 * The target of `CONNECT host:port HTTP/1.1` (RFC 9110 §9.3.6: authority-form, RFC 9112 §3.2.3).
 * Pure: returns the host and port, or why the target is malformed (answered with 400).
 *
 * An IPv4 address is four decimal octets (RFC 3986 §3.2.2 IPv4address). A host that ends in a
 * number but is not that — "127.1", "2130706433", "0177.0.0.1", "0x7f.1" — is refused here: it is
 * no DNS name (RFC 3696 §2), and getaddrinfo would read it as an address, past the allowlist's
 * CIDRs and names alike.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isHostName } from '../config/units.js';
import type { HostField } from '../protocols/http/request.js';
import { canonicalHostText, endsInNumber } from '../protocols/ip/canonical.js';

export type ConnectTarget = { readonly ok: true; readonly host: string; readonly port: number } | { readonly ok: false; readonly reason: string };


export function parseConnectTarget(target: string): ConnectTarget {
  let host: string;
  let portText: string;
  if (target.startsWith('[')) {
    const end = target.indexOf(']');
    if (end < 0 || target[end + 1] !== ':') return { ok: false, reason: 'an IPv6 target is written [addr]:port' };
    host = target.slice(1, end);
    portText = target.slice(end + 2);
    if (!isIPv6(host) || host.includes('%')) return { ok: false, reason: `"${host}" is not an IPv6 address` };
  } else {
    const colon = target.lastIndexOf(':');
    if (colon <= 0) return { ok: false, reason: 'the target must be host:port' };
    host = target.slice(0, colon);
    portText = target.slice(colon + 1);
    const bare = host.endsWith('.') ? host.slice(0, -1) : host;
    if (!isIPv4(bare) && !isHostName(bare)) return { ok: false, reason: 'the host is not a valid name or address' };
    if (!isIPv4(bare) && endsInNumber(bare)) return { ok: false, reason: `"${host}" is neither a host name nor an IPv4 address in dotted-decimal form (four decimal octets)` };
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: 'the port must be a number' };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, reason: 'the port must be from 1 to 65535' };
  return { ok: true, host: canonicalHostText(host), port };
}

/**
 * Why the Host header of a CONNECT request disagrees with its target, or undefined when it agrees
 * or is absent. The tunnel goes to the target (RFC 9110 §9.3.6), and that is what routes and the
 * allowlist judge; a Host naming another place is refused, so that nothing in front of or behind
 * portplex can read the request as going there. Compared normalised: the parser lowercased the
 * host and took IPv6 brackets off, and both sides are compared in canonicalHostText's one spelling
 * (one trailing dot ignored, addresses by value: "[::ffff:127.0.0.1]" is 127.0.0.1). A Host without a port agrees with any target port: CONNECT
 * has no scheme whose default port it could mean (clients such as curl send the port anyway).
 */
export function hostHeaderDisagrees(field: HostField | undefined, target: { readonly host: string; readonly port: number }): string | undefined {
  if (field === undefined) return undefined;
  if (field.host === undefined) return 'Host is empty';
  const same = canonicalHostText(field.host) === target.host;
  if (!same) return `Host names ${formatHost(field.host)}, the target ${formatHost(target.host)}`;
  if (field.port !== undefined && field.port !== target.port) return `Host names port ${field.port}, the target port ${target.port}`;
  return undefined;
}

const formatHost = (h: string): string => (h.includes(':') ? `[${h}]` : h);
