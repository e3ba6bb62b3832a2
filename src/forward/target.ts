/**
 * The target of `CONNECT host:port HTTP/1.1` (RFC 9110 §9.3.6: authority-form, RFC 9112 §3.2.3).
 * Pure: returns the host and port, or why the target is malformed (answered with 400).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { isHostName } from '../config/units.js';

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
    if (!isIPv4(host) && !isHostName(host.endsWith('.') ? host.slice(0, -1) : host)) return { ok: false, reason: 'the host is not a valid name or address' };
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: 'the port must be a number' };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, reason: 'the port must be from 1 to 65535' };
  return { ok: true, host: host.toLowerCase().replace(/\.$/, ''), port };
}
