/**
 * HTTP/1.x request head parser (RFC 9112) and a cheap "looks like HTTP/1" signature.
 *
 * Layout (RFC 9112 §2.1, §3, §5):
 *
 *   request-line = method SP request-target SP HTTP-version CRLF      (§3)
 *   *( field-name ":" OWS field-value OWS CRLF )                      (§5, RFC 9110 §5.1-§5.6)
 *   CRLF
 *
 * Choices (documented here because the RFCs leave them to the recipient):
 * - Line ends: CRLF, or a bare LF (RFC 9112 §2.2: "a recipient MAY recognize a single LF as a
 *   line terminator and ignore any preceding CR"). A CR not followed by LF is refused
 *   (RFC 9112 §2.2: bare CR MUST be rejected or replaced).
 * - Request line is split on single SP only; the lenient whitespace parsing of RFC 9112 §3 is not
 *   used. No empty lines are skipped before the request line (RFC 9112 §2.2 "SHOULD ignore" is
 *   for persistent connections; on a fresh connection leading CRLF is not HTTP).
 * - Method: 1..32 tchar (RFC 9110 §5.6.2, §9.1), case-sensitive and reported as sent, so
 *   `get` is a valid (if unusual) method.
 * - request-target: any byte 0x21-0x7e, and also 0x80-0xff (raw UTF-8 paths sent by sloppy
 *   clients); the multiplexer routes on Host, the origin server decides whether the path is
 *   acceptable. Reported as latin1 (one char per byte). A CONNECT target that is authority-form
 *   (RFC 9112 §3.2.3, RFC 9110 §9.3.6: `uri-host ":" port`) gives host/hostPort; a malformed one
 *   leaves them undefined but the request is still HTTP (the proxy answers it with 400).
 * - HTTP-version must be exactly `HTTP/1.0` or `HTTP/1.1` (anything else, including HTTP/2.0 and
 *   HTTP/1.2, is invalid).
 * - Whitespace between a field name and the colon is invalid (RFC 9112 §5.1 MUST reject).
 *   A line starting with SP/HTAB (obs-fold, RFC 9112 §5.2, or whitespace after the start line,
 *   §2.2) is invalid. Field values may contain VCHAR, obs-text, SP and HTAB; NUL and other
 *   controls are invalid (RFC 9110 §5.5).
 * - More than one Host field is invalid; so is a Host value that is not
 *   `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 9110 §7.2, RFC 3986 §3.2.2). An empty Host value
 *   is allowed and reported as host undefined. A missing Host is accepted even for HTTP/1.1
 *   (host undefined): the multiplexer only classifies, the origin server answers 400.
 * - `host` is lowercased, the port is split off into `hostPort`, IPv6 literals are reported
 *   without their brackets ("[::1]:8080" -> host "::1", hostPort 8080). A trailing dot is kept.
 * - For CONNECT, host/hostPort are the authority-form target's (where the tunnel goes, RFC 9110
 *   §9.3.6), whatever the Host header says; undefined when the target is malformed. That host is
 *   in the spelling the tunnel dials (canonicalHostText: no trailing dot, an IPv4-mapped or other
 *   IPv6 form of an IPv4 address as dotted IPv4, IPv6 compressed). The Host
 *   header itself is `hostHeader` (for every method), so a CONNECT route can refuse a request
 *   whose Host disagrees with its target. For absolute-form targets the Host header is still
 *   what is reported as host.
 * - The whole head (through the empty line) must fit in `maxBytes`, else 'head exceeds cap'.
 */
import { isIPv6 } from 'node:net';
import { canonicalHostText } from '../ip/canonical.js';
import { invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { CR, latin1, LF } from '../bytes.js';

export interface HttpRequestHead {
  readonly method: string; // as sent (token chars per RFC 9110 §5.6.2), e.g. 'GET', 'CONNECT'
  readonly target: string; // request-target as sent (latin1)
  readonly version: '1.0' | '1.1';
  readonly host: string | undefined; // Host header value, lowercased, port stripped ("[v6]:port" handled); for CONNECT, from the authority target
  readonly hostPort: number | undefined; // port from Host/authority if present
  readonly hostHeader: HostField | undefined; // the Host header as parsed (host undefined when empty); undefined without one
  readonly headerBytes: number; // bytes of the head incl. final CRLFCRLF (== ok length)
}

const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const MAX_METHOD = 32;
const DEFAULT_CAP = 16384;

/** tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2) */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** reg-name chars (RFC 3986 §3.2.2): unreserved / sub-delims; '%' is handled separately (pct-encoded). */
const REGNAME = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=") REGNAME[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) REGNAME[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) REGNAME[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) REGNAME[c] = 1;

const VERSION_PREFIX = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."
const CONNECT = [0x43, 0x4f, 0x4e, 0x4e, 0x45, 0x43, 0x54]; // "CONNECT"

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function equalsAscii(bytes: Uint8Array, start: number, end: number, word: readonly number[]): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (bytes[start + k] !== word[k]) return false;
  return true;
}

/** Case-insensitive "host" (field names are case-insensitive, RFC 9110 §5.1). */
function isHostName(bytes: Uint8Array, start: number, end: number): boolean {
  return (
    end - start === 4 &&
    (bytes[start]! | 0x20) === 0x68 &&
    (bytes[start + 1]! | 0x20) === 0x6f &&
    (bytes[start + 2]! | 0x20) === 0x73 &&
    (bytes[start + 3]! | 0x20) === 0x74
  );
}

export interface HostField {
  readonly host: string | undefined;
  readonly port: number | undefined;
}
type Authority = HostField;

/**
 * Parses `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2-§3.2.3) in bytes[start, end).
 * uri-host = IP-literal / IPv4address / reg-name; IP-literal = "[" IPv6address "]" (IPvFuture
 * and zone IDs are refused). port = *DIGIT, at most 65535. Returns undefined when malformed.
 * With `requirePort` (authority-form, RFC 9112 §3.2.3) the host and a non-empty port are required.
 */
function parseAuthority(bytes: Uint8Array, start: number, end: number, requirePort: boolean): Authority | undefined {
  if (start === end) return requirePort ? undefined : { host: undefined, port: undefined };
  let i = start;
  let host: string;
  if (bytes[i] === 0x5b /* [ */) {
    const hs = i + 1;
    i = hs;
    while (i < end && bytes[i] !== 0x5d /* ] */) {
      const b = bytes[i]!;
      if (!(isHex(b) || b === COLON || b === 0x2e)) return undefined; // no IPvFuture, no zone ID
      i++;
    }
    if (i >= end) return undefined; // no closing bracket
    const text = latin1(bytes, hs, i);
    if (!isIPv6(text)) return undefined;
    host = text.toLowerCase();
    i++; // past ']'
  } else {
    const hs = i;
    while (i < end && bytes[i] !== COLON) {
      const b = bytes[i]!;
      if (b === 0x25 /* % */) {
        if (i + 2 >= end || !isHex(bytes[i + 1]!) || !isHex(bytes[i + 2]!)) return undefined;
        i += 3;
        continue;
      }
      if (!REGNAME[b]) return undefined;
      i++;
    }
    if (i === hs) return undefined; // ":port" with no host
    host = latin1(bytes, hs, i).toLowerCase();
  }
  if (i === end) return requirePort ? undefined : { host, port: undefined };
  if (bytes[i] !== COLON) return undefined;
  i++;
  if (i === end) return requirePort ? undefined : { host, port: undefined }; // "host:" (empty port)
  let port = 0;
  for (; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x30 || b > 0x39) return undefined;
    port = port * 10 + (b - 0x30);
    if (port > 65535) return undefined;
  }
  return { host, port };
}

/**
 * Parses an HTTP/1.0 or HTTP/1.1 request head from all bytes received so far.
 * `ok.length` is the size of the head including the empty line; any bytes after it (a body, or a
 * pipelined request) are not looked at.
 */
export function parseHttpRequest(bytes: Uint8Array, maxBytes: number = DEFAULT_CAP): ParseResult<HttpRequestHead> {
  return settled(resumeHttpRequest(bytes, maxBytes));
}

/** Where a head parse stopped for want of bytes: the part being read, and what the bytes before it said. */
export interface HttpResume {
  readonly stage: Stage;
  /** The next byte to judge (in VERSION: the first byte of the version, which is re-read whole). */
  readonly i: number;
  readonly methodEnd: number;
  readonly targetStart: number;
  readonly targetEnd: number;
  readonly hostSeen: boolean;
  readonly hostAuth: Authority | undefined;
  /** The field line being read (NAME, VALUE): where its name starts, whether it is Host, where its value starts. */
  readonly nameStart: number;
  readonly isHost: boolean;
  readonly valueStart: number;
}

const METHOD = 0;
const TARGET = 1;
const VERSION = 2;
const LINE = 3; // at the start of a field line or of the empty line
const NAME = 4;
const VALUE = 5;
type Stage = typeof METHOD | typeof TARGET | typeof VERSION | typeof LINE | typeof NAME | typeof VALUE;

/**
 * parseHttpRequest, resumable (result.ts Suspended): with `from`, the state of an incomplete answer
 * over a prefix of `bytes` (same `maxBytes`), it reads only the bytes after that prefix. Every byte
 * is still judged once, as it arrives, so the answer at every length is the one parsing from byte 0
 * gives (a forbidden byte is refused on the segment that brings it).
 */
export function resumeHttpRequest(bytes: Uint8Array, maxBytes: number = DEFAULT_CAP, from?: HttpResume): ParseResult<HttpRequestHead> {
  const cap = Number.isFinite(maxBytes) && maxBytes >= 1 ? Math.floor(maxBytes) : DEFAULT_CAP;
  const limit = Math.min(bytes.length, cap);
  let stage: Stage = from?.stage ?? METHOD;
  let i = from?.i ?? 0;
  let methodEnd = from?.methodEnd ?? 0;
  let targetStart = from?.targetStart ?? 0;
  let targetEnd = from?.targetEnd ?? 0;
  let hostSeen = from?.hostSeen ?? false;
  let hostAuth = from?.hostAuth;
  let nameStart = from?.nameStart ?? 0;
  let isHost = from?.isHost ?? false;
  let valueStart = from?.valueStart ?? 0;
  // Ran out of bytes within the scan limit: either we wait for more or the cap is reached.
  const more = (): ParseResult<HttpRequestHead> =>
    bytes.length >= cap
      ? invalid('head exceeds cap')
      : suspend<HttpResume>({ stage, i, methodEnd, targetStart, targetEnd, hostSeen, hostAuth, nameStart, isHost, valueStart });

  /** Position after the line terminator starting at `at` (CRLF or bare LF), -1 to wait, -2 for a bare CR. */
  const lineEnd = (at: number): number => {
    if (bytes[at] === LF) return at + 1;
    // bytes[at] is CR
    if (at + 1 >= limit) return -1;
    return bytes[at + 1] === LF ? at + 2 : -2;
  };

  // --- method SP (RFC 9112 §3.1, RFC 9110 §9.1) ---
  if (stage === METHOD) {
    for (;;) {
      if (i >= limit) return more();
      const b = bytes[i]!;
      if (b === SP) break;
      if (!TCHAR[b]) return invalid(i === 0 ? 'not an HTTP request' : 'invalid method');
      i++;
      if (i > MAX_METHOD) return invalid('method too long');
    }
    if (i === 0) return invalid('not an HTTP request');
    methodEnd = i;
    i++;
    targetStart = i;
    stage = TARGET;
  }

  // --- request-target SP (RFC 9112 §3.2) ---
  if (stage === TARGET) {
    for (;;) {
      if (i >= limit) return more();
      const b = bytes[i]!;
      if (b === SP) break;
      if (b < 0x21 || b === 0x7f) return invalid('invalid request-target');
      i++;
    }
    if (i === targetStart) return invalid('empty request-target');
    targetEnd = i;
    i++;
    stage = VERSION;
  }

  // --- HTTP-version (RFC 9112 §2.3): exactly "HTTP/1.0" or "HTTP/1.1" ---
  // At most 10 bytes: on resume they are read again from the start (i stays there until they are in).
  if (stage === VERSION) {
    let v = i;
    for (let k = 0; k < VERSION_PREFIX.length; k++, v++) {
      if (v >= limit) return more();
      if (bytes[v] !== VERSION_PREFIX[k]) return invalid('unsupported HTTP version');
    }
    if (v >= limit) return more();
    const minor = bytes[v]!;
    if (minor !== 0x30 && minor !== 0x31) return invalid('unsupported HTTP version');
    v++;
    if (v >= limit) return more();
    if (bytes[v] !== CR && bytes[v] !== LF) return invalid('malformed request line');
    const e = lineEnd(v);
    if (e === -1) return more();
    if (e === -2) return invalid('bare CR');
    i = e;
    stage = LINE;
  }
  const minor = bytes[targetEnd + 1 + VERSION_PREFIX.length]!;

  const isConnect = equalsAscii(bytes, 0, methodEnd, CONNECT);

  // --- field lines until the empty line (RFC 9112 §5, §2.1) ---
  for (;;) {
    if (stage === LINE) {
      if (i >= limit) return more();
      const first = bytes[i]!;
      if (first === CR || first === LF) {
        const e = lineEnd(i);
        if (e === -1) return more();
        if (e === -2) return invalid('bare CR');
        i = e;
        break;
      }
      if (first === SP || first === HTAB) return invalid('obs-fold or whitespace-preceded line');
      nameStart = i;
      stage = NAME;
    }

    if (stage === NAME) {
      for (;;) {
        if (i >= limit) return more();
        const b = bytes[i]!;
        if (b === COLON) break;
        if (TCHAR[b]) {
          i++;
          continue;
        }
        if (b === SP || b === HTAB) return invalid('whitespace between header name and colon');
        return invalid('invalid header name');
      }
      if (i === nameStart) return invalid('empty header name');
      isHost = isHostName(bytes, nameStart, i);
      if (isHost) {
        if (hostSeen) return invalid('multiple Host headers');
        hostSeen = true;
      }
      i++; // past ':'
      valueStart = i;
      stage = VALUE;
    }

    let valueEnd: number;
    for (;;) {
      if (i >= limit) return more();
      const b = bytes[i]!;
      if (b === CR || b === LF) {
        const e = lineEnd(i);
        if (e === -1) return more();
        if (e === -2) return invalid('bare CR');
        valueEnd = i;
        i = e;
        break;
      }
      if (b === HTAB || (b >= 0x20 && b !== 0x7f)) {
        i++;
        continue;
      }
      return invalid('invalid character in header value');
    }
    stage = LINE;

    if (isHost) {
      // Strip OWS (RFC 9110 §5.5: leading and trailing whitespace is not part of the value).
      let s = valueStart;
      let e = valueEnd;
      while (s < e && (bytes[s] === SP || bytes[s] === HTAB)) s++;
      while (e > s && (bytes[e - 1] === SP || bytes[e - 1] === HTAB)) e--;
      hostAuth = parseAuthority(bytes, s, e, false);
      if (hostAuth === undefined) return invalid('invalid Host header');
    }
  }

  const headerBytes = i;
  // A malformed CONNECT target (port 0 or 99999, no port, a bad name) is still an HTTP request:
  // the CONNECT route answers it with 400 itself, which it could not do if it were not HTTP.
  // The CONNECT target in the one spelling the tunnel dials and the allowlist judges
  // (canonicalHostText), so that an `http.host` route sees the place the tunnel goes however the
  // client wrote it.
  const target = isConnect ? parseAuthority(bytes, targetStart, targetEnd, true) : undefined;
  const where = isConnect ? (target?.host === undefined ? target : { host: canonicalHostText(target.host), port: target.port }) : hostAuth;

  return ok(
    {
      method: latin1(bytes, 0, methodEnd),
      target: latin1(bytes, targetStart, targetEnd),
      version: minor === 0x31 ? '1.1' : '1.0',
      host: where?.host,
      hostPort: where?.port,
      hostHeader: hostAuth,
      headerBytes,
    },
    headerBytes,
  );
}

const PRI_PREFACE = ' * HTTP/2.0'; // after "PRI": the HTTP/2 connection preface (RFC 9113 §3.4)

/**
 * Cheap first-bytes check for "looks like an HTTP/1 request".
 *
 * Recognises a method made of uppercase letters (plus '-' and '_' after the first letter, for
 * methods such as VERSION-CONTROL), 1..32 bytes, followed by SP: then 'yes'. Every known method
 * (GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH, WebDAV…) has this shape. 'maybe' while
 * the bytes so far are a prefix of that, 'no' on the first byte that breaks it. Exceptions, so
 * that other protocols are refused as early as possible:
 * - "SSH-" (RFC 4253 §4.2 identification string) is 'no' at the '-'.
 * - "PROXY " (PROXY protocol v1 line) is 'no' at the SP.
 * - "PRI * HTTP/2.0" (the HTTP/2 preface, RFC 9113 §3.4) is 'maybe' while it matches and 'no'
 *   once complete; a PRI request that diverges from it is 'yes'.
 * Lowercase methods are valid HTTP (parseHttpRequest accepts them) but are not claimed here.
 */
export function httpSignature(bytes: Uint8Array): 'yes' | 'no' | 'maybe' {
  const n = bytes.length;
  let i = 0;
  for (; i < n; i++) {
    const b = bytes[i]!;
    if (b === SP) break;
    if (i >= MAX_METHOD) return 'no';
    if (b >= 0x41 && b <= 0x5a) continue;
    if ((b === 0x2d || b === 0x5f) && i > 0) {
      if (b === 0x2d && i === 3 && bytes[0] === 0x53 && bytes[1] === 0x53 && bytes[2] === 0x48) return 'no'; // "SSH-"
      continue;
    }
    return 'no';
  }
  if (i === n) return 'maybe';
  if (i === 0) return 'no';
  // bytes[i] is SP: method = bytes[0, i)
  if (i === 5 && bytes[0] === 0x50 && bytes[1] === 0x52 && bytes[2] === 0x4f && bytes[3] === 0x58 && bytes[4] === 0x59) {
    return 'no'; // "PROXY "
  }
  if (i === 3 && bytes[0] === 0x50 && bytes[1] === 0x52 && bytes[2] === 0x49) {
    // "PRI": HTTP/2 preface or an HTTP/1 request with an odd method.
    for (let k = 0; k < PRI_PREFACE.length; k++) {
      if (3 + k >= n) return 'maybe';
      if (bytes[3 + k] !== PRI_PREFACE.charCodeAt(k)) return 'yes';
    }
    return 'no';
  }
  return 'yes';
}
