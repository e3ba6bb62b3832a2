/**
 * TLS ClientHello parser: the first flight of a TLS client, as far as an L4 multiplexer needs it
 * (SNI, ALPN, offered versions, ECH, extension order), plus the SSLv2-compatible hello.
 *
 * Pure function over "all bytes received so far" (see result.ts): never throws, bound-checks every
 * read, keeps no reference to the input. In the common case (the hello in one record) nothing is
 * copied; when the handshake message is fragmented over several records its body is reassembled
 * once, after all of it has arrived.
 *
 * Behavioural choices (documented here because callers depend on them):
 *  - `length` of an ok answer is the end of the last record the hello used. Bytes after the hello
 *    inside that record (TLS lets a record carry several handshake messages, RFC 8446 §5.1) are
 *    ignored, not validated, and counted in `length`: records are the unit on the wire. Bytes after
 *    that record (ChangeCipherSpec, early data...) are not part of the hello and not looked at.
 *  - `needed` of an incomplete answer is a lower bound on the hello's total length, computed from
 *    the framing seen so far (record header, handshake header, declared lengths). It is exact once
 *    the handshake length is known and the rest of the hello sits in the current record.
 *  - An unusable server name (over 255 bytes, bad characters or labels, non-ASCII, IP literal)
 *    does not make the hello invalid: `sni` is undefined and `sniStatus` says why, so routing by
 *    protocol still works. A structurally broken server_name extension (lengths) does.
 *  - ONE trailing dot is accepted and stripped ("example.com." -> "example.com", status 'ok'):
 *    RFC 6066 §3 says HostName has no trailing dot, but some clients send the absolute form and it
 *    names the same host; the bytes are replayed unchanged, so the backend still sees the dot.
 *  - Extensions are optional at every legacy_version: RFC 5246 §7.4.1.2 says a server MUST accept a
 *    ClientHello with and without extensions, so a TLS 1.2 hello without them is routable too.
 */
import { Buffer } from 'node:buffer';
import { incomplete, invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { latin1, u16 } from '../bytes.js';

export interface ClientHello {
  /** SSLv2-compatible (record-less) hello: TLS without SNI/ALPN. */
  readonly sslv2: boolean;
  /**
   * legacy_record_version of the first record, e.g. 0x0301 (0x0002 for sslv2); 0 for a bare
   * handshake message (parseClientHelloMessage: QUIC CRYPTO frames have no record layer, RFC 9001 §4).
   */
  readonly recordVersion: number;
  /** client_version / legacy_version field. */
  readonly legacyVersion: number;
  /** Highest non-GREASE value in supported_versions, else legacyVersion. */
  readonly version: number;
  /** host_name from server_name, validated and lowercased; undefined if absent or unusable. */
  readonly sni: string | undefined;
  readonly sniStatus: 'absent' | 'ok' | 'empty' | 'invalid';
  /** ALPN protocol names in order (latin1), [] if absent. */
  readonly alpn: readonly string[];
  /** encrypted_client_hello (0xfe0d) present (a GREASE ECH counts: it is indistinguishable). */
  readonly ech: boolean;
  /** Non-GREASE values of supported_versions, in order; [] if absent. */
  readonly supportedVersions: readonly number[];
  /** Number of cipher suites offered (GREASE included). */
  readonly cipherSuites: number;
  /** Extension types in order, GREASE included. */
  readonly extensions: readonly number[];
  /** TLS records the hello spanned (1 for sslv2; 0 for a bare handshake message, as in QUIC). */
  readonly records: number;
}

/** RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14. */
const MAX_RECORD = 16384;
const DEFAULT_MAX_BYTES = 16384;

const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;

const EXT_SERVER_NAME = 0x0000; // RFC 6066 §3
const EXT_ALPN = 0x0010; // RFC 7301 §3.1
const EXT_SUPPORTED_VERSIONS = 0x002b; // RFC 8446 §4.2.1
const EXT_ECH = 0xfe0d; // draft-ietf-tls-esni §5

/** Past this many extensions, duplicate detection switches from a linear scan to a Set. */
const LINEAR_DUP_SCAN = 32;

const EMPTY: readonly never[] = Object.freeze([]);

/** RFC 8701 §2: GREASE values are 0x0A0A, 0x1A1A, ... 0xFAFA (both bytes equal, low nibble 0xA). */
function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

function hex4(v: number): string {
  return '0x' + ((v >>> 0) & 0xffff).toString(16).padStart(4, '0');
}

export function tlsVersionName(v: number): string {
  switch (v) {
    case 0x0002:
      return 'ssl2';
    case 0x0300:
      return 'ssl3';
    case 0x0301:
      return '1.0';
    case 0x0302:
      return '1.1';
    case 0x0303:
      return '1.2';
    case 0x0304:
      return '1.3';
    default:
      return hex4(v);
  }
}

/**
 * Cheap first-bytes check: is this a TLS record carrying a handshake (0x16 0x03, minor <= 4 when
 * present) or an SSLv2-compatible client hello (high bit set, msg_type 1 at byte 2, version major 3
 * or 0x0002 when present)? 'maybe' when there are too few bytes to tell.
 */
export function tlsSignature(bytes: Uint8Array): 'yes' | 'no' | 'maybe' {
  const n = bytes.length;
  if (n === 0) return 'maybe';
  const b0 = bytes[0]!;
  if (b0 === CONTENT_HANDSHAKE) {
    // 'yes' only once every byte it looks at is in: a 'yes' never turns into 'no' later.
    if (n >= 2 && bytes[1] !== 0x03) return 'no';
    if (n < 3) return 'maybe';
    return bytes[2]! > 0x04 ? 'no' : 'yes';
  }
  if (b0 & 0x80) {
    if (n >= 3 && bytes[2] !== HANDSHAKE_CLIENT_HELLO) return 'no';
    if (n >= 4 && bytes[3] !== 0x03 && bytes[3] !== 0x00) return 'no';
    if (n >= 5 && bytes[3] === 0x00 && bytes[4] !== 0x02) return 'no';
    if (n < 4 || (bytes[3] === 0x00 && n < 5)) return 'maybe';
    return 'yes';
  }
  return 'no';
}

/**
 * Parses a ClientHello from the start of `bytes`. `maxBytes` caps the handshake length a client may
 * claim (default 16384): a larger claim is invalid as soon as the handshake header is visible.
 */
export function parseClientHello(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_BYTES): ParseResult<ClientHello> {
  return settled(resumeClientHello(bytes, maxBytes));
}

/**
 * parseClientHello, resumable (result.ts Suspended): `from` is the state of an incomplete answer over
 * a prefix of `bytes` (same `maxBytes`). The state is the start of the record being read, so a
 * resumed parse reads that record's header again (at most 9 bytes) and then only new bytes: a hello
 * cut into many small records and delivered in many segments is read once, not once per segment.
 */
export function resumeClientHello(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_BYTES, from?: TlsResume): ParseResult<ClientHello> {
  const cap = maxBytes >= 0 ? maxBytes : DEFAULT_MAX_BYTES;
  if (from !== undefined) return parseRecords(bytes, cap, from);
  if (bytes.length === 0) return incomplete();
  if (bytes[0]! & 0x80) return parseSslv2(bytes, cap);
  return parseRecords(bytes, cap, undefined);
}

/** The record walk of parseRecords at the start of a record whose end has not arrived yet. */
export interface TlsResume {
  readonly pos: number;
  readonly records: number;
  readonly hsSeen: number;
  readonly hdr: number;
  readonly lenAcc: number;
  readonly hsLen: number;
  readonly recordVersion: number;
}

/**
 * Parses a bare ClientHello handshake message, without a record layer: what QUIC carries in CRYPTO
 * frames (RFC 9001 §4.1.3: "QUIC ... does not use TLS records"). Layout, RFC 8446 §4:
 *   msg_type (1) = 1 client_hello, length (uint24), body (`length` bytes, parsed as for TCP).
 * `maxBytes` caps the body length exactly as in parseClientHello (same setting, same meaning).
 * ok length = 4 + body length; bytes after the message are not looked at. The hello has
 * recordVersion 0 and records 0 (there are no records). Incomplete carries `needed` (4, then the
 * whole message) so a caller reassembling a stream knows how much to wait for.
 */
export function parseClientHelloMessage(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_BYTES): ParseResult<ClientHello> {
  const cap = maxBytes >= 0 ? maxBytes : DEFAULT_MAX_BYTES;
  const n = bytes.length;
  if (n === 0) return incomplete(4);
  if (bytes[0] !== HANDSHAKE_CLIENT_HELLO) return invalid(`handshake type ${bytes[0]} is not client_hello`);
  if (n < 4) return incomplete(4);
  const hsLen = (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!;
  if (hsLen > cap) return invalid(`handshake length ${hsLen} exceeds cap ${cap}`);
  const end = 4 + hsLen;
  if (n < end) return incomplete(end);
  const body = parseBody(bytes, 4, end, 0, 0);
  return typeof body === 'string' ? invalid(body) : ok(body, end);
}

/**
 * RFC 8446 §5.1 record layer:
 *   struct { ContentType type; ProtocolVersion legacy_record_version; uint16 length;
 *            opaque fragment[TLSPlaintext.length]; } TLSPlaintext;          (header: 1 + 2 + 2 bytes)
 * RFC 8446 §4: struct { HandshakeType msg_type; uint24 length; ... } Handshake;   (header: 1 + 3 bytes)
 * Handshake messages may be fragmented across records; no other content type may be interleaved.
 */
function parseRecords(b: Uint8Array, cap: number, from: TlsResume | undefined): ParseResult<ClientHello> {
  const n = b.length;
  let pos = from?.pos ?? 0; // start of the current record
  let records = from?.records ?? 0;
  let hsSeen = from?.hsSeen ?? 0; // handshake bytes carried by the (complete) records before the current one
  let hdr = from?.hdr ?? 0; // handshake header bytes decoded so far (0..4)
  let lenAcc = from?.lenAcc ?? 0;
  let hsLen = from?.hsLen ?? -1; // handshake body length once known
  let recordVersion = from?.recordVersion ?? 0;
  for (;;) {
    // Where a resumed walk picks up when this record is not whole yet: the values before reading it.
    const records0 = records;
    const hdr0 = hdr;
    const lenAcc0 = lenAcc;
    const hsLen0 = hsLen;
    const version0 = recordVersion;
    if (n > pos) {
      const type = b[pos]!;
      if (type !== CONTENT_HANDSHAKE) {
        return invalid(
          records === 0
            ? `content type ${type} is not handshake`
            : `non-handshake record (content type ${type}) inside client hello`,
        );
      }
    }
    if (n > pos + 1 && b[pos + 1] !== 0x03) return invalid('record version major is not 3');
    if (n < pos + 5) {
      return suspend<TlsResume>({ pos, records, hsSeen, hdr, lenAcc, hsLen, recordVersion }, pos + 5 + (hsLen >= 0 ? 4 + hsLen - hsSeen : 4 - hsSeen));
    }
    const len = (b[pos + 3]! << 8) | b[pos + 4]!;
    if (len === 0) return invalid('zero-length handshake record'); // RFC 8446 §5.1
    if (len > MAX_RECORD) return invalid(`record length ${len} exceeds 2^14`);
    if (records === 0) recordVersion = (b[pos + 1]! << 8) | b[pos + 2]!;
    records++;
    const start = pos + 5;
    const end = start + len;
    const avail = n < end ? n : end;
    for (let p = start; hdr < 4 && p < avail; p++, hdr++) {
      const v = b[p]!;
      if (hdr === 0) {
        if (v !== HANDSHAKE_CLIENT_HELLO) return invalid(`handshake type ${v} is not client_hello`);
      } else {
        lenAcc = (lenAcc << 8) | v;
      }
    }
    if (hdr === 4 && hsLen < 0) {
      hsLen = lenAcc;
      if (hsLen > cap) return invalid(`handshake length ${hsLen} exceeds cap ${cap}`);
    }
    const hsThrough = hsSeen + len; // handshake bytes once this record is complete
    if (hsLen >= 0 && hsThrough >= 4 + hsLen) {
      // The hello ends in this record; wait for the whole record (see `length` above).
      if (n < end) return suspend<TlsResume>({ pos, records: records0, hsSeen, hdr: hdr0, lenAcc: lenAcc0, hsLen: hsLen0, recordVersion: version0 }, end);
      let body: ClientHello | string;
      if (records === 1) {
        body = parseBody(b, start + 4, start + 4 + hsLen, recordVersion, 1);
      } else {
        body = parseBody(reassemble(b, hsLen), 0, hsLen, recordVersion, records);
      }
      return typeof body === 'string' ? invalid(body) : ok(body, end);
    }
    if (n < end) {
      const more = hsLen >= 0 ? 4 + hsLen - hsThrough : 4 - hsThrough;
      return suspend<TlsResume>({ pos, records: records0, hsSeen, hdr: hdr0, lenAcc: lenAcc0, hsLen: hsLen0, recordVersion: version0 }, more > 0 ? end + 5 + more : end);
    }
    hsSeen = hsThrough;
    pos = end;
  }
}

/**
 * Copies the handshake body (after its 4-byte header) out of the records it spans. Only called
 * once every record is known to be present and well-formed, so the walk cannot overrun.
 */
function reassemble(b: Uint8Array, hsLen: number): Uint8Array {
  const out = new Uint8Array(hsLen);
  let skip = 4; // handshake header bytes still to skip
  let filled = 0;
  let pos = 0;
  while (filled < hsLen && pos + 5 <= b.length) {
    const len = (b[pos + 3]! << 8) | b[pos + 4]!;
    let s = pos + 5;
    const e = s + len;
    const drop = skip < len ? skip : len;
    skip -= drop;
    s += drop;
    const take = Math.min(e - s, hsLen - filled, b.length - s);
    if (take > 0) {
      out.set(b.subarray(s, s + take), filled);
      filled += take;
    }
    pos = e;
  }
  return out;
}

/**
 * RFC 8446 §4.1.2 (same layout as RFC 5246 §7.4.1.2):
 *   struct {
 *     ProtocolVersion legacy_version;                         2
 *     Random random;                                          32
 *     opaque legacy_session_id<0..32>;                        1 + n
 *     CipherSuite cipher_suites<2..2^16-2>;                   2 + n (even)
 *     opaque legacy_compression_methods<1..2^8-1>;            1 + n
 *     Extension extensions<8..2^16-1>;                        2 + n (optional before TLS 1.3)
 *   } ClientHello;
 *   struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; } Extension;
 * Returns the hello or a short reason.
 */
function parseBody(b: Uint8Array, s: number, e: number, recordVersion: number, records: number): ClientHello | string {
  let p = s;
  if (e - p < 35) return 'client_hello too short';
  const legacyVersion = u16(b, p);
  if (legacyVersion >> 8 !== 0x03) return 'legacy_version major is not 3';
  p += 34;
  const sidLen = b[p++]!;
  if (sidLen > 32) return 'session_id longer than 32';
  if (e - p < sidLen) return 'session_id overruns hello';
  p += sidLen;
  if (e - p < 2) return 'cipher_suites length missing';
  const csLen = u16(b, p);
  p += 2;
  if (csLen & 1) return 'cipher_suites length odd';
  if (csLen === 0) return 'cipher_suites empty';
  if (e - p < csLen) return 'cipher_suites overrun hello';
  p += csLen;
  if (e - p < 1) return 'compression_methods missing';
  const cmLen = b[p++]!;
  if (cmLen === 0) return 'compression_methods empty';
  if (e - p < cmLen) return 'compression_methods overrun hello';
  p += cmLen;

  let sni: string | undefined;
  let sniStatus: ClientHello['sniStatus'] = 'absent';
  let alpn: readonly string[] = EMPTY;
  let ech = false;
  let supportedVersions: readonly number[] = EMPTY;
  let version = legacyVersion;
  const extensions: number[] = [];

  if (p < e) {
    if (e - p < 2) return 'extensions length truncated';
    const extLen = u16(b, p);
    p += 2;
    if (extLen > e - p) return 'extensions overrun hello';
    if (extLen < e - p) return 'bytes after extensions';
    let seen: Set<number> | undefined;
    while (p < e) {
      if (e - p < 4) return 'extension header truncated';
      const type = u16(b, p);
      const len = u16(b, p + 2);
      p += 4;
      if (len > e - p) return 'extension overruns block';
      // RFC 8446 §4.2: no more than one extension of the same type.
      if (seen === undefined) {
        for (let i = 0; i < extensions.length; i++) if (extensions[i] === type) return `duplicate extension ${hex4(type)}`;
        if (extensions.length >= LINEAR_DUP_SCAN) seen = new Set(extensions);
      } else if (seen.has(type)) {
        return `duplicate extension ${hex4(type)}`;
      }
      seen?.add(type);
      extensions.push(type);
      const de = p + len;
      switch (type) {
        case EXT_SERVER_NAME: {
          const r = parseServerName(b, p, de);
          if (typeof r === 'string') return r;
          sniStatus = r.status;
          sni = r.name;
          break;
        }
        case EXT_ALPN: {
          const r = parseAlpn(b, p, de);
          if (typeof r === 'string') return r;
          alpn = r;
          break;
        }
        case EXT_SUPPORTED_VERSIONS: {
          const r = parseSupportedVersions(b, p, de);
          if (typeof r === 'string') return r;
          supportedVersions = r;
          let max = -1;
          for (let i = 0; i < r.length; i++) if (r[i]! > max) max = r[i]!;
          if (max >= 0) version = max;
          break;
        }
        case EXT_ECH:
          ech = true;
          break;
      }
      p = de;
    }
  }
  return {
    sslv2: false,
    recordVersion,
    legacyVersion,
    version,
    sni,
    sniStatus,
    alpn,
    ech,
    supportedVersions,
    cipherSuites: csLen >> 1,
    extensions,
    records,
  };
}

interface ServerName {
  readonly status: ClientHello['sniStatus'];
  readonly name: string | undefined;
}
const SNI_ABSENT: ServerName = Object.freeze({ status: 'absent', name: undefined });
const SNI_EMPTY: ServerName = Object.freeze({ status: 'empty', name: undefined });
const SNI_INVALID: ServerName = Object.freeze({ status: 'invalid', name: undefined });

/**
 * RFC 6066 §3:
 *   struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
 *   enum { host_name(0), (255) } NameType;
 *   opaque HostName<1..2^16-1>;
 *   struct { ServerName server_name_list<1..2^16-1> } ServerNameList;
 * Every entry is read as type(1) + uint16 length + bytes; the first host_name is used. An empty
 * extension or list (malformed, but harmless) reads as an empty name.
 */
function parseServerName(b: Uint8Array, s: number, e: number): ServerName | string {
  if (s === e) return SNI_EMPTY;
  if (e - s < 2) return 'server_name list length truncated';
  const listLen = u16(b, s);
  if (listLen !== e - s - 2) return 'server_name list length mismatch';
  if (listLen === 0) return SNI_EMPTY;
  let found: ServerName = SNI_ABSENT;
  for (let p = s + 2; p < e; ) {
    if (e - p < 3) return 'server_name entry truncated';
    const nameType = b[p]!;
    const len = u16(b, p + 1);
    p += 3;
    if (len > e - p) return 'server_name entry overruns list';
    if (nameType === 0 && found === SNI_ABSENT) found = hostName(b, p, p + len);
    p += len;
  }
  return found;
}

/** Validates and decodes a HostName (see the module comment for the trailing-dot choice). */
function hostName(b: Uint8Array, s: number, e: number): ServerName {
  if (s === e) return SNI_EMPTY;
  if (e - s > 255) return SNI_INVALID;
  if (b[e - 1] === 0x2e) e--; // strip ONE trailing dot
  if (s === e) return SNI_INVALID;
  let upper = false;
  let label = 0; // length of the current label
  let labelStart = s;
  for (let p = s; p < e; p++) {
    const c = b[p]!;
    if (c === 0x2e) {
      if (label === 0) return SNI_INVALID;
      label = 0;
      labelStart = p + 1;
      continue;
    }
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) {
      return SNI_INVALID; // includes non-ASCII, ':' of IPv6 literals, spaces, NUL...
    }
    if (++label > 63) return SNI_INVALID;
  }
  if (label === 0) return SNI_INVALID;
  // RFC 6066 §3: no IP literals. A name whose last label is numeric (decimal, or 0x-hex) is what
  // URL parsers read as an IPv4 address ("10.0.0.1", "127.1", "0x7f.1"); no real TLD looks so.
  if (numericLabel(b, labelStart, e)) return SNI_INVALID;
  let name = latin1(b, s, e);
  if (upper) name = name.toLowerCase();
  return { status: 'ok', name };
}

function numericLabel(b: Uint8Array, s: number, e: number): boolean {
  let p = s;
  if (e - s >= 2 && b[s] === 0x30 && (b[s + 1] === 0x78 || b[s + 1] === 0x58)) {
    p += 2;
    for (; p < e; p++) {
      const c = b[p]! | 0x20;
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    }
    return true;
  }
  for (; p < e; p++) {
    const c = b[p]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * RFC 7301 §3.1:
 *   opaque ProtocolName<1..2^8-1>;
 *   struct { ProtocolName protocol_name_list<2..2^16-1> } ProtocolNameList;
 */
function parseAlpn(b: Uint8Array, s: number, e: number): string[] | string {
  if (e - s < 2) return 'ALPN list length truncated';
  const listLen = u16(b, s);
  if (listLen !== e - s - 2) return 'ALPN list length mismatch';
  if (listLen === 0) return 'ALPN list empty';
  const names: string[] = [];
  for (let p = s + 2; p < e; ) {
    const len = b[p++]!;
    if (len === 0) return 'ALPN empty protocol name';
    if (len > e - p) return 'ALPN name overruns list';
    names.push(latin1(b, p, p + len));
    p += len;
  }
  return names;
}

/**
 * RFC 8446 §4.2.1 (ClientHello form): struct { ProtocolVersion versions<2..254>; } SupportedVersions;
 * GREASE values (RFC 8701) are dropped.
 */
function parseSupportedVersions(b: Uint8Array, s: number, e: number): number[] | string {
  if (e - s < 1) return 'supported_versions length missing';
  const len = b[s]!;
  if (len !== e - s - 1) return 'supported_versions length mismatch';
  if (len & 1) return 'supported_versions length odd';
  if (len < 2) return 'supported_versions empty';
  const out: number[] = [];
  for (let p = s + 1; p < e; p += 2) {
    const v = u16(b, p);
    if (!isGrease(v)) out.push(v);
  }
  return out;
}

/**
 * SSLv2-compatible ClientHello, RFC 5246 appendix E.2 (RFC 6101 appendix E):
 *   uint16 msg_length;          high bit set; length of what follows, & 0x7fff
 *   uint8  msg_type;            1 = client_hello
 *   Version version;            highest version the client supports (0x0002 for SSL 2.0 itself)
 *   uint16 cipher_spec_length;  multiple of 3 (V2CipherSpec is 3 bytes)
 *   uint16 session_id_length;   0 or 16
 *   uint16 challenge_length;    16..32
 *   V2CipherSpec cipher_specs[cipher_spec_length];
 *   opaque session_id[session_id_length];
 *   opaque challenge[challenge_length];
 * msg_length = 9 + cipher_spec_length + session_id_length + challenge_length.
 */
function parseSslv2(b: Uint8Array, cap: number): ParseResult<ClientHello> {
  const n = b.length;
  if (n < 2) return incomplete(11);
  const msgLen = ((b[0]! & 0x7f) << 8) | b[1]!;
  const total = 2 + msgLen;
  if (n > 2 && b[2] !== HANDSHAKE_CLIENT_HELLO) return invalid(`SSLv2 message type ${b[2]} is not client_hello`);
  if (n > 3 && b[3] !== 0x03 && b[3] !== 0x00) return invalid('SSLv2 hello version is not TLS');
  if (n > 4 && b[3] === 0x00 && b[4] !== 0x02) return invalid('SSLv2 hello version is not TLS');
  if (msgLen < 9 + 3 + 16) return invalid('SSLv2 hello too short');
  if (msgLen > cap) return invalid(`SSLv2 hello length ${msgLen} exceeds cap ${cap}`);
  if (n < 11) return incomplete(total);
  const csLen = u16(b, 5);
  const sidLen = u16(b, 7);
  const chLen = u16(b, 9);
  if (csLen === 0 || csLen % 3 !== 0) return invalid('SSLv2 cipher_spec_length not a multiple of 3');
  if (sidLen !== 0 && sidLen !== 16) return invalid('SSLv2 session_id_length not 0 or 16');
  if (chLen < 16 || chLen > 32) return invalid('SSLv2 challenge_length not 16..32');
  if (9 + csLen + sidLen + chLen !== msgLen) return invalid('SSLv2 lengths inconsistent');
  if (n < total) return incomplete(total);
  const v = u16(b, 3);
  return ok(
    {
      sslv2: true,
      recordVersion: 0x0002,
      legacyVersion: v,
      version: v,
      sni: undefined,
      sniStatus: 'absent',
      alpn: EMPTY,
      ech: false,
      supportedVersions: EMPTY,
      cipherSuites: csLen / 3,
      extensions: EMPTY,
      records: 1,
    },
    total,
  );
}
