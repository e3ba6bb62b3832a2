/**
 * PROXY protocol version 2 DECODER: the binary header (haproxy doc/proxy-protocol.txt §2.2).
 *
 *   sig[12]  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *   ver_cmd  high nibble: version, must be 2; low nibble: command 0 LOCAL / 1 PROXY
 *   fam      high nibble: family 0 UNSPEC / 1 INET / 2 INET6 / 3 UNIX;
 *            low nibble: transport 0 UNSPEC / 1 STREAM / 2 DGRAM
 *   len      big-endian u16: the header is exactly 16 + len bytes
 *   address block (PROXY command): INET 4+4+2+2 = 12, INET6 16+16+2+2 = 36, UNIX 108+108 = 216
 *   TLVs (§2.2, "struct pp2_tlv"): type[1] length_hi[1] length_lo[1] value[length], until 16 + len
 *
 * A pure function over all bytes received so far (see result.ts): never throws on input, every read
 * is bound-checked, TLV values are zero-copy subarray views of the input.
 *
 * Decisions (spec section in brackets):
 * - Signature: invalid as soon as one received byte differs from it [§2.2]. Before 16 bytes the
 *   answer is incomplete(16); once `len` is known, incomplete(16 + len).
 * - Version nibble other than 2 is invalid ("the receiver must only accept this value") [§2.2];
 *   command other than LOCAL/PROXY is invalid ("Receivers must drop connections presenting
 *   unexpected values here") [§2.2]; family nibble > 3 and transport nibble > 2 are invalid ("must
 *   be rejected as invalid by receivers") [§2.2]. Each is decided on the byte that carries it.
 * - `len` is always honoured exactly: the header is 16 + len bytes and `ok.length` points just past
 *   it, whatever the command [§2.2 "Receivers MUST always consider this field to skip the
 *   appropriate number of bytes"]. A `16 + len` above `limits.maxLength` is invalid as soon as the
 *   16 fixed bytes are in, without waiting for the rest.
 * - PROXY command: only the family/transport bytes listed in §2.2 ("In practice, the following
 *   protocol bytes are expected") are accepted: 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32. A mixed
 *   UNSPEC byte (0x01, 0x02, 0x10, 0x20, 0x30) has no defined address block, so it is invalid
 *   rather than guessed. A `len` shorter than the family's address block is invalid (decided on
 *   the 16 fixed bytes). UNSPEC (0x00): no addresses, everything inside len is TLVs. INET/INET6:
 *   src/dst with ports. UNIX: srcPath/dstPath, no ports.
 * - LOCAL command: "discard the protocol block including the family which is ignored" [§2.2], and
 *   a LOCAL sender "should not present any address" [§2.2]. So for LOCAL no src/dst/paths are
 *   returned, and the bytes inside len are read as TLVs starting right after the 16 fixed bytes
 *   (this is what AWS Network Load Balancer health checks send: ver_cmd 0x20, fam 0x11, len 84,
 *   CRC32C + NOOP TLVs and no address block — capture in kubernetes/kubernetes#57250, whose CRC
 *   only verifies with that reading). If they do not form TLVs that way but the family's address
 *   block fits in len and the bytes after it do, that reading is used instead (a sender that did
 *   put addresses in a LOCAL header). If neither reading works, the header is invalid.
 *   `family` and `transport` report the byte as sent, for logging; they carry no meaning for LOCAL.
 * - TLVs are only looked for inside len [§2.2]. A TLV whose length runs past 16 + len is invalid;
 *   1 or 2 bytes left over at the end of len (too short for a TLV header) are invalid (haproxy
 *   does the same). Every TLV, known or not, is returned in order in `tlvs`.
 * - PP2_TYPE_CRC32C (0x03) [§2.2.3]: value must be exactly 4 bytes (big-endian, network order, as
 *   haproxy writes it); the CRC32C of the whole header (16 + len bytes, nothing after it) computed
 *   with those 4 bytes zeroed must equal it, else invalid. `crc32cVerified` is true when at least
 *   one CRC32C TLV was present (each one is checked the same way, as haproxy does).
 * - PP2_TYPE_UNIQUE_ID (0x05) longer than 128 bytes is invalid ("up to 128 bytes") [§2.2.5].
 * - Decoded well-known TLVs; the first TLV of a type wins, like haproxy's lookup:
 *     AUTHORITY (0x02) -> `authority`, UTF-8 [§2.2.2]; left undefined (TLV still in `tlvs`) when
 *       the bytes are not valid UTF-8.
 *     ALPN (0x01) -> `alpn`, one char per byte (latin1), so it round-trips with the encoder's
 *       standardTlvs() [§2.2.1].
 *     UNIQUE_ID (0x05) -> `uniqueId`, a view [§2.2.5].
 *     0xEA (in the custom range 0xE0-0xEF [§2.2.8]), AWS: first value byte is a subtype; subtype
 *       0x01 (PP2_SUBTYPE_AWS_VPCE_ID) is followed by the VPC endpoint id in ASCII -> `awsVpceId`
 *       (AWS Elastic Load Balancing docs, Network Load Balancer target groups, "Proxy protocol",
 *       "VPC endpoint ID"). Other subtypes or non-printable-ASCII ids leave it undefined.
 * - UNIX paths: 108 bytes each [§2.2]; the path is the bytes before the first NUL (all 108 if
 *   there is none), as UTF-8. A Linux abstract address (first byte NUL, something non-NUL after)
 *   is reported as "@" + the bytes up to the next NUL, the notation ss(8) and systemd use.
 * - IPv6 addresses are formatted per RFC 5952 §4 (lowercase, shortest, longest zero run as "::"),
 *   IPv4-mapped ones as "::ffff:a.b.c.d" (RFC 5952 §5), the same text the encoder
 *   (proxy-header.ts) produces.
 * - Limits: `maxLength` caps the whole header (16 + len), default 16 + 65535 (no cap beyond the
 *   format's own). `maxTlvValue` caps one TLV value, default 65535 (no cap beyond `len`): values
 *   are zero-copy views and the whole header is already bounded by maxLength, so a smaller
 *   default would only refuse legitimate large TLVs (e.g. SSL TLVs carrying certificates).
 */
import { TextDecoder } from 'node:util';
import { crc32c } from './crc32c.js';
import { formatIPv4, formatIPv6 } from '../ip/address.js';
import { incomplete, invalid, ok, type ParseResult } from '../result.js';
import { latin1 } from '../bytes.js';

/** @internal Kept for proxy-v1.ts, not part of the parser API: RFC 5952 text of 16 bytes (ip-address.ts). */
export { formatIPv6 as formatIPv6Address } from '../ip/address.js';

export interface ProxyTlvEntry {
  readonly type: number;
  readonly value: Uint8Array;
}

export interface ProxyV2Header {
  readonly version: 2;
  readonly command: 'local' | 'proxy';
  readonly family: 'unspec' | 'inet' | 'inet6' | 'unix';
  readonly transport: 'unspec' | 'stream' | 'dgram';
  readonly src?: { address: string; port: number };
  readonly dst?: { address: string; port: number };
  readonly srcPath?: string;
  readonly dstPath?: string;
  readonly tlvs: readonly ProxyTlvEntry[];
  readonly crc32cVerified: boolean;
  readonly authority?: string;
  readonly alpn?: string;
  readonly uniqueId?: Uint8Array;
  readonly awsVpceId?: string;
}

export interface ProxyV2Limits {
  /** Largest whole header accepted, 16 + len. Default 16 + 65535. */
  readonly maxLength?: number;
  /** Largest single TLV value accepted. Default 65535 (bounded only by len). */
  readonly maxTlvValue?: number;
}

/** The 12-byte v2 signature \r\n\r\n\0\r\nQUIT\n (proxy-protocol.txt §2.2): the one copy, the encoder and the detector use it. */
export const PROXY_V2_SIGNATURE: readonly number[] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const SIGNATURE = PROXY_V2_SIGNATURE;
const FIXED = 16;
const MAX_TOTAL = FIXED + 0xffff;
const MAX_TLV_VALUE = 0xffff;

const PP2_TYPE_ALPN = 0x01;
const PP2_TYPE_AUTHORITY = 0x02;
const PP2_TYPE_CRC32C = 0x03;
const PP2_TYPE_UNIQUE_ID = 0x05;
const PP2_TYPE_AWS = 0xea;
const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;
const UNIQUE_ID_MAX = 128;
const UNIX_PATH = 108;

const FAMILIES = ['unspec', 'inet', 'inet6', 'unix'] as const;
const TRANSPORTS = ['unspec', 'stream', 'dgram'] as const;
/** §2.2 "In practice, the following protocol bytes are expected". */
const PROXY_FAM_BYTES = new Set([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);
const ZERO4 = new Uint8Array(4);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hex2(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

function capOf(v: number | undefined, max: number): number {
  // NaN or a non-number falls back to the format's own maximum; anything above it is the maximum.
  return typeof v === 'number' && !Number.isNaN(v) ? Math.min(v, max) : max;
}

/** Size of the address block for a family nibble (§2.2 "union proxy_addr"). */
function addressBlockLength(family: number): number {
  return family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 2 * UNIX_PATH : 0;
}

function unixPath(b: Uint8Array, off: number): string {
  const end = off + UNIX_PATH;
  let start = off;
  let prefix = '';
  if (b[off] === 0) {
    let any = false;
    for (let k = off + 1; k < end; k++) if (b[k] !== 0) any = true;
    if (!any) return '';
    start = off + 1;
    prefix = '@';
  }
  let stop = start;
  while (stop < end && b[stop] !== 0) stop++;
  return prefix + Buffer.from(b.buffer, b.byteOffset + start, stop - start).toString('utf8');
}

function decodeUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

function isPrintableAscii(b: Uint8Array, from: number): boolean {
  for (let k = from; k < b.length; k++) {
    const c = b[k]!;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

interface TlvBlock {
  readonly tlvs: ProxyTlvEntry[];
  readonly crcSeen: boolean;
}

/**
 * TLVs in bytes[start, end) where `end` = 16 + len, the end of the header (§2.2, §2.2.3, §2.2.5).
 * Returns the reason string when they are malformed.
 */
function parseTlvs(bytes: Uint8Array, start: number, end: number, maxValue: number): TlvBlock | string {
  const tlvs: ProxyTlvEntry[] = [];
  let crcSeen = false;
  let off = start;
  while (off < end) {
    if (end - off < 3) return `${end - off} stray byte(s) at the end of the header do not form a TLV`;
    const type = bytes[off]!;
    const vlen = (bytes[off + 1]! << 8) | bytes[off + 2]!;
    const vstart = off + 3;
    if (vlen > end - vstart) return `TLV ${hex2(type)} of ${vlen} bytes overruns the header`;
    if (vlen > maxValue) return `TLV ${hex2(type)} value of ${vlen} bytes exceeds the ${maxValue}-byte limit`;
    const value = bytes.subarray(vstart, vstart + vlen);
    if (type === PP2_TYPE_CRC32C) {
      if (vlen !== 4) return `CRC32C TLV must be 4 bytes, got ${vlen}`;
      const sent = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
      let crc = crc32c(bytes.subarray(0, vstart));
      crc = crc32c(ZERO4, crc);
      crc = crc32c(bytes.subarray(vstart + 4, end), crc);
      if (crc !== sent) return 'CRC32C mismatch';
      crcSeen = true;
    } else if (type === PP2_TYPE_UNIQUE_ID && vlen > UNIQUE_ID_MAX) {
      return `UNIQUE_ID TLV of ${vlen} bytes exceeds 128`;
    }
    tlvs.push({ type, value });
    off = vstart + vlen;
  }
  return { tlvs, crcSeen };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function withWellKnown(h: Mutable<ProxyV2Header>): ProxyV2Header {
  for (const t of h.tlvs) {
    switch (t.type) {
      case PP2_TYPE_ALPN:
        if (h.alpn === undefined) h.alpn = latin1(t.value);
        break;
      case PP2_TYPE_AUTHORITY:
        if (h.authority === undefined) {
          const s = decodeUtf8(t.value);
          if (s !== undefined) h.authority = s;
        }
        break;
      case PP2_TYPE_UNIQUE_ID:
        if (h.uniqueId === undefined) h.uniqueId = t.value;
        break;
      case PP2_TYPE_AWS:
        if (
          h.awsVpceId === undefined &&
          t.value.length >= 2 &&
          t.value[0] === PP2_SUBTYPE_AWS_VPCE_ID &&
          isPrintableAscii(t.value, 1)
        ) {
          h.awsVpceId = latin1(t.value.subarray(1));
        }
        break;
      default:
        break;
    }
  }
  return h;
}

export function parseProxyV2(bytes: Uint8Array, limits?: ProxyV2Limits): ParseResult<ProxyV2Header> {
  const n = bytes.length;
  const maxLength = capOf(limits?.maxLength, MAX_TOTAL);
  const maxTlvValue = capOf(limits?.maxTlvValue, MAX_TLV_VALUE);

  // §2.2: the 12-byte signature.
  for (let k = 0; k < SIGNATURE.length; k++) {
    if (k >= n) return incomplete(FIXED);
    if (bytes[k] !== SIGNATURE[k]) return invalid('not a PROXY v2 signature');
  }

  // §2.2: 13th byte, version and command.
  if (n < 13) return incomplete(FIXED);
  const verCmd = bytes[12]!;
  const version = verCmd >> 4;
  const cmd = verCmd & 0x0f;
  if (version !== 2) return invalid(`PROXY v2 header with version ${version} (must be 2)`);
  if (cmd > 1) return invalid(`PROXY v2 command ${hex2(cmd)} is neither LOCAL nor PROXY`);
  const local = cmd === 0;

  // §2.2: 14th byte, family and transport.
  if (n < 14) return incomplete(FIXED);
  const fam = bytes[13]!;
  const family = fam >> 4;
  const transport = fam & 0x0f;
  if (family > 3) return invalid(`PROXY v2 address family ${hex2(family)} is not defined`);
  if (transport > 2) return invalid(`PROXY v2 transport ${hex2(transport)} is not defined`);
  if (!local && !PROXY_FAM_BYTES.has(fam)) {
    return invalid(`PROXY v2 family/transport byte ${hex2(fam)} is not a defined combination`);
  }

  // §2.2: 15th and 16th bytes, len; the header is exactly 16 + len bytes.
  if (n < FIXED) return incomplete(FIXED);
  const len = (bytes[14]! << 8) | bytes[15]!;
  const total = FIXED + len;
  if (total > maxLength) return invalid(`PROXY v2 header of ${total} bytes exceeds the ${maxLength}-byte limit`);
  const addrLen = addressBlockLength(family);
  if (!local && len < addrLen) {
    return invalid(`PROXY v2 length ${len} is shorter than the ${addrLen}-byte address block`);
  }
  if (n < total) return incomplete(total);

  const base: Mutable<ProxyV2Header> = {
    version: 2,
    command: local ? 'local' : 'proxy',
    family: FAMILIES[family]!,
    transport: TRANSPORTS[transport]!,
    tlvs: [],
    crc32cVerified: false,
  };

  if (local) {
    // §2.2 LOCAL: the family is ignored and no address is expected; see the module comment.
    let block = parseTlvs(bytes, FIXED, total, maxTlvValue);
    if (typeof block === 'string' && addrLen > 0 && len >= addrLen) {
      const alt = parseTlvs(bytes, FIXED + addrLen, total, maxTlvValue);
      if (typeof alt !== 'string') block = alt;
    }
    if (typeof block === 'string') return invalid(block);
    base.tlvs = block.tlvs;
    base.crc32cVerified = block.crcSeen;
    return ok(withWellKnown(base), total);
  }

  const a = FIXED;
  if (family === 1) {
    base.src = { address: formatIPv4(bytes, a), port: (bytes[a + 8]! << 8) | bytes[a + 9]! };
    base.dst = { address: formatIPv4(bytes, a + 4), port: (bytes[a + 10]! << 8) | bytes[a + 11]! };
  } else if (family === 2) {
    base.src = { address: formatIPv6(bytes, a), port: (bytes[a + 32]! << 8) | bytes[a + 33]! };
    base.dst = { address: formatIPv6(bytes, a + 16), port: (bytes[a + 34]! << 8) | bytes[a + 35]! };
  } else if (family === 3) {
    base.srcPath = unixPath(bytes, a);
    base.dstPath = unixPath(bytes, a + UNIX_PATH);
  }
  const block = parseTlvs(bytes, FIXED + addrLen, total, maxTlvValue);
  if (typeof block === 'string') return invalid(block);
  base.tlvs = block.tlvs;
  base.crc32cVerified = block.crcSeen;
  return ok(withWellKnown(base), total);
}
