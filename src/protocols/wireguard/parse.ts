/**
 * The first datagram of a WireGuard initiator: a handshake initiation (WireGuard whitepaper, "WireGuard:
 * Next Generation Kernel Network Tunnel", §5.4.2 "First Message: Initiator to Responder").
 *
 *   offset  size  field
 *        0     1  message type = 1
 *        1     3  reserved, zero
 *        4     4  sender index, little-endian (§5.4.2 "I_i"; every WireGuard integer is little-endian)
 *        8    32  unencrypted_ephemeral
 *       40    48  encrypted_static    (AEAD of a 32-byte public key: 32 + 16-byte tag)
 *       88    28  encrypted_timestamp (AEAD of a 12-byte TAI64N: 12 + 16-byte tag)
 *      116    16  mac1
 *      132    16  mac2 (all zero unless the initiator got a cookie reply, §5.4.7)
 *      148        end: exactly 148 bytes
 *
 * Everything after the first 8 bytes is random-looking (keys, ciphertext, MACs), so the checks are the
 * type, the three zero bytes and the exact size. mac1 would prove the initiator knows the responder's
 * public key, but checking it needs that key and a keyed BLAKE2s, which node:crypto does not offer; the
 * backend checks it anyway.
 *
 * The other message types (§5.4.3 response, type 2, 92 bytes; §5.4.7 cookie reply, type 3, 64 bytes;
 * §5.4.6 transport data, type 4) are invalid here with a reason that names them: a response and a cookie
 * reply only go from responder to initiator, and transport data belongs to a session a handshake already
 * set up (it starts a flow only when the flow table forgot a live session; such a flow can only be told
 * apart by its receiver index, which is the backend's business).
 *
 * Datagram semantics (result.ts DatagramParseResult): never incomplete; a datagram shorter than 148 bytes
 * whose first bytes fit is invalid with a reason starting with "truncated".
 */
import { invalid, ok, type DatagramParseResult } from '../result.js';

export interface WireGuardInitiation {
  readonly senderIndex: number; // u32, little-endian on the wire
  readonly hasCookie: boolean; // mac2 is not all zero: the initiator answers a cookie reply (§5.4.7)
}

export const WIREGUARD_INITIATION_LENGTH = 148;
const MAC2_OFFSET = 132;

const OTHER_TYPES: ReadonlyMap<number, string> = new Map([
  [2, 'a WireGuard handshake response (type 2), sent by the responder: never an initiator\'s first datagram'],
  [3, 'a WireGuard cookie reply (type 3), sent by the responder: never an initiator\'s first datagram'],
  [4, 'WireGuard transport data (type 4) of an existing session: not a first datagram'],
]);

export function parseWireGuardInitiation(datagram: Uint8Array): DatagramParseResult<WireGuardInitiation> {
  const b = datagram;
  const n = Math.min(b.length, 4);
  if (n >= 1 && b[0] !== 1) return invalid(OTHER_TYPES.get(b[0]!) ?? `not a WireGuard message (type byte ${b[0]})`);
  for (let k = 1; k < n; k++) if (b[k] !== 0) return invalid('WireGuard reserved bytes are not zero');
  if (b.length < WIREGUARD_INITIATION_LENGTH) {
    return invalid(`truncated: ${b.length} of the ${WIREGUARD_INITIATION_LENGTH} bytes of a WireGuard handshake initiation`);
  }
  if (b.length > WIREGUARD_INITIATION_LENGTH) return invalid(`${b.length} bytes: a WireGuard handshake initiation is exactly ${WIREGUARD_INITIATION_LENGTH}`);
  const senderIndex = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
  let hasCookie = false;
  for (let k = MAC2_OFFSET; k < WIREGUARD_INITIATION_LENGTH; k++) if (b[k] !== 0) hasCookie = true;
  return ok({ senderIndex, hasCookie }, WIREGUARD_INITIATION_LENGTH);
}
