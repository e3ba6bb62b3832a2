/**
 * The first message a SOCKS client sends: a SOCKS4 / SOCKS4a request, or a SOCKS5 method-selection
 * greeting.
 *
 * SOCKS4 request ("SOCKS: A protocol for TCP proxy across firewalls", Ying-Da Lee, section 1 CONNECT
 * and section 2 BIND — the two share one layout):
 *
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *   | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *      1    1      2              4           variable       1
 *
 *   VN = 4, CD = 1 (CONNECT) or 2 (BIND), DSTPORT and DSTIP in network byte order.
 *
 * SOCKS4a ("SOCKS 4A: A Simple Extension to SOCKS 4 Protocol", Ying-Da Lee): DSTIP is 0.0.0.x with
 * x != 0, and after the USERID's NUL comes the destination domain name, ended by another NUL.
 *
 * SOCKS5 greeting (RFC 1928 §3):
 *
 *   +----+----------+----------+
 *   |VER | NMETHODS | METHODS  |
 *   +----+----------+----------+
 *   | 1  |    1     | 1 to 255 |
 *   +----+----------+----------+
 *
 *   VER = 5, NMETHODS = the number of method octets that follow.
 *
 * Choices:
 * - USERID and the 4a host name are capped at 255 bytes each (not counting their NUL); a longer one
 *   is invalid as soon as byte 256 arrives without the NUL. The specs give no limit; 255 is what
 *   SOCKS5 allows for a user name (RFC 1929 §2) and a domain name (RFC 1928 §5).
 * - USERID may hold any byte but NUL and is reported as latin1 ('' when empty, as curl sends it with
 *   no --proxy-user).
 * - The 4a host name must be 1..255 printable US-ASCII bytes without SP (0x21-0x7e: names, IP literals
 *   and punycode); it is reported lowercased. A 4a request with an empty host name is invalid.
 * - DSTIP 0.0.0.0 is plain SOCKS4 (the 4a marker needs x != 0). Port 0 is accepted (the spec does
 *   not forbid it; for BIND it is whatever the client says).
 * - SOCKS5: NMETHODS 0 is invalid (RFC 1928 §3: 1 to 255 methods). Method X'FF' is "NO ACCEPTABLE
 *   METHODS", a server's answer (RFC 1928 §3), so a client offering it is invalid; every other value
 *   (0x00-0x7f IANA, 0x80-0xfe private) is accepted. sslh's is_socks5_protocol is stricter (1..10
 *   methods, each 0..9), which would refuse private methods; this parser follows the RFC.
 * - The ok length is the request (through its last NUL) or the greeting (2 + NMETHODS); whatever
 *   follows (a client that does not wait for the reply) is not looked at.
 */
import { incomplete, invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { latin1 } from '../bytes.js';

export interface SocksRequest {
  readonly version: 4 | 5;
  /** SOCKS4/4a: CD = 1 'connect', 2 'bind'. */
  readonly command?: 'connect' | 'bind';
  /** SOCKS4/4a: DSTPORT. */
  readonly port?: number;
  /** SOCKS4: DSTIP as dotted quad (absent for 4a, which names a host instead). */
  readonly address?: string;
  /** SOCKS4a: the destination host name, lowercased. */
  readonly host?: string;
  /** SOCKS4/4a: USERID (latin1, '' when empty). */
  readonly user?: string;
  /** SOCKS5: the offered authentication methods, in the order sent. */
  readonly methods?: number[];
}

/** Longest USERID / SOCKS4a host name, in bytes, not counting the NUL. */
export const SOCKS4_MAX_FIELD = 255;

const SOCKS4_HEADER = 8; // VN CD DSTPORT(2) DSTIP(4)
const NUL = 0x00;

export function parseSocks(bytes: Uint8Array): ParseResult<SocksRequest> {
  return settled(resumeSocks(bytes));
}

/** A SOCKS4 request read up to `i`, in its USERID (userEnd -1) or after it, in its SOCKS4a host name. */
export interface SocksResume {
  readonly i: number;
  readonly userEnd: number;
}

/**
 * parseSocks, resumable (result.ts Suspended): the NUL-terminated fields of a SOCKS4 request are
 * read once, the 8-byte header again on each resume. `from` is the state of an incomplete answer
 * over a prefix of `bytes`. (A SOCKS5 greeting says its length: `needed`.)
 */
export function resumeSocks(bytes: Uint8Array, from?: SocksResume): ParseResult<SocksRequest> {
  if (bytes.length === 0) return incomplete();
  const vn = bytes[0]!;
  if (vn === 5) return parseSocks5(bytes);
  if (vn === 4) return parseSocks4(bytes, from);
  return invalid('not a SOCKS request');
}

/** RFC 1928 §3. */
function parseSocks5(bytes: Uint8Array): ParseResult<SocksRequest> {
  if (bytes.length < 2) return incomplete(3);
  const n = bytes[1]!;
  if (n === 0) return invalid('SOCKS5 greeting offers no method');
  const end = 2 + n;
  const have = Math.min(bytes.length, end);
  for (let i = 2; i < have; i++) {
    if (bytes[i] === 0xff) return invalid('SOCKS5 greeting offers method 0xff (NO ACCEPTABLE METHODS)');
  }
  if (bytes.length < end) return incomplete(end);
  return ok({ version: 5, methods: Array.from(bytes.subarray(2, end)) }, end);
}

/** SOCKS4 section 1/2 and the SOCKS4a extension. */
function parseSocks4(bytes: Uint8Array, from: SocksResume | undefined): ParseResult<SocksRequest> {
  if (bytes.length >= 2) {
    const cd = bytes[1]!;
    if (cd !== 1 && cd !== 2) return invalid('SOCKS4 command is neither CONNECT (1) nor BIND (2)');
  }
  if (bytes.length < SOCKS4_HEADER + 1) return incomplete(SOCKS4_HEADER + 1);
  const command = bytes[1] === 1 ? 'connect' : 'bind';
  const port = (bytes[2]! << 8) | bytes[3]!;
  const ip = [bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!];
  const is4a = ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0;

  // USERID NUL
  const userStart = SOCKS4_HEADER;
  let i = from?.i ?? userStart;
  if (from === undefined || from.userEnd === -1) {
    for (;;) {
      if (i - userStart > SOCKS4_MAX_FIELD) return invalid('SOCKS4 userid exceeds 255 bytes');
      if (i >= bytes.length) return suspend<SocksResume>({ i, userEnd: -1 });
      if (bytes[i] === NUL) break;
      i++;
    }
  } else {
    i = from.userEnd;
  }
  const userEnd = i;
  const user = latin1(bytes, userStart, i);
  i++;

  if (!is4a) {
    return ok({ version: 4, command, port, address: ip.join('.'), user }, i);
  }

  // SOCKS4a: host name NUL
  const hostStart = i;
  if (from !== undefined && from.userEnd !== -1) i = from.i;
  for (;;) {
    if (i - hostStart > SOCKS4_MAX_FIELD) return invalid('SOCKS4a host name exceeds 255 bytes');
    if (i >= bytes.length) return suspend<SocksResume>({ i, userEnd });
    const b = bytes[i]!;
    if (b === NUL) break;
    if (b < 0x21 || b > 0x7e) return invalid('invalid byte in SOCKS4a host name');
    i++;
  }
  if (i === hostStart) return invalid('empty SOCKS4a host name');
  const host = latin1(bytes, hostStart, i).toLowerCase();
  i++;
  return ok({ version: 4, command, port, host, user }, i);
}
