/**
 * SSH identification string, as sent first by an SSH client (RFC 4253 §4.2):
 *
 *   SSH-protoversion-softwareversion SP comments CR LF
 *
 * - At most 255 bytes including the line terminator (RFC 4253 §4.2).
 * - protoversion must be "2.0", or "1.99" (RFC 4253 §5.1: a server/client compatible with both
 *   SSH 1 and 2); anything else is invalid('unsupported SSH protocol version'), decided as soon as
 *   the bytes stop being a prefix of one of the two.
 * - softwareversion: 1 or more printable US-ASCII bytes (0x21-0x7e), ended by SP, CR or LF.
 *   RFC 4253 §4.2 also excludes '-' from it, but real clients send one (JSch "SSH-2.0-JSCH-0.1.54",
 *   old libssh "SSH-2.0-libssh-0.6.3") and OpenSSH accepts them, so '-' is accepted here.
 * - comments (optional, after one SP): printable US-ASCII and SP (0x20-0x7e). Reported as sent,
 *   '' when the SP is followed directly by the terminator.
 * - Terminator: CR LF, or a bare LF — RFC 4253 §4.2 notes implementations may want to accept the
 *   string without the CR for compatibility with older versions. A CR not followed by LF is invalid.
 * - Servers may send other lines before their identification string, clients may not (RFC 4253
 *   §4.2), and this parser is for what clients send: any byte before "SSH-" is invalid.
 */
import { incomplete, invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { CR, latin1, LF } from '../bytes.js';

export interface SshBanner {
  readonly protoVersion: string; /* '2.0' or '1.99' */
  readonly software: string;
  readonly comments: string | undefined;
  readonly length: number;
}

const MAX_LENGTH = 255;
const PREFIX = [0x53, 0x53, 0x48, 0x2d]; // "SSH-"
const VERSIONS = ['2.0', '1.99'] as const;
const SP = 0x20;
const DASH = 0x2d;

function isVersionPrefix(bytes: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  return VERSIONS.some((v) => {
    if (len > v.length) return false;
    for (let k = 0; k < len; k++) if (bytes[start + k] !== v.charCodeAt(k)) return false;
    return true;
  });
}

export function parseSshBanner(bytes: Uint8Array): ParseResult<SshBanner> {
  return settled(resumeSshBanner(bytes));
}

/** A banner read up to `i` in its softwareversion / comments part. */
export interface SshResume {
  readonly protoVersion: '2.0' | '1.99';
  readonly softStart: number;
  readonly softEnd: number;
  readonly commentStart: number;
  readonly i: number;
}

/**
 * parseSshBanner, resumable (result.ts Suspended): past "SSH-protoversion-" (at most 9 bytes, read
 * again on a fresh parse only) the rest of the line is read once. `from` is the state of an
 * incomplete answer over a prefix of `bytes`.
 */
export function resumeSshBanner(bytes: Uint8Array, from?: SshResume): ParseResult<SshBanner> {
  const limit = Math.min(bytes.length, MAX_LENGTH);
  const more = (): ParseResult<SshBanner> =>
    bytes.length >= MAX_LENGTH ? invalid('identification string exceeds 255 bytes') : incomplete();

  let protoVersion: '2.0' | '1.99';
  let i: number;
  if (from === undefined) {
    for (let k = 0; k < PREFIX.length; k++) {
      if (k >= bytes.length) return incomplete();
      if (bytes[k] !== PREFIX[k]) return invalid('not an SSH identification string');
    }

    // protoversion "-"
    i = PREFIX.length;
    for (;;) {
      if (i >= limit) return more();
      const b = bytes[i]!;
      if (b === DASH) break;
      if (b < 0x21 || b > 0x7e) return invalid('malformed SSH identification string');
      i++;
      if (!isVersionPrefix(bytes, PREFIX.length, i)) return invalid('unsupported SSH protocol version');
    }
    const version = latin1(bytes, PREFIX.length, i);
    if (version !== '2.0' && version !== '1.99') return invalid('unsupported SSH protocol version');
    protoVersion = version;
    i++;
  } else {
    protoVersion = from.protoVersion;
    i = from.i;
  }

  // softwareversion, then [SP comments], then CR LF / LF
  const softStart = from?.softStart ?? i;
  let softEnd = from?.softEnd ?? -1;
  let commentStart = from?.commentStart ?? -1;
  /** Out of bytes at `i`, with the loop's state `seenSoftEnd` (the loop below takes it up there). */
  const wait = (seenSoftEnd: number): ParseResult<SshBanner> =>
    bytes.length >= MAX_LENGTH ? more() : suspend<SshResume>({ protoVersion, softStart, softEnd: seenSoftEnd, commentStart, i });
  for (;;) {
    if (i >= limit) return wait(softEnd);
    const b = bytes[i]!;
    if (b === CR || b === LF) break;
    if (softEnd === -1) {
      if (b === SP) {
        if (i === softStart) return invalid('empty SSH software version');
        softEnd = i;
        commentStart = i + 1;
      } else if (b < 0x21 || b > 0x7e) {
        return invalid('malformed SSH identification string');
      }
    } else if (b < 0x20 || b > 0x7e) {
      return invalid('malformed SSH identification string');
    }
    i++;
  }
  const lineEnd = i;
  const seenSoftEnd = softEnd;
  if (softEnd === -1) softEnd = lineEnd;
  if (softEnd === softStart) return invalid('empty SSH software version');

  if (bytes[i] === CR) {
    // Resumed at the CR, the loop above stops on it again with the same state.
    if (i + 1 >= limit) return wait(seenSoftEnd);
    if (bytes[i + 1] !== LF) return invalid('bare CR in SSH identification string');
    i += 2;
  } else {
    i += 1; // bare LF
  }

  return ok(
    {
      protoVersion,
      software: latin1(bytes, softStart, softEnd),
      comments: commentStart === -1 ? undefined : latin1(bytes, commentStart, lineEnd),
      length: i,
    },
    i,
  );
}

/** 'yes' once "SSH-" has been seen, 'maybe' on a (possibly empty) prefix of it, 'no' otherwise. */
export function sshSignature(bytes: Uint8Array): 'yes' | 'no' | 'maybe' {
  for (let k = 0; k < PREFIX.length; k++) {
    if (k >= bytes.length) return 'maybe';
    if (bytes[k] !== PREFIX[k]) return 'no';
  }
  return 'yes';
}
