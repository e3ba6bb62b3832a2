/**
 * QUIC variable-length integers and the frames of a decrypted client Initial packet.
 *
 * Pure helpers for quic-initial.ts: they read only within [pos, end) of the array they are given
 * and never throw on input.
 */

/**
 * RFC 9000 §16: the two high bits of the first byte give the encoded length (1, 2, 4 or 8 bytes),
 * the rest is a big-endian value of 6, 14, 30 or 62 bits. Returns -1 when the encoding runs past
 * `end`. 8-byte values above 2^53 lose precision as a Number; every caller compares them with a
 * byte count far below that, so the comparison is still right.
 */
export function readVarint(b: Uint8Array, pos: number, end: number): { readonly value: number; readonly next: number } | undefined {
  if (pos >= end) return undefined;
  const first = b[pos]!;
  const size = 1 << (first >> 6);
  if (end - pos < size) return undefined;
  let value = first & 0x3f;
  for (let k = 1; k < size; k++) value = value * 256 + b[pos + k]!;
  return { value, next: pos + size };
}

/** A CRYPTO frame's place in the crypto stream; `data` is a view into the decrypted payload. */
export interface CryptoFragment {
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface InitialFrames {
  readonly crypto: readonly CryptoFragment[];
  /** A CONNECTION_CLOSE (0x1c) frame was present: the client gave up on this connection. */
  readonly closed: boolean;
}

const FRAME_PADDING = 0x00; // RFC 9000 §19.1
const FRAME_PING = 0x01; // §19.2
const FRAME_ACK = 0x02; // §19.3
const FRAME_ACK_ECN = 0x03; // §19.3, with ECN counts
const FRAME_CRYPTO = 0x06; // §19.6
const FRAME_CONNECTION_CLOSE = 0x1c; // §19.19, transport error (0x1d, application, is 1-RTT only)

/** RFC 9000 §19.6: the crypto stream offset + length must stay below 2^62. */
const MAX_STREAM_OFFSET = 2 ** 62;

/**
 * Reads every frame of a decrypted Initial payload (b[s..e)). RFC 9000 §12.4 Table 3: an Initial
 * may carry only PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE of type 0x1c; any other frame
 * type is a PROTOCOL_VIOLATION, and so is a packet with no frames at all. Frame types are varints
 * that must use the shortest encoding (§12.4); every allowed type fits in one byte, so a first byte
 * of 0x40 or more is either an over-long encoding or another type: invalid either way.
 * Returns the CRYPTO fragments (in packet order) or a reason.
 */
export function parseInitialFrames(b: Uint8Array, s: number, e: number): InitialFrames | string {
  if (s >= e) return 'Initial packet without frames';
  const crypto: CryptoFragment[] = [];
  let closed = false;
  let p = s;
  while (p < e) {
    const type = b[p++]!;
    switch (type) {
      case FRAME_PADDING:
      case FRAME_PING:
        break;
      case FRAME_ACK:
      case FRAME_ACK_ECN: {
        // Largest Acknowledged, ACK Delay, ACK Range Count, First ACK Range, then Range Count
        // (Gap, ACK Range Length) pairs, then ECT0/ECT1/ECN-CE counts for 0x03. Skipped: an ACK
        // says nothing about the hello. Each pair takes at least 2 bytes, so a huge count ends at
        // the first truncated varint rather than looping.
        let q = skipVarints(b, p, e, 2);
        if (q < 0) return 'ACK frame truncated';
        const rc = readVarint(b, q, e);
        if (rc === undefined) return 'ACK frame truncated';
        q = skipVarints(b, rc.next, e, 1);
        if (q < 0) return 'ACK frame truncated';
        for (let k = 0; k < rc.value; k++) {
          q = skipVarints(b, q, e, 2);
          if (q < 0) return 'ACK range truncated';
        }
        if (type === FRAME_ACK_ECN) {
          q = skipVarints(b, q, e, 3);
          if (q < 0) return 'ACK ECN counts truncated';
        }
        p = q;
        break;
      }
      case FRAME_CRYPTO: {
        const off = readVarint(b, p, e);
        if (off === undefined) return 'CRYPTO offset truncated';
        const len = readVarint(b, off.next, e);
        if (len === undefined) return 'CRYPTO length truncated';
        if (len.value > e - len.next) return 'CRYPTO data overruns packet';
        if (off.value + len.value >= MAX_STREAM_OFFSET) return 'CRYPTO offset beyond 2^62';
        crypto.push({ offset: off.value, data: b.subarray(len.next, len.next + len.value) });
        p = len.next + len.value;
        break;
      }
      case FRAME_CONNECTION_CLOSE: {
        // Error Code, Frame Type, Reason Phrase Length, Reason Phrase.
        const q = skipVarints(b, p, e, 2);
        if (q < 0) return 'CONNECTION_CLOSE truncated';
        const rl = readVarint(b, q, e);
        if (rl === undefined) return 'CONNECTION_CLOSE truncated';
        if (rl.value > e - rl.next) return 'CONNECTION_CLOSE reason overruns packet';
        p = rl.next + rl.value;
        closed = true;
        break;
      }
      default:
        return `frame type 0x${type.toString(16)} not allowed in an Initial packet`;
    }
  }
  return { crypto, closed };
}

/** Skips `count` varints from p; returns the position after them, or -1 if one is truncated. */
function skipVarints(b: Uint8Array, p: number, e: number, count: number): number {
  for (let k = 0; k < count; k++) {
    if (p >= e) return -1;
    const size = 1 << (b[p]! >> 6);
    if (e - p < size) return -1;
    p += size;
  }
  return p;
}
