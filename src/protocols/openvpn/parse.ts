/**
 * The first packet of an OpenVPN client over TCP or UDP: a control-channel hard reset
 * (P_CONTROL_HARD_RESET_CLIENT_V2 / _V3).
 *
 * Layout (OpenVPN src/openvpn/ssl_pkt.h, ssl.c; "OpenVPN protocol" notes in OpenVPN's doc/ and
 * ssl.h; the TCP framing is OpenVPN's stream mode, socket.c):
 *
 *   packet_length   2 bytes, big-endian: the bytes that follow (TCP framing only; UDP has none)
 *   opcode|key_id   1 byte: opcode = byte >> 3 (P_OPCODE_SHIFT), key_id = byte & 7 (P_KEY_ID_MASK)
 *   session_id      8 bytes, random, chosen by the client
 *   ... then, depending on the control-channel wrapping:
 *     none:       ack array length (1 byte, 0 on a first packet), message packet_id (4 bytes),
 *                 payload (none in a client reset)                            -> packet_length 14
 *     tls-auth:   HMAC (16..64 bytes, by --auth digest), replay packet_id + time (8 bytes),
 *                 then the plain fields above                                 -> 38..86 and up
 *     tls-crypt:  packet_id + time (8), 32-byte tag, the rest encrypted        -> 54 and up
 *     tls-crypt-v2 (opcode V3): as tls-crypt, plus the client's wrapped key (WKc) at the end
 *
 * Opcodes (ssl_pkt.h): P_CONTROL_HARD_RESET_CLIENT_V2 = 7 (key_method 2, the only one OpenVPN 2.5+
 * speaks), P_CONTROL_HARD_RESET_CLIENT_V3 = 10 (tls-crypt-v2). P_CONTROL_HARD_RESET_CLIENT_V1 (1, key
 * method 1) was removed from OpenVPN (ssl_pkt.h: "we do no longer support key-method 1") and is
 * refused here. The key_id of a hard reset is always 0 (key_id 0 is the first session; renegotiations
 * use 1..7, ssl_pkt.h tls_session_get_tls_wrap), so any other key_id is invalid.
 *
 * Length bounds: the packet length is the strongest signal in these bytes (the rest is random or
 * encrypted), so it is bounded as tightly as OpenVPN's own port-share probe does (ps.c
 * is_openvpn_protocol, which decides the same thing portplex does: is this an OpenVPN client?):
 * - V2: 14..255. 14 is the smallest reset (no wrapping, no acks, no payload); the largest wrapped
 *   reset is well below 255 (tls-auth with a 64-byte SHA-512 HMAC is 86).
 * - V3: 336..1278 (OpenVPN: "WKc is at least 290 byte" plus the reset and tls-crypt overhead; at most
 *   TLS_CRYPT_V2_MAX_WKC_LEN 1024 plus 255 of overhead, exclusive).
 * A length in neither range is invalid as soon as the two length bytes are seen; once the opcode is
 * seen, the length must be in that opcode's range. An unwrapped reset is told apart by its length:
 * below 38 (the smallest tls-auth reset, a 16-byte HMAC) nothing is wrapped, so the ack array
 * length byte is readable and must be 0 (a first packet acknowledges nothing).
 *
 * TCP (parseOpenVpnTcp): the answer is ok once the whole packet (2 + packet_length bytes) is there;
 * incomplete with needed = 2 + packet_length before. sslh's probe (probe.c is_openvpn_protocol, TCP)
 * only checks that the length field matches the bytes read; this parser is stricter and does not need
 * the first read to end at the packet boundary.
 *
 * UDP (parseOpenVpnUdp): OpenVPN sends one packet per datagram with no length prefix (socket.c: the
 * stream framing is TCP-only), so packet_length is the datagram length and the same bounds and checks
 * apply (checkReset below is the one copy of them). Datagram semantics (result.ts): never incomplete;
 * below 14 bytes it is invalid as "truncated". A longer datagram cut short cannot be told from a
 * complete, shorter reset (everything after the session id is HMAC, ciphertext or key material), so it
 * is judged as what it is: ok when its length and first bytes fit, as ps.c would.
 */
import { incomplete, invalid, ok, type DatagramParseResult, type ParseResult } from '../result.js';

export type OpenVpnResetOpcode = 'P_CONTROL_HARD_RESET_CLIENT_V2' | 'P_CONTROL_HARD_RESET_CLIENT_V3';

export interface OpenVpnReset {
  readonly opcode: OpenVpnResetOpcode;
  readonly keyId: number; // always 0 for a hard reset
  readonly sessionId: string; // 16 lowercase hex digits
  readonly packetLength: number; // TCP: the 2-byte length field (ok length - 2); UDP: the datagram length
}
/** The name the TCP parser's value had first; the same shape over UDP. */
export type OpenVpnTcpReset = OpenVpnReset;

export const P_CONTROL_HARD_RESET_CLIENT_V2 = 7;
export const P_CONTROL_HARD_RESET_CLIENT_V3 = 10;
const P_OPCODE_SHIFT = 3;
const P_KEY_ID_MASK = 0x07;

/** Packet length bounds per opcode (OpenVPN ps.c is_openvpn_protocol). */
export const OPENVPN_V2_LENGTH = { min: 14, max: 255 } as const;
export const OPENVPN_V3_LENGTH = { min: 336, max: 1278 } as const;
/** Below this packet length a V2 reset cannot carry a tls-auth HMAC (1 + 8 + 16 + 8 + 1 + 4). */
const SMALLEST_WRAPPED = 38;
/** Offsets inside the packet (after the TCP length prefix, if any). */
const SESSION_ID_OFFSET = 1;
const ACK_LENGTH_OFFSET = SESSION_ID_OFFSET + 8;
const TCP_PREFIX = 2;

function inRange(n: number, r: { readonly min: number; readonly max: number }): boolean {
  return n >= r.min && n <= r.max;
}

/**
 * The hard-reset checks on a packet of `packetLength` bytes that starts at `bytes[at]`, on as many of its
 * bytes as are there (TCP may not have them all yet): the opcode once decided, a reason, or undefined
 * while the opcode byte has not arrived. Shared by TCP and UDP so the two cannot drift apart.
 */
function checkReset(bytes: Uint8Array, at: number, packetLength: number): OpenVpnResetOpcode | { readonly reason: string } | undefined {
  if (!inRange(packetLength, OPENVPN_V2_LENGTH) && !inRange(packetLength, OPENVPN_V3_LENGTH)) {
    return { reason: 'implausible OpenVPN packet length' };
  }
  if (bytes.length <= at) return undefined;
  const opByte = bytes[at]!;
  const op = opByte >> P_OPCODE_SHIFT;
  let opcode: OpenVpnResetOpcode;
  if (op === P_CONTROL_HARD_RESET_CLIENT_V2) {
    if (!inRange(packetLength, OPENVPN_V2_LENGTH)) return { reason: 'packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V2' };
    opcode = 'P_CONTROL_HARD_RESET_CLIENT_V2';
  } else if (op === P_CONTROL_HARD_RESET_CLIENT_V3) {
    if (!inRange(packetLength, OPENVPN_V3_LENGTH)) return { reason: 'packet length out of range for P_CONTROL_HARD_RESET_CLIENT_V3' };
    opcode = 'P_CONTROL_HARD_RESET_CLIENT_V3';
  } else {
    return { reason: 'not an OpenVPN client hard reset' };
  }
  if ((opByte & P_KEY_ID_MASK) !== 0) return { reason: 'hard reset with a non-zero key_id' };
  const ack = at + ACK_LENGTH_OFFSET;
  if (op === P_CONTROL_HARD_RESET_CLIENT_V2 && packetLength < SMALLEST_WRAPPED && bytes.length > ack && bytes[ack] !== 0) {
    return { reason: 'unwrapped hard reset acknowledges packets' };
  }
  return opcode;
}

function sessionIdAt(bytes: Uint8Array, at: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + at + SESSION_ID_OFFSET, 8).toString('hex');
}

export function parseOpenVpnTcp(bytes: Uint8Array): ParseResult<OpenVpnReset> {
  // `needed` promises that nothing changes before that many bytes (facts.ts asks again only then):
  // the length field, the opcode byte and an unwrapped reset's ack byte can each refuse the packet
  // as soon as they arrive, so until the last of them is in, every byte is worth a look.
  if (bytes.length < TCP_PREFIX) return incomplete();
  const packetLength = (bytes[0]! << 8) | bytes[1]!;
  const total = TCP_PREFIX + packetLength;
  const opcode = checkReset(bytes, TCP_PREFIX, packetLength);
  if (typeof opcode === 'object') return invalid(opcode.reason);
  if (opcode === undefined) return incomplete();
  if (bytes.length < total) {
    const ackChecked = opcode !== 'P_CONTROL_HARD_RESET_CLIENT_V2' || packetLength >= SMALLEST_WRAPPED || bytes.length > TCP_PREFIX + ACK_LENGTH_OFFSET;
    return ackChecked ? incomplete(total) : incomplete();
  }
  return ok({ opcode, keyId: 0, sessionId: sessionIdAt(bytes, TCP_PREFIX), packetLength }, total);
}

/** One UDP datagram = one packet, no length prefix; see the module comment. */
export function parseOpenVpnUdp(datagram: Uint8Array): DatagramParseResult<OpenVpnReset> {
  const packetLength = datagram.length;
  if (packetLength < OPENVPN_V2_LENGTH.min) {
    return invalid(`truncated: ${packetLength} bytes, shorter than the smallest OpenVPN hard reset (${OPENVPN_V2_LENGTH.min})`);
  }
  const opcode = checkReset(datagram, 0, packetLength);
  if (typeof opcode === 'object') return invalid(opcode.reason);
  if (opcode === undefined) return invalid('truncated: no opcode byte'); // unreachable: packetLength >= 14
  return ok({ opcode, keyId: 0, sessionId: sessionIdAt(datagram, 0), packetLength }, packetLength);
}
