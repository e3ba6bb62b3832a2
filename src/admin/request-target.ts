/**
 * The request-target of an HTTP/1.1 request line (RFC 9112 §3.2) and the authority of a Host
 * header (RFC 9110 §7.2), parsed by hand for the admin endpoint. Pure and total: every input,
 * however broken, gives a value or a reason (answered 400); nothing throws, so a request line
 * can never end the process (`new URL()` throws on `//[` and on `http://a:99999/`).
 *
 * Reasons never quote the input: they end up in a response body and in the log.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../protocols/ip/address.js';

export interface Authority {
  /** Lowercase name, dotted-quad IPv4, or IPv6 in its canonical text (RFC 5952), without brackets. */
  readonly host: string;
  readonly kind: 'name' | 'ipv4' | 'ipv6';
  /** Undefined when absent or empty ("host:"): the scheme's default (RFC 3986 §3.2.3). */
  readonly port: number | undefined;
}

export type RequestTarget =
  /** origin-form (§3.2.1): "/path?query". `path` is normalised (see normalisePath). */
  | { readonly form: 'origin'; readonly path: string }
  /** absolute-form (§3.2.2): "http://authority/path?query"; its authority replaces the Host header. */
  | { readonly form: 'absolute'; readonly authority: Authority; readonly path: string }
  /** asterisk-form (§3.2.4): "*", for OPTIONS only. */
  | { readonly form: 'asterisk' };

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): { readonly ok: false; readonly reason: string } => ({ ok: false, reason });

// Character classes of RFC 3986 §2.2-2.3, for the 7-bit range; everything above is refused.
const UNRESERVED = 1;
const SUB_DELIM = 2;
const HEXDIG = 4;
const CLASS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = UNRESERVED | HEXDIG;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UNRESERVED | (c <= 0x46 ? HEXDIG : 0);
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = UNRESERVED | (c <= 0x66 ? HEXDIG : 0);
for (const ch of '-._~') CLASS[ch.charCodeAt(0)] = UNRESERVED;
for (const ch of "!$&'()*+,;=") CLASS[ch.charCodeAt(0)] = SUB_DELIM;

const is = (c: number, cls: number): boolean => c < 128 && (CLASS[c]! & cls) !== 0;
const hexValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);
const describeChar = (s: string, i: number): string => `0x${s.charCodeAt(i).toString(16).padStart(2, '0')} at offset ${i}`;

/** "%XX" at s[i]: the octet, or -1 when the two hex digits are missing (RFC 3986 §2.1). */
function percentOctet(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const a = s.charCodeAt(i + 1);
  const b = s.charCodeAt(i + 2);
  if (!is(a, HEXDIG) || !is(b, HEXDIG)) return -1;
  return (hexValue(a) << 4) | hexValue(b);
}

/**
 * path-abempty [ "?" query ] from `start` to the end (RFC 3986 §3.3-3.4). The path comes back
 * normalised as §6.2.2 allows: percent-encoded unreserved characters decoded ("/%6Detrics" is
 * "/metrics"), every other percent-encoding with uppercase hex; no dot-segment removal, so
 * "/./metrics" is simply another path (404). The query is checked and dropped.
 */
function pathAndQuery(s: string, start: number): Parsed<string> {
  let path = '';
  let inQuery = false;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x23) return fail('a request-target has no fragment ("#"), RFC 9112 §3.2');
    if (c === 0x3f && !inQuery) {
      inQuery = true;
      continue;
    }
    if (c === 0x25) {
      const octet = percentOctet(s, i);
      if (octet < 0) return fail(`a "%" not followed by two hex digits, at offset ${i} (RFC 3986 §2.1)`);
      if (!inQuery) path += is(octet, UNRESERVED) ? String.fromCharCode(octet) : `%${s.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
      continue;
    }
    // pchar (unreserved / sub-delims / ":" / "@") and "/" in both; "?" also in the query.
    const allowed = is(c, UNRESERVED | SUB_DELIM) || c === 0x3a || c === 0x40 || c === 0x2f || (inQuery && c === 0x3f);
    if (!allowed) return fail(`character ${describeChar(s, i)} is not allowed in a ${inQuery ? 'query' : 'path'} (RFC 3986 §3.3)`);
    if (!inQuery) path += s[i];
  }
  return { ok: true, value: path === '' ? '/' : path };
}

/**
 * An authority without userinfo: uri-host [ ":" port ] (RFC 3986 §3.2.2-3.2.3), as in an http
 * URI (RFC 9110 §4.2.1: the host must not be empty; §4.2.4: userinfo is refused) and in the Host
 * header (RFC 9110 §7.2). IPv6 only in brackets, without a zone; IPvFuture is refused. A port
 * out of 1..65535 is refused: 0 is not a port a client can have connected to.
 */
export function parseAuthority(s: string): Parsed<Authority> {
  if (s.includes('@')) return fail('userinfo ("user@") is not allowed in an http authority (RFC 9110 §4.2.4)');
  let hostEnd: number;
  let host: Authority;
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']');
    if (close < 0) return fail('an IPv6 host opens "[" without closing it');
    const bytes = parseIPv6(s.slice(1, close));
    if (bytes === undefined) return fail('the bracketed host is not an IPv6 address (no zone IDs, no IPvFuture)');
    host = { host: formatIPv6(bytes), kind: 'ipv6', port: undefined };
    hostEnd = close + 1;
    if (hostEnd < s.length && s.charCodeAt(hostEnd) !== 0x3a) return fail(`character ${describeChar(s, hostEnd)} after "]": only ":port" may follow`);
  } else {
    hostEnd = 0;
    while (hostEnd < s.length && s.charCodeAt(hostEnd) !== 0x3a) {
      const c = s.charCodeAt(hostEnd);
      if (c === 0x25) {
        if (percentOctet(s, hostEnd) < 0) return fail(`a "%" not followed by two hex digits, at offset ${hostEnd} (RFC 3986 §2.1)`);
        hostEnd += 3;
        continue;
      }
      if (!is(c, UNRESERVED | SUB_DELIM)) return fail(`character ${describeChar(s, hostEnd)} is not allowed in a host name (RFC 3986 §3.2.2)`);
      hostEnd++;
    }
    if (hostEnd === 0) return fail('the host is empty (RFC 9110 §4.2.1)');
    const text = s.slice(0, hostEnd);
    const v4 = parseIPv4(text);
    host = v4 !== undefined ? { host: formatIPv4(v4), kind: 'ipv4', port: undefined } : { host: text.toLowerCase(), kind: 'name', port: undefined };
  }
  // Nothing after the host, or ":" and nothing: the scheme's default port (RFC 3986 §3.2.3).
  if (hostEnd + 1 >= s.length) return { ok: true, value: host };
  let port = 0;
  for (let i = hostEnd + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return fail(`character ${describeChar(s, i)} in the port: a port is digits only`);
    port = port * 10 + (c - 0x30);
    if (port > 65535) return fail('the port is out of range (1 to 65535)');
  }
  if (port === 0) return fail('port 0 is not a port one can connect to');
  return { ok: true, value: { ...host, port } };
}

/** The length of a URI scheme at the start of s (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), or 0. */
function schemeLength(s: string): number {
  const first = s.charCodeAt(0);
  if (!((first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a)) return 0;
  let i = 1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const schemeChar = (is(c, UNRESERVED) && c !== 0x5f && c !== 0x7e) || c === 0x2b;
    if (!schemeChar) break;
    i++;
  }
  return i;
}

export function parseRequestTarget(s: string): Parsed<RequestTarget> {
  if (s.length === 0) return fail('the request-target is empty');
  if (s === '*') return { ok: true, value: { form: 'asterisk' } };
  if (s.charCodeAt(0) === 0x2f) {
    const path = pathAndQuery(s, 0);
    return path.ok ? { ok: true, value: { form: 'origin', path: path.value } } : path;
  }
  const n = schemeLength(s);
  if (n === 0 || s.charCodeAt(n) !== 0x3a) return fail('the request-target is neither "/path" (origin-form), "http://host/path" (absolute-form) nor "*" (RFC 9112 §3.2)');
  const scheme = s.slice(0, n).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return fail('an absolute-form target must be an http or https URI');
  if (s.charCodeAt(n + 1) !== 0x2f || s.charCodeAt(n + 2) !== 0x2f) return fail('an http URI needs "//" and an authority (RFC 9110 §4.2.1)');
  const from = n + 3;
  let to = from;
  while (to < s.length && s.charCodeAt(to) !== 0x2f && s.charCodeAt(to) !== 0x3f && s.charCodeAt(to) !== 0x23) to++;
  const authority = parseAuthority(s.slice(from, to));
  if (!authority.ok) return authority;
  const path = pathAndQuery(s, to);
  return path.ok ? { ok: true, value: { form: 'absolute', authority: authority.value, path: path.value } } : path;
}
