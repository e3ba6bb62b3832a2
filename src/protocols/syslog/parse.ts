/**
 * Syslog over TCP: the first message a sender writes, in either framing of RFC 6587 §3.4, carrying
 * an RFC 5424 or RFC 3164 message.
 *
 * Framing (RFC 6587):
 *   octet-counting  (§3.4.1)  SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG ; MSG-LEN = NONZERO-DIGIT *DIGIT
 *   non-transparent (§3.4.2)  SYSLOG-FRAME = SYSLOG-MSG TRAILER    ; TRAILER = LF / APP-DEFINED
 * The first byte tells them apart (RFC 6587 §3.4.2: a frame starting with a digit is octet-counted,
 * one starting with "<" is not): "1"-"9" is octet-counting, "<" is non-transparent, anything else
 * is invalid.
 *
 * Message start (RFC 5424 §6, §6.2.1; RFC 3164 §4.1.1):
 *   PRI = "<" PRIVAL ">" ; PRIVAL = 1*3DIGIT, 0..191, no leading "0" except "<0>" itself
 *   (RFC 5424 §6.2.1 and RFC 3164 §4.1.1: "leading "0"s MUST NOT be used").
 *   facility = PRIVAL >> 3, severity = PRIVAL & 7.
 *   RFC 5424 continues with VERSION SP (VERSION = NONZERO-DIGIT 0*2DIGIT, §6.2.2): when the bytes
 *   after PRI are that, `version` is reported; otherwise the message is taken as RFC 3164 (whose
 *   HEADER/MSG are free-form enough that nothing else after PRI can be refused, §4.3.3).
 *
 * Choices:
 * - Non-transparent framing: the message ends at the first LF (the usual TRAILER) or NUL (the other
 *   one seen in practice, e.g. from NetScreen firewalls); `ok.length` includes the trailer. A CR before
 *   the LF stays part of the message. Other APP-DEFINED trailers are not guessed.
 * - Octet-counting: MSG-LEN must be at least 3 (the shortest message, "<0>") and the frame must
 *   have arrived whole; `ok.length` = digits + SP + MSG-LEN. The message bytes after PRI are not
 *   judged (they may hold anything, LF included).
 * - `ok` needs the whole first message (a routing decision on a complete, valid first message,
 *   like the other parsers); everything before it is judged as it arrives (a bad PRI is invalid
 *   at its first wrong byte).
 * - Cap: `maxBytes` (default 8192, the size RFC 5425 §4.3.1 says receivers SHOULD handle) bounds the
 *   whole frame, trailer and octet count included. An octet count announcing more, or a line with
 *   no trailer within the cap, is invalid('syslog message exceeds cap').
 *
 * Compared with sslh (probe.c, is_syslog_protocol: sscanf "<%d>" or "%d <%d>", decided on the first
 * read), this parser is stricter: sscanf accepts a sign, leading whitespace, any PRI value and
 * an unclosed "<", and "%d <%d>" lets any amount of whitespace (or none) separate the count from
 * the message; here PRI must be 0..191 without leading zeros and exactly one SP follows MSG-LEN.
 */
import { incomplete, invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { isDigit, LF } from '../bytes.js';

export interface SyslogMessage {
  readonly framing: 'octet-counting' | 'non-transparent';
  /** PRIVAL, 0..191. */
  readonly pri: number;
  /** pri >> 3 (0..23). */
  readonly facility: number;
  /** pri & 7 (0..7). */
  readonly severity: number;
  /** RFC 5424 VERSION when present (1 today); absent for RFC 3164 messages. */
  readonly version?: number;
  /** Bytes of SYSLOG-MSG alone: without the octet count and its SP, without the trailer. */
  readonly messageLength: number;
}

const DEFAULT_CAP = 8192;
const SP = 0x20;
const NUL = 0x00;
const LT = 0x3c;
const GT = 0x3e;
const MIN_MESSAGE = 3; // "<0>"

interface Pri {
  readonly pri: number;
  readonly end: number; // index after ">"
}

/**
 * PRI at bytes[start..), looking only below `limit`: a Pri, 'more' when the bytes so far are a valid
 * prefix, or an invalid reason.
 */
function parsePri(bytes: Uint8Array, start: number, limit: number): Pri | 'more' | string {
  if (start >= limit) return 'more';
  if (bytes[start] !== LT) return 'syslog message does not start with PRI';
  let i = start + 1;
  let value = 0;
  for (;;) {
    if (i >= limit) return 'more';
    const b = bytes[i]!;
    if (b === GT) break;
    if (!isDigit(b)) return 'malformed syslog PRI';
    if (i > start + 1 && value === 0) return 'leading zero in syslog PRI';
    value = value * 10 + (b - 0x30);
    i++;
    if (i - (start + 1) > 3 || value > 191) return 'syslog PRI out of range';
  }
  if (i === start + 1) return 'malformed syslog PRI';
  return { pri: value, end: i + 1 };
}

/** RFC 5424 VERSION SP right after PRI, within [at, end): the version, or undefined. */
function versionAt(bytes: Uint8Array, at: number, end: number): number | undefined {
  if (at >= end || bytes[at]! < 0x31 || bytes[at]! > 0x39) return undefined;
  let i = at;
  let v = 0;
  while (i < end && i - at < 3 && isDigit(bytes[i]!)) v = v * 10 + (bytes[i++]! - 0x30);
  return i < end && bytes[i] === SP ? v : undefined;
}

function message(framing: SyslogMessage['framing'], pri: number, version: number | undefined, messageLength: number): SyslogMessage {
  const m: { framing: SyslogMessage['framing']; pri: number; facility: number; severity: number; version?: number; messageLength: number } = {
    framing,
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    messageLength,
  };
  if (version !== undefined) m.version = version;
  return m;
}

/**
 * Parses the first syslog frame from all bytes received so far. `maxBytes` caps the whole frame
 * (octet count and trailer included).
 */
export function parseSyslog(bytes: Uint8Array, maxBytes: number = DEFAULT_CAP): ParseResult<SyslogMessage> {
  return settled(resumeSyslog(bytes, maxBytes));
}

/** A non-transparent frame past its PRI: the PRI, and the next byte to look at for the trailer. */
export interface SyslogResume {
  readonly pri: Pri;
  readonly i: number;
}

/**
 * parseSyslog, resumable (result.ts Suspended): a non-transparent frame waiting for its trailer is
 * taken up at the first byte not yet looked at (`from`, the state of an incomplete answer over a
 * prefix of `bytes`, same `maxBytes`). Octet-counted frames say how long they are (`needed`).
 */
export function resumeSyslog(bytes: Uint8Array, maxBytes: number = DEFAULT_CAP, from?: SyslogResume): ParseResult<SyslogMessage> {
  const cap = Number.isFinite(maxBytes) && maxBytes >= 1 ? Math.floor(maxBytes) : DEFAULT_CAP;
  if (bytes.length < 1) return incomplete();
  const first = bytes[0]!;

  if (first === LT) {
    // Non-transparent framing (RFC 6587 §3.4.2).
    const limit = Math.min(bytes.length, cap);
    const p = from?.pri ?? parsePri(bytes, 0, limit);
    if (p === 'more') return bytes.length >= cap ? invalid('syslog message exceeds cap') : incomplete();
    if (typeof p === 'string') return invalid(p);
    let i = from?.i ?? p.end;
    for (;;) {
      if (i >= limit) return bytes.length >= cap ? invalid('syslog message exceeds cap') : suspend<SyslogResume>({ pri: p, i });
      const b = bytes[i]!;
      if (b === LF || b === NUL) break;
      i++;
    }
    return ok(message('non-transparent', p.pri, versionAt(bytes, p.end, i), i), i + 1);
  }

  if (first >= 0x31 && first <= 0x39) {
    // Octet-counting (RFC 6587 §3.4.1): MSG-LEN SP.
    let i = 0;
    let msgLen = 0;
    for (;;) {
      if (i >= bytes.length) return incomplete();
      const b = bytes[i]!;
      if (b === SP) break;
      if (!isDigit(b)) return invalid('malformed syslog octet count');
      msgLen = msgLen * 10 + (b - 0x30);
      i++;
      // Counting only grows: refuse once the frame cannot fit.
      if (i + 1 + msgLen > cap) return invalid('syslog message exceeds cap');
    }
    if (msgLen < MIN_MESSAGE) return invalid('syslog octet count too small');
    const start = i + 1;
    const end = start + msgLen;
    const p = parsePri(bytes, start, Math.min(bytes.length, end));
    if (p === 'more') {
      // Out of received bytes, or the PRI runs to the end of the frame.
      return bytes.length >= end ? invalid('malformed syslog PRI') : incomplete(end);
    }
    if (typeof p === 'string') return invalid(p);
    if (bytes.length < end) return incomplete(end);
    return ok(message('octet-counting', p.pri, versionAt(bytes, p.end, end), msgLen), end);
  }

  return invalid('not a syslog frame');
}
