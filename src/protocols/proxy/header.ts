/**
 * PROXY protocol header ENCODER (haproxy doc/proxy-protocol.txt).
 *
 * Version 1 (§2.1), one text line of at most 107 bytes including CRLF:
 *   "PROXY" SP ( "TCP4" / "TCP6" ) SP src SP dst SP srcport SP dstport CRLF
 *   "PROXY UNKNOWN" CRLF                       (short form; this encoder never sends the long one)
 * v1 has no UDP (§2.1 defines only TCP4, TCP6 and UNKNOWN), so udp4/udp6 addresses are sent as
 * "PROXY UNKNOWN" CRLF: the receiver then uses the connection's own addresses, which is what §2.1 says
 * UNKNOWN is for ("other protocols"); the config refuses send_proxy v1 for UDP backends anyway.
 * Addresses are written in their canonical text form (dotted quad; RFC 5952 for IPv6), ports in
 * decimal without leading zeros. The longest line this encoder can produce is TCP6 with two
 * 39-character addresses and 5-digit ports: 104 bytes.
 *
 * Version 2 (§2.2), binary:
 *   sig[12] = 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *   ver_cmd = 0x21 (version 2, PROXY) / 0x20 (version 2, LOCAL)
 *   fam     = 0x11 TCP over IPv4 / 0x21 TCP over IPv6 / 0x12 UDP over IPv4 / 0x22 UDP over IPv6 /
 *             0x00 UNSPEC (high nibble: address family; low nibble: transport 1 STREAM / 2 DGRAM)
 *   len     = big-endian u16, number of bytes that follow (addresses + TLVs)
 *   IPv4: src_addr[4] dst_addr[4] src_port[2] dst_port[2]   (12 bytes)
 *   IPv6: src_addr[16] dst_addr[16] src_port[2] dst_port[2] (36 bytes)
 *   TLVs (§2.2.1): type[1] length_hi[1] length_lo[1] value[length]
 *
 * Choices:
 * - LOCAL (opts.local) is sent with fam UNSPEC and no address block (§2.2: the receiver uses the
 *   real connection endpoints); TLVs, if given, are still sent.
 * - A ProxyAddresses that does not hold valid addresses/ports for its family is encoded as
 *   "PROXY UNKNOWN\r\n" (v1) / PROXY + UNSPEC with no address block (v2). Encoders never throw
 *   for address content. A TLV type outside 0..255 is a programming error: RangeError.
 * - opts.crc32c appends a PP2_TYPE_CRC32C TLV (§2.2.3) as the last TLV, computed over the whole
 *   header (signature included) with its value zeroed, stored big-endian (network order, as
 *   haproxy does). Caller-supplied CRC32C TLVs are dropped in that case.
 * - If len would exceed 65535 the result is { ok: false, code: 'PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE' }:
 *   nothing is truncated.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { crc32c } from './crc32c.js';
import { PROXY_V2_SIGNATURE } from './v2.js';
import { formatIPv4, formatIPv6, isV4Mapped, parseIPv4, parseIPv6 } from '../ip/address.js';

export interface ProxyAddresses {
  /** tcp4/tcp6: STREAM; udp4/udp6: DGRAM (§2.2 transport nibble 2); unknown: nothing usable. */
  readonly family: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unknown';
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
}
/** What proxyAddresses answers for a TCP connection / a UDP flow (the overloads narrow it). */
export type StreamProxyAddresses = ProxyAddresses & { readonly family: 'tcp4' | 'tcp6' | 'unknown' };
export type DgramProxyAddresses = ProxyAddresses & { readonly family: 'udp4' | 'udp6' | 'unknown' };
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}
export const PP2_TYPE_ALPN = 0x01,
  PP2_TYPE_AUTHORITY = 0x02,
  PP2_TYPE_CRC32C = 0x03,
  PP2_TYPE_NOOP = 0x04,
  PP2_TYPE_UNIQUE_ID = 0x05,
  PP2_TYPE_SSL = 0x20,
  PP2_TYPE_NETNS = 0x30;

export type EncodeResult =
  | { ok: true; header: Buffer }
  | { ok: false; code: 'PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE'; message: string };

/** What proxyAddresses is describing: a TCP connection (the default) or a UDP flow. */
export type ProxyTransport = 'stream' | 'dgram';

/** Per family: IPv6 or IPv4 address block, and the v2 fam byte (§2.2). */
const FAMILY_WIRE = {
  tcp4: { v6: false, fam: 0x11 },
  tcp6: { v6: true, fam: 0x21 },
  udp4: { v6: false, fam: 0x12 },
  udp6: { v6: true, fam: 0x22 },
} as const;

const V2_SIGNATURE = PROXY_V2_SIGNATURE;
const MAX_V2_LEN = 0xffff;

// ---------------------------------------------------------------------------------------------
// Address classification (text <-> bytes in ip-address.ts)

type Ip = { readonly v4: Uint8Array } | { readonly v6: Uint8Array };

/** Validated with node:net, then parsed by the pure parsers above; IPv4-mapped IPv6 becomes v4. */
function classify(address: string): Ip | undefined {
  if (typeof address !== 'string') return undefined;
  if (isIPv4(address)) {
    const v4 = parseIPv4(address);
    return v4 === undefined ? undefined : { v4 };
  }
  if (isIPv6(address)) {
    const v6 = parseIPv6(address);
    if (v6 === undefined) return undefined;
    return isV4Mapped(v6) ? { v4: v6.subarray(12, 16) } : { v6 };
  }
  return undefined;
}

function v4Of(ip: Ip | undefined): Uint8Array | undefined {
  return ip !== undefined && 'v4' in ip ? ip.v4 : undefined;
}

function v6Of(ip: Ip | undefined): Uint8Array | undefined {
  if (ip === undefined) return undefined;
  if ('v6' in ip) return ip.v6;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip.v4, 12);
  return out;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

// ---------------------------------------------------------------------------------------------

/**
 * Picks the family from the socket addresses; IPv4-mapped IPv6 (::ffff:1.2.3.4) on both ends is
 * reported as tcp4 with dotted addresses; mixed v4/v6 (one side mapped, other real v6) -> tcp6
 * with the v4 side written as ::ffff:a.b.c.d. IPv6 addresses are returned in RFC 5952 canonical
 * form. An invalid address (including a zone ID) or port gives family 'unknown'; the input
 * addresses and ports are then passed through unchanged, for logging only.
 * `transport: 'dgram'` (a UDP flow) gives udp4/udp6 by the same rules instead of tcp4/tcp6.
 */
export function proxyAddresses(
  src: { address: string; port: number },
  dst: { address: string; port: number },
  opts?: { readonly transport?: 'stream' },
): StreamProxyAddresses;
export function proxyAddresses(
  src: { address: string; port: number },
  dst: { address: string; port: number },
  opts: { readonly transport: 'dgram' },
): DgramProxyAddresses;
export function proxyAddresses(
  src: { address: string; port: number },
  dst: { address: string; port: number },
  opts?: { readonly transport?: ProxyTransport },
): ProxyAddresses;
export function proxyAddresses(
  src: { address: string; port: number },
  dst: { address: string; port: number },
  opts: { readonly transport?: ProxyTransport } = {},
): ProxyAddresses {
  const dgram = opts.transport === 'dgram';
  const s = classify(src.address);
  const d = classify(dst.address);
  if (s === undefined || d === undefined || !validPort(src.port) || !validPort(dst.port)) {
    return { family: 'unknown', srcAddress: src.address, srcPort: src.port, dstAddress: dst.address, dstPort: dst.port };
  }
  const s4 = v4Of(s);
  const d4 = v4Of(d);
  if (s4 !== undefined && d4 !== undefined) {
    return { family: dgram ? 'udp4' : 'tcp4', srcAddress: formatIPv4(s4), srcPort: src.port, dstAddress: formatIPv4(d4), dstPort: dst.port };
  }
  return {
    family: dgram ? 'udp6' : 'tcp6',
    srcAddress: formatIPv6(v6Of(s)!),
    srcPort: src.port,
    dstAddress: formatIPv6(v6Of(d)!),
    dstPort: dst.port,
  };
}

/**
 * The address bytes and family byte to send, or undefined when `a` cannot be sent as its family
 * (TCP4/TCP6/UDP4/UDP6). Addresses are 4 bytes each for IPv4 families, 16 for IPv6 ones.
 */
function addressBlock(a: ProxyAddresses): { fam: number; src: Uint8Array; dst: Uint8Array } | undefined {
  if (a.family === 'unknown' || !validPort(a.srcPort) || !validPort(a.dstPort)) return undefined;
  const wire = FAMILY_WIRE[a.family];
  if (wire === undefined) return undefined; // a family from outside the type (plain JS callers)
  const s = classify(a.srcAddress);
  const d = classify(a.dstAddress);
  const src = wire.v6 ? v6Of(s) : v4Of(s);
  const dst = wire.v6 ? v6Of(d) : v4Of(d);
  return src === undefined || dst === undefined ? undefined : { fam: wire.fam, src, dst };
}

const UNKNOWN_V1 = 'PROXY UNKNOWN\r\n';

/**
 * "PROXY TCP4 1.2.3.4 5.6.7.8 1234 443\r\n", "PROXY UNKNOWN\r\n" (also for udp4/udp6: v1 has no
 * UDP, see the module comment); never over 107 bytes (§2.1).
 */
export function encodeProxyV1(a: ProxyAddresses): Buffer {
  const block = a.family === 'udp4' || a.family === 'udp6' ? undefined : addressBlock(a);
  if (block === undefined) return Buffer.from(UNKNOWN_V1, 'latin1');
  const v4 = block.src.length === 4;
  const fmt = v4 ? formatIPv4 : formatIPv6;
  const line = `PROXY ${v4 ? 'TCP4' : 'TCP6'} ${fmt(block.src)} ${fmt(block.dst)} ${a.srcPort} ${a.dstPort}\r\n`;
  return Buffer.from(line, 'latin1');
}

/** Binary v2 header (§2.2) with `tlvs` in order; see the module comment for LOCAL / CRC32C / size rules. */
export function encodeProxyV2(
  a: ProxyAddresses,
  tlvs: readonly ProxyTlv[] = [],
  opts: { local?: boolean; crc32c?: boolean } = {},
): EncodeResult {
  const local = opts.local === true;
  const withCrc = opts.crc32c === true;
  const block = local ? undefined : addressBlock(a);
  const addrLen = block === undefined ? 0 : 2 * block.src.length + 4; // §2.2: 12 (IPv4) / 36 (IPv6)

  const sent = withCrc ? tlvs.filter((t) => t.type !== PP2_TYPE_CRC32C) : tlvs;
  let len = addrLen + (withCrc ? 7 : 0);
  for (const t of sent) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 0xff) {
      throw new RangeError(`PROXY v2 TLV type must be an integer 0..255, got ${String(t.type)}`);
    }
    len += 3 + t.value.length;
  }
  if (len > MAX_V2_LEN) {
    return {
      ok: false,
      code: 'PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE',
      message: `PROXY v2 header needs ${len} bytes after the 16-byte fixed part; the length field holds at most ${MAX_V2_LEN}`,
    };
  }

  const header = Buffer.alloc(16 + len);
  header.set(V2_SIGNATURE, 0);
  header[12] = local ? 0x20 : 0x21;
  header[13] = block === undefined ? 0x00 : block.fam;
  header.writeUInt16BE(len, 14);
  let o = 16;
  if (block !== undefined) {
    header.set(block.src, o);
    o += block.src.length;
    header.set(block.dst, o);
    o += block.dst.length;
    header.writeUInt16BE(a.srcPort, o);
    header.writeUInt16BE(a.dstPort, o + 2);
    o += 4;
  }
  for (const t of sent) {
    header[o] = t.type;
    header.writeUInt16BE(t.value.length, o + 1);
    header.set(t.value, o + 3);
    o += 3 + t.value.length;
  }
  if (withCrc) {
    header[o] = PP2_TYPE_CRC32C;
    header.writeUInt16BE(4, o + 1);
    // value bytes are already zero (Buffer.alloc): checksum the whole header, then fill them in.
    header.writeUInt32BE(crc32c(header), o + 3);
    o += 7;
  }
  return { ok: true, header };
}

/**
 * Convenience: the TLVs portplex sends: AUTHORITY with the SNI when known, ALPN (the first
 * protocol the client offered) when known. Empty strings count as unknown. AUTHORITY is UTF-8
 * (§2.2.2); the ALPN protocol id is written one byte per char (latin1), so an id decoded from the
 * wire as latin1 goes back out byte for byte.
 */
export function standardTlvs(sni: string | undefined, alpn: string | undefined): ProxyTlv[] {
  const out: ProxyTlv[] = [];
  if (sni !== undefined && sni !== '') out.push({ type: PP2_TYPE_AUTHORITY, value: Buffer.from(sni, 'utf8') });
  if (alpn !== undefined && alpn !== '') out.push({ type: PP2_TYPE_ALPN, value: Buffer.from(alpn, 'latin1') });
  return out;
}
