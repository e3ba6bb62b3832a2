/**
 * tinc VPN meta-connection: the ID request a tinc daemon sends first on an outgoing TCP
 * connection (tinc docs, "The meta-protocol"; source: send_id / id_h in src/protocol_auth.c).
 *
 *   tinc 1.0:   "0" SP name SP "17" LF                   send_request(c, "%d %s %d", ID, name, protocol_version)
 *   tinc 1.1:   "0" SP name SP "17" "." minor LF         send_request(c, "%d %s %d.%d", ID, name, major, minor)
 *   tinc join:  "0" SP "?" key SP "17" "." minor LF      sendline(sock, "0 ?%s %d.%d", key, PROT_MAJOR, 1)
 *
 * - "0" is the ID request number; every tinc request line ends with LF (send_request appends it).
 * - name: a node name as id_h's check_id accepts it: 1 or more of A-Z a-z 0-9 "_". An invitation
 *   ("tinc join") sends "?" and the base64 of its throw-away Ed25519 public key instead; accepted
 *   as kind 'invitation' with `name` = the key (characters A-Z a-z 0-9 + / - _).
 * - The name field is read by id_h as MAX_STRING ("%2048s"): at most 2048 bytes, "?" included; a
 *   longer one is invalid as soon as it passes 2048 bytes. That also caps the line at 2058 bytes.
 * - Protocol major must be 17, the only one tinc 1.0 and 1.1 speak (PROT_MAJOR; id_h refuses a
 *   different major). The minor is read by id_h as "%3d": 1 to 3 digits, absent for tinc 1.0.
 * - Exactly one SP between fields and no CR: tinc never sends other whitespace.
 * - Not accepted: the control line "0 ^cookie 0" of the `tinc` CLI (it talks to its own daemon over
 *   a UNIX socket, or loopback TCP on Windows, and is not something to route).
 *
 * sslh (probe.c, is_tinc_protocol) matches any input starting with "0 " and waits for 2 bytes.
 * This parser is stricter: it decides invalid at the first byte that cannot belong to an ID line
 * and answers ok once the LF has arrived (`ok.length` = the line including LF). Bytes after the
 * LF (tinc waits for the peer's ID before sending more) are not looked at.
 */
import { incomplete, invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { isDigit, latin1, LF } from '../bytes.js';

export interface TincId {
  readonly kind: 'node' | 'invitation';
  /** The node name, or for an invitation the base64 key after "?". */
  readonly name: string;
  readonly protocolMajor: 17;
  /** Absent for tinc 1.0 ("17" without a minor). */
  readonly protocolMinor?: number;
}

/** MAX_STRING in tinc's id_h: "%2048s". */
export const TINC_MAX_NAME = 2048;

const SP = 0x20;
const DOT = 0x2e;
const QUESTION = 0x3f;

function isNameChar(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;
}

function isBase64Char(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2b || b === 0x2f || b === 0x2d || b === 0x5f;
}

/** Parses a tinc ID line from all bytes received so far. */
export function parseTinc(bytes: Uint8Array): ParseResult<TincId> {
  return settled(resumeTinc(bytes));
}

/** An ID line whose name has been read up to `i` (and whose "0 " and optional "?" are in). */
export interface TincResume {
  readonly invitation: boolean;
  readonly i: number;
}

/**
 * parseTinc, resumable (result.ts Suspended): the name (up to 2048 bytes) is read once; what follows
 * it (at most 8 bytes) is read again on each resume. `from` is the state of an incomplete answer
 * over a prefix of `bytes`.
 */
export function resumeTinc(bytes: Uint8Array, from?: TincResume): ParseResult<TincId> {
  let invitation: boolean;
  let i: number;
  if (from === undefined) {
    // "0 "
    if (bytes.length < 1) return incomplete();
    if (bytes[0] !== 0x30) return invalid('not a tinc ID request');
    if (bytes.length < 2) return incomplete();
    if (bytes[1] !== SP) return invalid('not a tinc ID request');
    if (bytes.length < 3) return incomplete();
    invitation = bytes[2] === QUESTION;
    i = invitation ? 3 : 2;
  } else {
    invitation = from.invitation;
    i = from.i;
  }

  // name SP
  const nameStart = invitation ? 3 : 2;
  const allowed = invitation ? isBase64Char : isNameChar;
  for (;;) {
    if (i >= bytes.length) return suspend<TincResume>({ invitation, i });
    const b = bytes[i]!;
    if (b === SP) break;
    if (!allowed(b)) return invalid(invitation ? 'invalid tinc invitation key' : 'invalid tinc node name');
    i++;
    if (i - 2 > TINC_MAX_NAME) return invalid('tinc name exceeds 2048 bytes');
  }
  if (i === nameStart) return invalid(invitation ? 'invalid tinc invitation key' : 'invalid tinc node name');
  const nameEnd = i;
  i++;
  const waitAfterName = (): ParseResult<TincId> => suspend<TincResume>({ invitation, i: nameEnd });

  // "17"
  for (const digit of [0x31, 0x37]) {
    if (i >= bytes.length) return waitAfterName();
    if (bytes[i] !== digit) return invalid('unsupported tinc protocol version');
    i++;
  }

  // [ "." 1*3DIGIT ] LF
  if (i >= bytes.length) return waitAfterName();
  let minor: number | undefined;
  if (bytes[i] === DOT) {
    i++;
    const minorStart = i;
    for (;;) {
      if (i >= bytes.length) return waitAfterName();
      const b = bytes[i]!;
      if (!isDigit(b)) break;
      i++;
      if (i - minorStart > 3) return invalid('malformed tinc protocol minor version');
    }
    if (i === minorStart) return invalid('malformed tinc protocol minor version');
    minor = Number(latin1(bytes, minorStart, i));
  } else if (isDigit(bytes[i]!)) {
    return invalid('unsupported tinc protocol version');
  }
  if (bytes[i] !== LF) return invalid('malformed tinc ID request');
  i++;

  const value: { kind: 'node' | 'invitation'; name: string; protocolMajor: 17; protocolMinor?: number } = {
    kind: invitation ? 'invitation' : 'node',
    name: latin1(bytes, nameStart, nameEnd),
    protocolMajor: 17,
  };
  if (minor !== undefined) value.protocolMinor = minor;
  return ok(value, i);
}
