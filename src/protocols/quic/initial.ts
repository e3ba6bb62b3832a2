/**
 * QUIC long headers and the client's first flight: the ClientHello inside client Initial packets
 * (RFC 9000, RFC 9001; QUIC version 2, RFC 9369), read without a QUIC stack so that UDP flows can
 * be routed by SNI/ALPN like TLS over TCP.
 *
 * Datagram semantics, unlike the byte-stream parsers next to this one: a UDP datagram arrives
 * whole or not at all, so a packet that does not fit its datagram is malformed (invalid), never
 * "incomplete". What can be incomplete is the flow: parseQuicClientHello takes every datagram of a
 * flow received so far, in arrival order, and answers incomplete until the ClientHello is whole.
 *
 * Pure functions: nothing is kept between calls except a bounded cache of derived Initial keys
 * (quic-keys.ts), which does not change any answer. Connection IDs and tokens are returned as
 * copies; nothing returned is a view into the caller's datagrams.
 */
import { Buffer } from 'node:buffer';
import { incomplete, invalid, ok, type ParseResult } from '../result.js';
import { parseInitialFrames, readVarint } from './frames.js';
import {
  aeadOpen,
  clientInitialKeys,
  decodePacketNumber,
  headerProtectionMask,
  isSupportedQuicVersion,
  QUIC_VERSION_1,
  QUIC_VERSION_2,
  type QuicPacketKeys,
} from './keys.js';
import { parseClientHelloMessage, type ClientHello } from '../tls/client-hello.js';
import { u32 } from '../bytes.js';

export { QUIC_VERSION_1, QUIC_VERSION_2 } from './keys.js';

export type QuicLongPacketType = 'initial' | '0-rtt' | 'handshake' | 'retry' | 'version-negotiation';

export interface QuicLongHeader {
  /** The Version field; 0 for version negotiation. */
  readonly version: number;
  /**
   * Decoded per version (v1: RFC 9000 §17.2, Initial = 0; v2: RFC 9369 §3.2, Initial = 1, 0-RTT = 2,
   * Handshake = 3, Retry = 0). undefined for a version this module does not know: the type bits and
   * everything after the connection IDs are version-specific (RFC 8999 §5.1).
   */
  readonly type: QuicLongPacketType | undefined;
  /** The fixed bit (0x40). Normally 1; RFC 9287 lets a client clear it, so it is reported, not checked. */
  readonly fixedBit: boolean;
  /** Destination Connection ID (copy) and its lowercase hex. */
  readonly dcid: Uint8Array;
  readonly dcidHex: string;
  /** Source Connection ID (copy) and its lowercase hex. */
  readonly scid: Uint8Array;
  readonly scidHex: string;
  /** Initial: the token (empty when none, copy); Retry: the retry token (copy); otherwise undefined. */
  readonly token: Uint8Array | undefined;
  /** Initial, 0-RTT, Handshake: the Length field (packet number + protected payload); else undefined. */
  readonly payloadLength: number | undefined;
  /** Initial, 0-RTT, Handshake: offset of the (protected) packet number in the packet; else undefined. */
  readonly pnOffset: number | undefined;
  /** Version negotiation: the versions the server offers; otherwise []. */
  readonly supportedVersions: readonly number[];
  /**
   * Bytes of this packet in the datagram (= ok length). The next coalesced packet, if any, starts
   * there (RFC 9000 §12.2). Retry, version negotiation and unknown versions have no Length field
   * and take the rest of the datagram.
   */
  readonly packetLength: number;
}

/** RFC 9000 §17.2: in versions 1 (and 2), connection IDs are at most 20 bytes. */
const MAX_CID_V1 = 20;
/** RFC 9001 §5.8: the Retry Integrity Tag, 128 bits, ends a Retry packet. */
const RETRY_TAG = 16;
/** RFC 9000 §14.1: a server discards a client Initial in a datagram smaller than this. */
export const QUIC_MIN_INITIAL_DATAGRAM = 1200;
/** RFC 9000 §7.2: the client's first Destination Connection ID is at least 8 bytes. */
const MIN_CLIENT_DCID = 8;
const DEFAULT_MAX_BYTES = 16384;

const V1_TYPES: readonly QuicLongPacketType[] = ['initial', '0-rtt', 'handshake', 'retry'];
const V2_TYPES: readonly QuicLongPacketType[] = ['retry', 'initial', '0-rtt', 'handshake'];

/** A long header located in a datagram, connection IDs as offsets (no copies yet). */
interface HeaderAt {
  readonly start: number;
  readonly version: number;
  readonly type: QuicLongPacketType | undefined;
  readonly dcidAt: number;
  readonly dcidLen: number;
  readonly scidAt: number;
  readonly scidLen: number;
  readonly tokenAt: number;
  readonly tokenLen: number; // -1: no token field
  readonly payloadLength: number; // -1: no Length field
  readonly pnOffset: number; // absolute; -1 when none
  readonly end: number; // absolute end of this packet
}

/**
 * RFC 9000 §17.2 long header at b[start..]:
 *   Header Form (1) = 1, Fixed Bit (1), Long Packet Type (2), Type-Specific Bits (4),
 *   Version (32), DCID Length (8), DCID (0..160), SCID Length (8), SCID (0..160),
 *   then per type: Initial (§17.2.2): Token Length (i), Token, Length (i), Packet Number (8..32), Payload;
 *   0-RTT (§17.2.3) / Handshake (§17.2.4): Length (i), Packet Number, Payload;
 *   Retry (§17.2.5): Retry Token, Retry Integrity Tag (128).
 * Version negotiation (§17.2.1): Version 0, CIDs of up to 255 bytes, then Supported Version (32)...
 * Other versions: only the invariants hold (RFC 8999 §5.1: CIDs of up to 255 bytes).
 */
function readLongHeader(b: Uint8Array, start: number): HeaderAt | string {
  const n = b.length;
  if (start >= n) return 'empty datagram';
  if ((b[start]! & 0x80) === 0) return 'short header packet';
  if (n - start < 7) return 'long header truncated';
  const version = u32(b, start + 1);
  const known = isSupportedQuicVersion(version);
  const maxCid = known ? MAX_CID_V1 : 255;
  const dcidLen = b[start + 5]!;
  if (dcidLen > maxCid) return `DCID length ${dcidLen} exceeds ${maxCid}`;
  const dcidAt = start + 6;
  if (n - dcidAt < dcidLen + 1) return 'DCID truncated';
  const scidLen = b[dcidAt + dcidLen]!;
  if (scidLen > maxCid) return `SCID length ${scidLen} exceeds ${maxCid}`;
  const scidAt = dcidAt + dcidLen + 1;
  if (n - scidAt < scidLen) return 'SCID truncated';
  let p = scidAt + scidLen;
  const header = (type: QuicLongPacketType | undefined, tokenAt: number, tokenLen: number, payloadLength: number, pnOffset: number, end: number): HeaderAt => ({
    start,
    version,
    type,
    dcidAt,
    dcidLen,
    scidAt,
    scidLen,
    tokenAt,
    tokenLen,
    payloadLength,
    pnOffset,
    end,
  });

  if (version === 0) {
    const listLen = n - p;
    if (listLen < 4 || listLen % 4 !== 0) return 'version negotiation list is not a whole number of versions';
    return header('version-negotiation', -1, -1, -1, -1, n);
  }
  if (!known) return header(undefined, -1, -1, -1, -1, n);

  const type = (version === QUIC_VERSION_2 ? V2_TYPES : V1_TYPES)[(b[start]! >> 4) & 0x03]!;
  if (type === 'retry') {
    if (n - p < RETRY_TAG) return 'Retry packet shorter than its integrity tag';
    return header(type, p, n - p - RETRY_TAG, -1, -1, n);
  }
  let tokenAt = -1;
  let tokenLen = -1;
  if (type === 'initial') {
    const tl = readVarint(b, p, n);
    if (tl === undefined) return 'token length truncated';
    if (tl.value > n - tl.next) return 'token length past the end of the datagram';
    tokenAt = tl.next;
    tokenLen = tl.value;
    p = tl.next + tl.value;
  }
  const len = readVarint(b, p, n);
  if (len === undefined) return 'Length field truncated';
  if (len.value > n - len.next) return `packet Length ${len.value} past the end of the datagram`;
  if (len.value === 0) return 'packet Length 0 leaves no packet number';
  return header(type, tokenAt, tokenLen, len.value, len.next, len.next + len.value);
}

/** A copy (never a view: Buffer#slice would be one) of b[at..at+len). */
function copy(b: Uint8Array, at: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(b.subarray(at, at + len));
  return out;
}

function copyHex(b: Uint8Array, at: number, len: number): { bytes: Uint8Array; hex: string } {
  const bytes = copy(b, at, len);
  return { bytes, hex: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex') };
}

/**
 * The unprotected long-header fields of the FIRST packet in `datagram` (see QuicLongHeader). Cheap,
 * no cryptography: usable on every datagram in both directions (a backend's Initial/Handshake
 * packets carry the server's chosen connection ID in their SCID). ok length = packetLength. Never
 * incomplete (datagram semantics, see the top of this file); invalid for a short header, a
 * truncated header, a v1/v2 connection ID over 20 bytes, a token or Length past the datagram's end.
 */
export function parseQuicLongHeader(datagram: Uint8Array): ParseResult<QuicLongHeader> {
  const h = readLongHeader(datagram, 0);
  if (typeof h === 'string') return invalid(h);
  const dcid = copyHex(datagram, h.dcidAt, h.dcidLen);
  const scid = copyHex(datagram, h.scidAt, h.scidLen);
  const supportedVersions: number[] = [];
  if (h.type === 'version-negotiation') {
    for (let p = h.scidAt + h.scidLen; p + 4 <= h.end; p += 4) supportedVersions.push(u32(datagram, p));
  }
  return ok(
    {
      version: h.version,
      type: h.type,
      fixedBit: (datagram[0]! & 0x40) !== 0,
      dcid: dcid.bytes,
      dcidHex: dcid.hex,
      scid: scid.bytes,
      scidHex: scid.hex,
      token: h.tokenLen >= 0 ? copy(datagram, h.tokenAt, h.tokenLen) : undefined,
      payloadLength: h.payloadLength >= 0 ? h.payloadLength : undefined,
      pnOffset: h.pnOffset >= 0 ? h.pnOffset : undefined,
      supportedVersions,
      packetLength: h.end,
    },
    h.end,
  );
}

// ---------------------------------------------------------------------------------------------
// Packet protection removal

interface Opened {
  readonly pn: number;
  /** The first byte with header protection removed (reserved bits checked by the caller). */
  readonly firstByte: number;
  readonly payload: Buffer;
}

/**
 * Removes header protection (RFC 9001 §5.4.1, §5.4.2: the sample is the 16 bytes at pn_offset + 4,
 * whatever the packet number length; for a long header the low 4 bits of the first byte and the
 * packet number bytes are masked) and decrypts (§5.3). The header is unmasked into a copy: the
 * caller's datagram is never written. A string means "cannot be decrypted" (too short for a sample,
 * or the AEAD tag does not verify), which RFC 9001 §5.5 / RFC 9000 §12.2 treat as a packet to discard.
 */
function openPacket(b: Uint8Array, h: HeaderAt, keys: QuicPacketKeys, largestPn: number): Opened | string {
  const pnOffset = h.pnOffset;
  if (h.end - pnOffset < 4 + 16) return 'packet too short for a header protection sample';
  const mask = headerProtectionMask(keys.hp, b.subarray(pnOffset + 4, pnOffset + 20));
  const firstByte = b[h.start]! ^ (mask[0]! & 0x0f);
  const pnLen = (firstByte & 0x03) + 1;
  const header = Buffer.from(b.subarray(h.start, pnOffset + pnLen)); // a copy
  header[0] = firstByte;
  let truncated = 0;
  for (let k = 0; k < pnLen; k++) {
    const i = pnOffset - h.start + k;
    header[i] = header[i]! ^ mask[1 + k]!;
    truncated = truncated * 256 + header[i]!;
  }
  const pn = decodePacketNumber(largestPn, truncated, pnLen);
  const payload = aeadOpen(keys, pn, header, b.subarray(pnOffset + pnLen, h.end));
  if (payload === undefined) return 'Initial packet fails authentication (wrong keys or altered bytes)';
  return { pn, firstByte, payload };
}

// ---------------------------------------------------------------------------------------------
// CRYPTO stream reassembly

/**
 * The Initial crypto stream from offset 0 up to `limit` bytes. RFC 9000 §19.6 / §2.2: fragments may
 * come in any order, repeat and overlap; overlapping bytes must be the same (different data at the
 * same offset MAY be treated as PROTOCOL_VIOLATION, and here is: it cannot be one ClientHello).
 */
class CryptoStream {
  private data = new Uint8Array(0);
  private filled = new Uint8Array(0);
  /** Bytes 0..contiguous are all present. */
  contiguous = 0;

  constructor(private readonly limit: number) {}

  add(offset: number, bytes: Uint8Array): string | undefined {
    const end = offset + bytes.length;
    if (end > this.limit) return `CRYPTO data up to offset ${end} exceeds the ${this.limit}-byte limit`;
    if (bytes.length === 0) return undefined;
    if (end > this.data.length) this.grow(end);
    const data = this.data;
    const filled = this.filled;
    for (let k = 0; k < bytes.length; k++) {
      const i = offset + k;
      if (filled[i] === 1) {
        if (data[i] !== bytes[k]) return `CRYPTO data differs from earlier data at offset ${i}`;
      } else {
        data[i] = bytes[k]!;
        filled[i] = 1;
      }
    }
    while (this.contiguous < filled.length && filled[this.contiguous] === 1) this.contiguous++;
    return undefined;
  }

  at(i: number): number {
    return this.data[i]!;
  }

  prefix(n: number): Uint8Array {
    return this.data.subarray(0, n);
  }

  private grow(end: number): void {
    const size = Math.min(this.limit, Math.max(end, this.data.length * 2, 1536));
    const data = new Uint8Array(size);
    const filled = new Uint8Array(size);
    data.set(this.data);
    filled.set(this.filled);
    this.data = data;
    this.filled = filled;
  }
}

// ---------------------------------------------------------------------------------------------
// The ClientHello of a flow

export interface QuicClientHello {
  /** QUIC version of the client's Initial packets: QUIC_VERSION_1 or QUIC_VERSION_2. */
  readonly version: number;
  /** The client's original Destination Connection ID (copy, 8..20 bytes) and its hex. */
  readonly dcid: Uint8Array;
  readonly dcidHex: string;
  /** The client's Source Connection ID (copy, 0..20 bytes) and its hex. */
  readonly scid: Uint8Array;
  readonly scidHex: string;
  /** The TLS ClientHello, same type as over TCP; recordVersion 0 and records 0 (no record layer). */
  readonly hello: ClientHello;
  /** Client Initial packets decrypted in the datagrams consumed (ignored packets not counted). */
  readonly packets: number;
  /** Datagrams consumed, = ok length: the hello was complete after datagrams[0..datagrams). */
  readonly datagrams: number;
}

interface Connection {
  readonly version: number;
  readonly datagram: Uint8Array;
  readonly header: HeaderAt;
  readonly keys: QuicPacketKeys;
}

function sameDcid(a: Connection, b: Uint8Array, h: HeaderAt): boolean {
  const x = a.datagram;
  const ah = a.header;
  if (ah.dcidLen !== h.dcidLen) return false;
  for (let k = 0; k < h.dcidLen; k++) if (x[ah.dcidAt + k] !== b[h.dcidAt + k]) return false;
  return true;
}

/**
 * The ClientHello of a QUIC flow, from every client datagram received so far in arrival order.
 *
 * - The first datagram must start with a v1 or v2 client Initial that decrypts, in a datagram of at
 *   least 1200 bytes (RFC 9000 §14.1), with a DCID of at least 8 bytes (§7.2); anything else is
 *   invalid (not QUIC, unsupported version, version negotiation, decryption failure...). Exception:
 *   datagrams whose first packet is a v1/v2 0-RTT packet are skipped until an Initial is seen (a
 *   client's 0-RTT datagram may overtake its Initial).
 * - Keys come from the DCID of that first Initial. Every client Initial sent before the server
 *   answers carries the same DCID (RFC 9000 §7.2), so a packet with another DCID or version belongs
 *   to another connection attempt (or is forged) and is IGNORED, not invalid: RFC 9000 §12.2 says to
 *   ignore coalesced packets with a different DCID, and a stray packet must not break the flow.
 * - Coalesced packets are walked (§12.2); the walk of a datagram stops at a short header, a
 *   non-Initial packet (0-RTT, Handshake come after Initial), trailing padding or an unreadable header.
 * - After the first packet, a packet that fails to decrypt is skipped, and a datagram under 1200
 *   bytes is ignored, as a server would (RFC 9001 §5.5 / RFC 9000 §14.1: discarded, not a connection
 *   error). A packet that decrypts but breaks the rules is invalid wherever it is: reserved header
 *   bits set (RFC 9000 §17.2), a frame not allowed in Initial (§12.4 Table 3), malformed frames,
 *   CRYPTO data that contradicts earlier data.
 * - CRYPTO fragments may come in any order, repeat or overlap (§19.6). Once bytes 0..N are
 *   contiguous: the first must be 1 (client_hello) and the uint24 length at most maxBytes, else
 *   invalid; when the whole message is there it is parsed by parseClientHelloMessage (the TCP
 *   parser's body parser).
 * - `maxBytes` caps the handshake body length exactly as parseClientHello's cap does (one setting,
 *   same meaning over TCP and UDP); CRYPTO data beyond offset 4 + maxBytes is invalid (it cannot
 *   belong to an acceptable hello, and it bounds what is buffered). Negative: the default 16384.
 *
 * Answers: ok once the hello is complete, with length = number of datagrams consumed (the datagram
 * that completed it and all before; the caller replays every datagram anyway). Whole datagrams are
 * the unit: every packet of the completing datagram is checked before answering. incomplete (no
 * `needed`: the number of datagrams still to come is unknown) while no datagram, a gap or a partial
 * message. Prefix-stable: datagrams after the ok are never read, and an invalid found at datagram k
 * is found again at k whatever follows, so neither answer changes as more datagrams arrive.
 */
export function parseQuicClientHello(datagrams: readonly Uint8Array[], maxBytes: number): ParseResult<QuicClientHello> {
  const cap = maxBytes >= 0 ? maxBytes : DEFAULT_MAX_BYTES;
  const stream = new CryptoStream(4 + cap);
  let conn: Connection | undefined;
  let largestPn = -1;
  let packets = 0;

  /** Decrypted packet: header bits and frames; a string is invalid. */
  const accept = (opened: Opened): string | undefined => {
    // RFC 9000 §17.2: reserved bits (0x0c) non-zero after removing protection: PROTOCOL_VIOLATION.
    if ((opened.firstByte & 0x0c) !== 0) return 'reserved bits set in an Initial packet header';
    const frames = parseInitialFrames(opened.payload, 0, opened.payload.length);
    if (typeof frames === 'string') return frames;
    for (const f of frames.crypto) {
      const r = stream.add(f.offset, f.data);
      if (r !== undefined) return r;
    }
    if (opened.pn > largestPn) largestPn = opened.pn;
    packets++;
    return undefined;
  };

  for (let i = 0; i < datagrams.length; i++) {
    const d = datagrams[i]!;
    let pos = 0;
    if (conn === undefined) {
      const h = readLongHeader(d, 0);
      if (typeof h === 'string') return invalid(`not a QUIC long header: ${h}`);
      if (h.type === 'version-negotiation') return invalid('version negotiation packet, not a client Initial');
      if (!isSupportedQuicVersion(h.version)) return invalid(`unsupported QUIC version 0x${h.version.toString(16).padStart(8, '0')}`);
      if (h.type === '0-rtt') continue;
      if (h.type !== 'initial') return invalid(`first packet is ${h.type}, not Initial`);
      if (d.length < QUIC_MIN_INITIAL_DATAGRAM) return invalid(`Initial datagram of ${d.length} bytes, under ${QUIC_MIN_INITIAL_DATAGRAM}`);
      if (h.dcidLen < MIN_CLIENT_DCID) return invalid(`client DCID of ${h.dcidLen} bytes, under ${MIN_CLIENT_DCID}`);
      const keys = clientInitialKeys(h.version, d.subarray(h.dcidAt, h.dcidAt + h.dcidLen))!;
      conn = { version: h.version, datagram: d, header: h, keys };
      const opened = openPacket(d, h, keys, largestPn);
      if (typeof opened === 'string') return invalid(opened);
      const bad = accept(opened);
      if (bad !== undefined) return invalid(bad);
      pos = h.end;
    } else if (d.length < QUIC_MIN_INITIAL_DATAGRAM) {
      continue;
    }
    while (pos < d.length) {
      const h = readLongHeader(d, pos);
      if (typeof h === 'string' || h.type !== 'initial' || h.version !== conn.version || !sameDcid(conn, d, h)) break;
      const opened = openPacket(d, h, conn.keys, largestPn);
      if (typeof opened !== 'string') {
        const bad = accept(opened);
        if (bad !== undefined) return invalid(bad);
      }
      pos = h.end;
    }

    const have = stream.contiguous;
    if (have >= 1 && stream.at(0) !== 1) return invalid(`handshake type ${stream.at(0)} is not client_hello`);
    if (have >= 4) {
      const hsLen = (stream.at(1) << 16) | (stream.at(2) << 8) | stream.at(3);
      if (hsLen > cap) return invalid(`handshake length ${hsLen} exceeds cap ${cap}`);
      if (have >= 4 + hsLen) {
        const r = parseClientHelloMessage(stream.prefix(4 + hsLen), cap);
        if (r.kind === 'invalid') return r;
        if (r.kind === 'incomplete') return invalid('client hello not parsed'); // cannot happen: the whole message is there
        const dcid = copyHex(conn.datagram, conn.header.dcidAt, conn.header.dcidLen);
        const scid = copyHex(conn.datagram, conn.header.scidAt, conn.header.scidLen);
        return ok(
          { version: conn.version, dcid: dcid.bytes, dcidHex: dcid.hex, scid: scid.bytes, scidHex: scid.hex, hello: r.value, packets, datagrams: i + 1 },
          i + 1,
        );
      }
    }
  }
  return incomplete();
}
