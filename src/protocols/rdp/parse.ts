/**
 * The first PDU of an RDP client: the Client X.224 Connection Request PDU (MS-RDPBCGR §2.2.1.1).
 *
 * Layout:
 *
 *   tpktHeader (4)        RFC 1006 §6 / T.123 §8: version = 3, reserved = 0, length (2 bytes,
 *                         big-endian) = the whole packet including this header
 *   x224Crq (7)           ITU-T X.224 §13.3: LI (1) = bytes after LI in this TPDU, CR|CDT (1) = 0xE0
 *                         (CR = 1110, CDT = 0000 in class 0), DST-REF (2), SRC-REF (2),
 *                         class|options (1): class 0 in the high nibble
 *   routingToken (opt)    MS-RDPBCGR §2.2.1.1: a load-balancing token "terminated by a 0x0D0A
 *                         two-byte sequence" (e.g. "Cookie: msts=...\r\n" or an RD Connection Broker
 *                         "tsv://MS Terminal Services Plugin.1.<collection>\r\n")
 *   cookie (opt)          "Cookie: mstshash=IDENTIFIER\r\n" (MS-RDPBCGR §2.2.1.1, example §4.1.1);
 *                         MUST NOT be present with a routing token, but servers continue when both are
 *                         (§3.3.5.3.1), so "token then cookie" is accepted
 *   rdpNegReq (8, opt)    MS-RDPBCGR §2.2.1.1.1: type = 0x01, flags (1), length = 0x0008 (2, little-
 *                         endian), requestedProtocols (4, little-endian)
 *   rdpCorrelationInfo    MS-RDPBCGR §2.2.1.1.2, present iff rdpNegReq.flags has
 *   (36, opt)             CORRELATION_INFO_PRESENT (0x08): type = 0x06, flags = 0, length = 0x0024
 *                         (little-endian), correlationId (16), reserved (16)
 *
 * Checks (each decided as soon as its bytes are there):
 * - TPKT version 3 and reserved 0 (RFC 1006 §6). TPKT length at least 11 (MS-RDPBCGR §3.3.5.3.1: a
 *   shorter PDU is dropped) and at most 259: LI is one byte and X.224 reserves 255 (§13.2.1: LI is at
 *   most 254), so a Connection Request can never be longer than 4 + 1 + 254. That is the cap.
 * - LI = TPKT length - 5 (MS-RDPBCGR §2.2.1.1: the token, cookie and negotiation structures are all
 *   counted in LI; §3.3.5.3.1: length fields must be consistent with the data).
 * - CR|CDT = 0xE0 and class 0 (§3.3.5.3.1 drops anything but class 0). DST-REF, SRC-REF and the option
 *   bits are not checked: the server "SHOULD ignore" them (§3.3.5.3.1).
 * - Token and cookie lines: at least one byte, printable (0x20-0x7e) or 0x80-0xff (the cookie is an
 *   "ANSI character string"), ended by CR LF inside the PDU; a bare CR or LF, or a line that runs to
 *   the end of the PDU, is invalid. A line starting "Cookie: mstshash=" is the cookie (case as in
 *   the spec); any other line is the routing token.
 * - After them, only rdpNegReq (type 0x01, length 8) and then, if flagged, rdpCorrelationInfo (type
 *   0x06, flags 0, length 36) may follow, and the PDU must end exactly there. Unknown negotiation flag
 *   and protocol bits are accepted (new ones keep being added: RDSTLS, RDSAAD ...).
 *
 * ok once the whole TPKT packet is there (length = TPKT length); incomplete with needed = TPKT
 * length before (11, the smallest PDU, until the length field is seen). sslh's is_msrdp_protocol
 * (probe.c) checks only the version byte and that the TPKT length equals the bytes read.
 */
import { incomplete, invalid, ok, type ParseResult } from '../result.js';
import { CR, latin1, LF } from '../bytes.js';

export interface RdpConnectionRequest {
  /** IDENTIFIER of "Cookie: mstshash=IDENTIFIER" (latin1, as sent: usually the user name). */
  readonly cookie: string | undefined;
  /** The routing token line without its CR LF (latin1), when the client sent one. */
  readonly routingToken?: string;
  /** RDP_NEG_REQ.requestedProtocols (PROTOCOL_SSL 1, PROTOCOL_HYBRID 2, ...), when present. */
  readonly requestedProtocols?: number;
  /** The TPKT length: the whole PDU, == the ok length. */
  readonly length: number;
}

const TPKT_HEADER = 4;
const X224_CR_FIXED = 7;
const MIN_LENGTH = TPKT_HEADER + X224_CR_FIXED; // 11
export const RDP_CR_MAX_LENGTH = TPKT_HEADER + 1 + 254; // 259
const CR_CDT = 0xe0;
const TYPE_RDP_NEG_REQ = 0x01;
const RDP_NEG_REQ_LENGTH = 8;
const CORRELATION_INFO_PRESENT = 0x08;
const TYPE_RDP_CORRELATION_INFO = 0x06;
const RDP_CORRELATION_INFO_LENGTH = 36;
const COOKIE_PREFIX = 'Cookie: mstshash=';

function startsWith(bytes: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start < text.length) return false;
  for (let k = 0; k < text.length; k++) if (bytes[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

export function parseRdpConnectionRequest(bytes: Uint8Array): ParseResult<RdpConnectionRequest> {
  const have = bytes.length;
  if (have >= 1 && bytes[0] !== 3) return invalid('not a TPKT packet (version 3)');
  if (have >= 2 && bytes[1] !== 0) return invalid('TPKT reserved byte is not 0');
  // No `needed` while single bytes can still refuse the packet: facts.ts would not ask again before it.
  if (have < TPKT_HEADER) return incomplete();
  const length = (bytes[2]! << 8) | bytes[3]!;
  if (length < MIN_LENGTH) return invalid('TPKT length below 11');
  if (length > RDP_CR_MAX_LENGTH) return invalid('TPKT length above 259, the largest X.224 Connection Request');
  // Past the fixed header, `needed` is the whole request: a bad byte in a cookie line is found once
  // all of it is in (facts.ts does not ask again before), which keeps a dripped request linear.
  const more = (): ParseResult<RdpConnectionRequest> => incomplete(length);

  // x224Crq (X.224 §13.3). Its fixed bytes can refuse the request as they arrive: no `needed` yet.
  if (have <= 4) return incomplete();
  if (bytes[4] !== length - 5) return invalid('X.224 length indicator does not match the TPKT length');
  if (have <= 5) return incomplete();
  if (bytes[5] !== CR_CDT) return invalid('not an X.224 Connection Request');
  if (have <= 10) return incomplete();
  if (bytes[10]! >> 4 !== 0) return invalid('X.224 Connection Request is not class 0');

  // routingToken / cookie lines (MS-RDPBCGR §2.2.1.1)
  let p = MIN_LENGTH;
  let cookie: string | undefined;
  let routingToken: string | undefined;
  for (let line = 0; line < 2; line++) {
    if (p >= length) break;
    if (p >= have) return more();
    if (bytes[p] === TYPE_RDP_NEG_REQ) break;
    const start = p;
    for (;;) {
      if (p >= length) return invalid('routing token or cookie not terminated by CR LF');
      if (p >= have) return more();
      const b = bytes[p]!;
      if (b === CR) break;
      if (b < 0x20 || b === 0x7f) return invalid('invalid byte in routing token or cookie');
      p++;
    }
    if (p === start) return invalid('empty routing token or cookie');
    if (p + 1 >= length) return invalid('routing token or cookie not terminated by CR LF');
    if (p + 1 >= have) return more();
    if (bytes[p + 1] !== LF) return invalid('bare CR in routing token or cookie');
    if (startsWith(bytes, start, p, COOKIE_PREFIX)) {
      cookie = latin1(bytes, start + COOKIE_PREFIX.length, p);
    } else if (line === 0) {
      routingToken = latin1(bytes, start, p);
    } else {
      return invalid('two routing tokens');
    }
    p += 2;
    if (cookie !== undefined) break; // nothing but rdpNegReq may follow a cookie
  }

  // rdpNegReq (MS-RDPBCGR §2.2.1.1.1)
  let requestedProtocols: number | undefined;
  if (p < length) {
    if (p >= have) return more();
    if (bytes[p] !== TYPE_RDP_NEG_REQ) return invalid('unexpected bytes in X.224 Connection Request');
    if (p + RDP_NEG_REQ_LENGTH > length) return invalid('truncated RDP_NEG_REQ');
    if (p + 4 > have) return more();
    const flags = bytes[p + 1]!;
    if ((bytes[p + 2]! | (bytes[p + 3]! << 8)) !== RDP_NEG_REQ_LENGTH) return invalid('RDP_NEG_REQ length is not 8');
    if (p + RDP_NEG_REQ_LENGTH > have) return more();
    requestedProtocols = (bytes[p + 4]! | (bytes[p + 5]! << 8) | (bytes[p + 6]! << 16) | (bytes[p + 7]! << 24)) >>> 0;
    p += RDP_NEG_REQ_LENGTH;

    // rdpCorrelationInfo (MS-RDPBCGR §2.2.1.1.2)
    if (flags & CORRELATION_INFO_PRESENT) {
      if (p + RDP_CORRELATION_INFO_LENGTH > length) return invalid('missing or truncated RDP_NEG_CORRELATION_INFO');
      if (p >= have) return more();
      if (bytes[p] !== TYPE_RDP_CORRELATION_INFO) return invalid('RDP_NEG_CORRELATION_INFO type is not 0x06');
      if (p + 1 >= have) return more();
      if (bytes[p + 1] !== 0) return invalid('RDP_NEG_CORRELATION_INFO flags are not 0');
      if (p + 4 > have) return more();
      if ((bytes[p + 2]! | (bytes[p + 3]! << 8)) !== RDP_CORRELATION_INFO_LENGTH) return invalid('RDP_NEG_CORRELATION_INFO length is not 36');
      p += RDP_CORRELATION_INFO_LENGTH;
    }
    if (p < length) return invalid('trailing bytes in X.224 Connection Request');
  }

  if (have < length) return more();
  const value: RdpConnectionRequest = {
    cookie,
    ...(routingToken === undefined ? {} : { routingToken }),
    ...(requestedProtocols === undefined ? {} : { requestedProtocols }),
    length,
  };
  return ok(value, length);
}
