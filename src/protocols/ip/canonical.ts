/**
 * One canonical form per IP address, whatever its spelling: the SSRF guard (src/forward/) and
 * its allowlist judge this form and nothing else, so "127.0.0.1", "::ffff:127.0.0.1",
 * "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:0001", "::127.0.0.1" and "64:ff9b::7f00:1" get one answer.
 *
 * Pure and total. Text is accepted only in the two standard spellings (RFC 3986 §3.2.2
 * dotted-decimal IPv4, RFC 4291 §2.2 IPv6 text); anything else — zone IDs ("fe80::1%eth0"),
 * brackets, and the inet_aton forms "127.1", "2130706433", "0177.0.0.1", "0x7f.1" — is not an
 * address here (undefined): such text must never reach getaddrinfo, which reads it as an address.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './address.js';

export interface CanonicalAddress {
  /** 'ipv4' also for the IPv6 forms that ARE an IPv4 address (mapped, compatible, translated). */
  readonly family: 'ipv4' | 'ipv6';
  /** 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  /**
   * IPv4 addresses an IPv6 address carries for a translator or relay to reach (NAT64, 6to4,
   * Teredo: the server, then the client); [] when there are none, and always for family 'ipv4'.
   */
  readonly embedded: readonly Uint8Array[];
}

/** Text (no brackets, no zone) to its canonical form, or undefined when it is not an address. */
export function canonicalAddress(text: string): CanonicalAddress | undefined {
  const bytes = text.includes(':') ? parseIPv6(text) : parseIPv4(text);
  return bytes === undefined ? undefined : canonicalBytes(bytes);
}

/** 4 or 16 address bytes to their canonical form (16 bytes that spell an IPv4 address become that address). */
export function canonicalBytes(bytes: Uint8Array): CanonicalAddress {
  if (bytes.length === 4) return { family: 'ipv4', bytes, embedded: [] };
  const e = EMBEDDINGS.find((f) => within(bytes, f.prefix, f.length) && (f.except === undefined || !within(bytes, f.except, f.exceptLength!)));
  if (e === undefined) return { family: 'ipv6', bytes, embedded: [] };
  if (e.same) return { family: 'ipv4', bytes: bytes.slice(12, 16), embedded: [] };
  return { family: 'ipv6', bytes, embedded: e.at !== undefined ? [bytes.slice(e.at, e.at + 4)] : e.carried!(bytes) };
}

/** Whether `address` lies in `network`/`length` (same family: 4 or 16 bytes each). */
export function within(address: Uint8Array, network: Uint8Array, length: number): boolean {
  if (address.length !== network.length || length < 0 || length > address.length * 8) return false;
  const whole = length >>> 3;
  for (let k = 0; k < whole; k++) if (address[k] !== network[k]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole]! & mask) === (network[whole]! & mask);
}

const v6 = (text: string): Uint8Array => parseIPv6(text)!;

interface Embedding {
  readonly name: string;
  readonly prefix: Uint8Array;
  readonly length: number;
  /** The prefix's addresses that are not this embedding. */
  readonly except?: Uint8Array;
  readonly exceptLength?: number;
  /**
   * true: the address IS the IPv4 address in its low 32 bits (a dual-stack host treats it so);
   * false: it carries IPv4 addresses for a translator or relay (not this host's stack) to reach.
   */
  readonly same: boolean;
  /** Byte offset of the one IPv4 address it holds... */
  readonly at?: number;
  /** ...or, for Teredo, the two it carries. */
  readonly carried?: (b: Uint8Array) => Uint8Array[];
}

/** The IPv6 prefixes that embed IPv4 addresses. */
const EMBEDDINGS: readonly Embedding[] = [
  // IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2): a socket connects to the IPv4 address.
  { name: 'IPv4-mapped (::ffff:0:0/96)', prefix: v6('::ffff:0:0'), length: 96, same: true, at: 12 },
  // IPv4-translated ::ffff:0:0:0/96 (RFC 2765 §2.1, SIIT): the IPv4 node behind the translator.
  { name: 'IPv4-translated (::ffff:0:0:0/96)', prefix: v6('::ffff:0:0:0'), length: 96, same: true, at: 12 },
  // IPv4-compatible ::/96 (RFC 4291 §2.5.5.1, deprecated), except :: and ::1, which §2.5.2 and
  // §2.5.3 make the IPv6 unspecified and loopback addresses.
  { name: 'IPv4-compatible (::/96)', prefix: v6('::'), length: 96, except: v6('::'), exceptLength: 127, same: true, at: 12 },
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1): the IPv4 address in bits 96-127 (§2.2).
  // (The local-use 64:ff9b:1::/48 of RFC 8215 is not here: where its IPv4 address sits depends
  // on the prefix length the operator chose, RFC 6052 §2.2, so it is judged as IPv6 — refused.)
  { name: 'NAT64 (64:ff9b::/96)', prefix: v6('64:ff9b::'), length: 96, same: false, at: 12 },
  // 6to4 2002::/16 (RFC 3056 §2): 2002:V4ADDR::/48, the IPv4 address in bits 16-47.
  { name: '6to4 (2002::/16)', prefix: v6('2002::'), length: 16, same: false, at: 2 },
  // Teredo 2001::/32 (RFC 4380 §4): the Teredo server's IPv4 address in bits 32-63; the client's
  // mapped IPv4 address in bits 96-127 with every bit inverted ("obfuscated").
  { name: 'Teredo (2001::/32)', prefix: v6('2001::'), length: 32, same: false, carried: (b) => [b.slice(4, 8), b.slice(12, 16).map((x) => x ^ 0xff)] },
];

/**
 * The embedding an IPv6 network `bytes`/`length` lies wholly inside (every address of it is judged
 * by an IPv4 address, so an IPv6 CIDR cannot name them), and the IPv4 network it spells when it
 * carries one address (not Teredo's two); undefined when it is not inside one.
 */
export function embeddingNetwork(bytes: Uint8Array, length: number): { readonly name: string; readonly ipv4: string | undefined } | undefined {
  if (bytes.length !== 16) return undefined;
  const e = EMBEDDINGS.find((f) => length >= f.length && within(bytes, f.prefix, f.length) && (f.except === undefined || !within(bytes, f.except, Math.min(length, f.exceptLength!))));
  if (e === undefined) return undefined;
  const at = e.at;
  if (at === undefined) return { name: e.name, ipv4: undefined };
  const v4Length = Math.max(0, Math.min(32, length - at * 8));
  return { name: e.name, ipv4: `${bytes[at]!}.${bytes[at + 1]!}.${bytes[at + 2]!}.${bytes[at + 3]!}/${v4Length}` };
}

/**
 * Whether a host name ends in a number, as the WHATWG URL host parser ("ends in a number") and
 * inet_aton read it: its last label (one trailing dot ignored) is all decimal digits, or "0x"
 * followed by hex digits. getaddrinfo turns such a name into an address ("127.1" is 127.0.0.1);
 * no DNS name ends so (RFC 3696 §2: a top-level domain is never all-numeric).
 */
export function endsInNumber(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  const last = bare.slice(bare.lastIndexOf('.') + 1);
  return /^\d+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

/**
 * The one spelling of a host that routes, allowlists and the tunnel all see: an address in its
 * canonical text (an IPv6 form that is an IPv4 address written as that IPv4 address, other IPv6
 * compressed and lowercase), a name lowercased without its one trailing dot. A CONNECT route
 * matching on `http.host` and the tunnel that then dials must read one target the same way, or
 * "admin.internal." or "[::ffff:10.0.0.5]" would slip past a route written for the plain form.
 */
export function canonicalHostText(host: string): string {
  const c = canonicalAddress(host);
  if (c !== undefined) return c.family === 'ipv4' ? formatIPv4(c.bytes) : formatIPv6(c.bytes);
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
