/** Parsing of the units admins write in rule files: durations, sizes, host:port pairs, CIDRs. */
import { isIP, isIPv4 } from 'node:net';
import type { Cidr, HostPort } from './types.js';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  const m = DURATION.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!);
}

const SIZE = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i;
const UNIT_BYTES: Record<string, number> = { b: 1, k: 1024, kb: 1024, kib: 1024, m: 1048576, mb: 1048576, mib: 1048576 };

export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = SIZE.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_BYTES[(m[2] ?? 'b').toLowerCase()]!;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/** A DNS host name (labels of letters, digits, "-", "_"; at most 253 characters), any case, no trailing dot. */
export function isHostName(name: string): boolean {
  return HOSTNAME.test(name);
}

/**
 * "127.0.0.1:8443", "[::1]:8443", "localhost:22", ":443" (all IPv4 addresses, like nginx's
 * `listen 443`), "[::]:443". Returns an error message instead of throwing.
 */
export function parseHostPort(text: string, opts: { allowEmptyHost: boolean; allowPortZero?: boolean }): HostPort | string {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') return `"${text}": an IPv6 address is written [addr]:port`;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIP(host) || host.includes('%') || isIPv4(host)) return `"${text}": "${host}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return `"${text}": expected host:port`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return `"${text}": write IPv6 addresses in brackets, as [${host}]:${portText}`;
    if (host === '') {
      if (!opts.allowEmptyHost) return `"${text}": a host is needed before the port`;
      host = '0.0.0.0';
    } else if (!isIPv4(host) && !HOSTNAME.test(host)) {
      return `"${text}": "${host}" is neither an IPv4 address nor a host name`;
    }
  }
  const lowest = opts.allowPortZero === true ? 0 : 1;
  const portHelp = `"${text}": the port must be a number from ${lowest} to 65535${lowest === 0 ? ' (0: chosen by the system)' : ''}`;
  if (!/^\d{1,5}$/.test(portText)) return portHelp;
  const port = Number(portText);
  if (port < lowest || port > 65535) return portHelp;
  return { host, port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0 || address.includes('%')) return `"${text}": "${address}" is not an IP address`;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `"${text}": the prefix length must be 0 to ${max}`;
    prefix = Number(p);
  }
  return { family: family === 4 ? 'ipv4' : 'ipv6', address, prefix };
}
