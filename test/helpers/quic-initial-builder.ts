/**
 * The client side of QUIC Initial packets, for parser tests: given a TLS ClientHello handshake
 * message, build protected client Initial packets and datagrams (RFC 9000 §17.2.2, RFC 9001 §5).
 *
 * Packet protection here is written independently of src/protocols/quic-initial.ts (AES-128-GCM
 * seal, AES-ECB header protection mask applied, RFC 9001 §5.3, §5.4); only the key derivation is
 * shared (deriveQuicClientInitialSecrets, itself checked against RFC 9001 A.1 / RFC 9369 A.1).
 * Deterministic: nothing random. The Length field is always a 2-byte varint, as in RFC 9001 A.2.
 */
import { Buffer } from 'node:buffer';
import { createCipheriv } from 'node:crypto';
import { deriveQuicClientInitialSecrets, QUIC_VERSION_2 } from '../../src/protocols/quic/keys.js';

export interface QuicConn {
  readonly version: number;
  readonly dcid: Uint8Array;
  readonly scid: Uint8Array;
  /** Initial token (RFC 9000 §17.2.2); default empty. */
  readonly token?: Uint8Array;
}

export interface InitialPacketSpec {
  readonly pn: number;
  /** Packet number length 1..4; default 4 (as in RFC 9001 A.2). */
  readonly pnLength?: number;
  /** Plaintext frames. */
  readonly payload: Uint8Array;
  /** Reserved bits (0..3) written under header protection; default 0 (tests of invalid input). */
  readonly reservedBits?: number;
  /** Long Packet Type bits (0..3) instead of the version's Initial (tests of other types). */
  readonly typeBits?: number;
}

/** RFC 9000 §16 varint in its shortest form. */
export function varint(v: number): Buffer {
  if (v < 0x40) return Buffer.from([v]);
  if (v < 0x4000) return Buffer.from([0x40 | (v >> 8), v & 0xff]);
  if (v < 0x40000000) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v + 0x80000000);
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v) | 0xc000000000000000n);
  return b;
}

/** CRYPTO frame (RFC 9000 §19.6): type 0x06, offset, length, data. */
export function cryptoFrame(offset: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x06]), varint(offset), varint(data.length), data]);
}

/** ACK frame (RFC 9000 §19.3) acknowledging packet `largest` alone, with ECN counts when `ecn`. */
export function ackFrame(largest: number, ecn = false): Buffer {
  const parts = [Buffer.from([ecn ? 0x03 : 0x02]), varint(largest), varint(0), varint(1), varint(0), varint(1), varint(0)];
  if (ecn) parts.push(varint(1), varint(0), varint(0));
  return Buffer.concat(parts);
}

/** CONNECTION_CLOSE of type 0x1c (RFC 9000 §19.19). */
export function connectionCloseFrame(code: number, reason: string): Buffer {
  const r = Buffer.from(reason, 'latin1');
  return Buffer.concat([Buffer.from([0x1c]), varint(code), varint(0), varint(r.length), r]);
}

export const PING = Buffer.from([0x01]);

function initialTypeBits(version: number): number {
  return version === QUIC_VERSION_2 ? 0b01 : 0b00; // RFC 9369 §3.2; RFC 9000 §17.2.2
}

function headerLength(conn: QuicConn, pnLength: number): number {
  const token = conn.token ?? Buffer.alloc(0);
  return 1 + 4 + 1 + conn.dcid.length + 1 + conn.scid.length + varint(token.length).length + token.length + 2 + pnLength;
}

/** One protected client Initial packet (header protection and AEAD applied). */
export function protectInitial(conn: QuicConn, spec: InitialPacketSpec): Buffer {
  const keys = deriveQuicClientInitialSecrets(conn.version, conn.dcid);
  if (keys === undefined) throw new Error(`no Initial keys for version 0x${conn.version.toString(16)}`);
  const pnLength = spec.pnLength ?? 4;
  const token = conn.token ?? Buffer.alloc(0);
  // RFC 9001 §5.4.2: packet number + payload must leave 16 bytes of sample after pn_offset + 4.
  let payload = Buffer.from(spec.payload);
  if (pnLength + payload.length < 4) payload = Buffer.concat([payload, Buffer.alloc(4 - pnLength - payload.length)]);
  const lengthField = pnLength + payload.length + 16;
  if (lengthField >= 0x4000) throw new Error('packet too long for a 2-byte Length');
  const typeBits = spec.typeBits ?? initialTypeBits(conn.version);
  const first = 0xc0 | (typeBits << 4) | ((spec.reservedBits ?? 0) << 2) | (pnLength - 1);
  const versionBytes = Buffer.alloc(4);
  versionBytes.writeUInt32BE(conn.version >>> 0);
  const pnBytes = Buffer.alloc(pnLength);
  for (let k = 0; k < pnLength; k++) pnBytes[pnLength - 1 - k] = Math.floor(spec.pn / 256 ** k) & 0xff;
  const header = Buffer.concat([
    Buffer.from([first]),
    versionBytes,
    Buffer.from([conn.dcid.length]),
    conn.dcid,
    Buffer.from([conn.scid.length]),
    conn.scid,
    varint(token.length),
    token,
    Buffer.from([0x40 | (lengthField >> 8), lengthField & 0xff]),
    pnBytes,
  ]);
  // RFC 9001 §5.3: nonce = iv XOR packet number (left-padded); AAD = the header.
  const nonce = Buffer.from(keys.iv);
  for (let k = 0; k < 8; k++) nonce[11 - k] = nonce[11 - k]! ^ (Math.floor(spec.pn / 256 ** k) & 0xff);
  const c = createCipheriv('aes-128-gcm', keys.key, nonce);
  c.setAAD(header);
  const sealed = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]);
  const packet = Buffer.concat([header, sealed]);
  // RFC 9001 §5.4.1: sample at pn_offset + 4, mask the low 4 bits of byte 0 and the packet number.
  const pnOffset = header.length - pnLength;
  const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
  ecb.setAutoPadding(false);
  const mask = ecb.update(packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] = packet[0]! ^ (mask[0]! & 0x0f);
  for (let k = 0; k < pnLength; k++) packet[pnOffset + k] = packet[pnOffset + k]! ^ mask[1 + k]!;
  return packet;
}

export interface PacketContent {
  readonly pn: number;
  readonly frames: Uint8Array;
  readonly pnLength?: number;
  readonly reservedBits?: number;
}

/**
 * One datagram of coalesced client Initials; the last packet is padded with PADDING frames so the
 * datagram is `size` bytes (RFC 9000 §14.1: at least 1200 for a client Initial). Padding is never
 * negative: contents that do not fit make a bigger datagram. size 0: no padding.
 */
export function initialDatagram(conn: QuicConn, packets: readonly PacketContent[], size = 1200): Buffer {
  const out: Buffer[] = [];
  let used = 0;
  packets.forEach((p, i) => {
    let frames = Buffer.from(p.frames);
    if (i === packets.length - 1) {
      const pnLength = p.pnLength ?? 4;
      const pad = size - used - headerLength(conn, pnLength) - frames.length - 16;
      if (pad > 0) frames = Buffer.concat([frames, Buffer.alloc(pad)]);
    }
    const packet = protectInitial(conn, { pn: p.pn, payload: frames, ...(p.pnLength !== undefined ? { pnLength: p.pnLength } : {}), ...(p.reservedBits !== undefined ? { reservedBits: p.reservedBits } : {}) });
    out.push(packet);
    used += packet.length;
  });
  return Buffer.concat(out);
}

export interface FlowOptions {
  /** CRYPTO stream offsets where a new packet starts (sorted, inside the message); default none. */
  readonly cuts?: readonly number[];
  /** Packets per datagram (coalesced, RFC 9000 §12.2); default 1. */
  readonly coalesce?: number;
  /** Datagram size to pad to; default 1200. */
  readonly size?: number;
  /** Packet number of the first packet; default 0. */
  readonly firstPn?: number;
  /** Packet number length; default 2. */
  readonly pnLength?: number;
}

/** The CRYPTO fragments of `message` cut at `cuts`. */
export function fragments(message: Uint8Array, cuts: readonly number[] = []): { offset: number; data: Uint8Array }[] {
  const points = [0, ...cuts.filter((c) => c > 0 && c < message.length), message.length];
  const out: { offset: number; data: Uint8Array }[] = [];
  for (let k = 0; k + 1 < points.length; k++) out.push({ offset: points[k]!, data: message.subarray(points[k], points[k + 1]) });
  return out;
}

/**
 * The client's Initial datagrams carrying `message` (a TLS handshake message, no record header):
 * one packet per fragment, `coalesce` packets per datagram, packet numbers counting up.
 */
export function clientInitialDatagrams(conn: QuicConn, message: Uint8Array, options: FlowOptions = {}): Buffer[] {
  const frags = fragments(message, options.cuts);
  const per = options.coalesce ?? 1;
  const pnLength = options.pnLength ?? 2;
  let pn = options.firstPn ?? 0;
  const out: Buffer[] = [];
  for (let k = 0; k < frags.length; k += per) {
    const packets = frags.slice(k, k + per).map((f) => ({ pn: pn++, pnLength, frames: cryptoFrame(f.offset, f.data) }));
    out.push(initialDatagram(conn, packets, options.size ?? 1200));
  }
  return out;
}

/** A TLS record's handshake message: the record minus its 5-byte header (single-record hellos). */
export function handshakeOfRecord(record: Uint8Array): Buffer {
  return Buffer.from(record.subarray(5, 5 + ((record[3]! << 8) | record[4]!)));
}
