/**
 * The first message a PostgreSQL client sends (PostgreSQL docs, "Frontend/Backend Protocol":
 * §"Message Flow / Start-up" and §"Message Formats"; server side: ProcessStartupPacket in
 * src/backend/tcop/backend_startup.c).
 *
 * Every first message is untyped (no type byte):
 *
 *   Int32 length      length of the whole message, including these 4 bytes (big-endian)
 *   Int32 code        a protocol version, or one of the special request codes
 *   ...               depends on the code
 *
 * Accepted codes (Message Formats):
 * - SSLRequest     80877103 (1234 << 16 | 5679), length exactly 8.
 * - GSSENCRequest  80877104 (1234 << 16 | 5680), length exactly 8.
 * - CancelRequest  80877102 (1234 << 16 | 5678), then Int32 process ID and Byte[n] secret key
 *   extending to the end of the message: n is 4 before protocol 3.2 and 4..256 since 3.2, so
 *   length 16..268 (Message Formats, CancelRequest; "the maximum key length is 256 bytes").
 * - StartupMessage with protocol 3.0 (196608 = 3 << 16 | 0) or 3.2 (196610 = 3 << 16 | 2), then
 *   pairs of NUL-terminated strings (parameter name, value), then one more NUL which must be the
 *   last byte of the message (Message Formats, StartupMessage; the server refuses any other layout:
 *   "invalid startup packet layout: expected terminator as last byte").
 *   - `user` is required and must not be empty ("no PostgreSQL user name specified").
 *   - `database` defaults to the user name when absent or empty. `database` in the value is that
 *     effective name; what was sent (or not) stays visible in `parameters`.
 *   - Parameter names are non-empty; values may be empty. A repeated name: the last one wins (the
 *     server overwrites user/database the same way). Everything else (`application_name`,
 *     `options`, `client_encoding`, `replication`, `_pq_.*` protocol options, any GUC) is only
 *     reported in `parameters`, not judged.
 *   - Names and values are decoded as UTF-8 (the client encoding is not negotiated yet; the server
 *     takes the raw bytes). Invalid sequences become U+FFFD in the report; they do not make the
 *     message invalid.
 *
 * Choices:
 * - Only 3.0 and 3.2 are accepted. 3.1 is reserved (no PostgreSQL release used it; the docs say it
 *   was skipped because of a PgBouncer negotiation bug). A server would also take a future 3.x minor
 *   and answer NegotiateProtocolVersion, but until one exists it is invalid here; widen
 *   `protocol` when a newer minor ships. Protocol 2.0 (131072, dropped by PostgreSQL 14) is
 *   invalid too.
 * - Cap: the server refuses a first message whose length minus the 4-byte length word exceeds
 *   MAX_STARTUP_PACKET_LENGTH (10000), or is below 4 ("invalid length of startup packet"). The same
 *   limits apply here: total length 8..10004 for any code, then the per-code limits above.
 * - SSLRequest/GSSENCRequest with extra bytes (length > 8) are invalid: the docs fix Int32(8), even
 *   though the server does not look at the extra bytes.
 * - Direct SSL (PostgreSQL 17 `sslnegotiation=direct`) starts with a TLS ClientHello, not with
 *   any of these messages: it is TLS, for the TLS parser.
 * - Decisions are taken as early as the bytes allow: the length word is range-checked byte by
 *   byte (its first two bytes must be 0x00), the code is compared byte by byte with the five
 *   accepted codes, and a StartupMessage layout error is reported at the byte that causes it.
 *
 * `ok.length` is the declared message length; bytes after it (e.g. a TLS ClientHello pipelined after
 * an SSLRequest) are not looked at.
 */
import { u32 } from '../bytes.js';
import { incomplete, invalid, ok, type ParseResult } from '../result.js';

export interface PostgresFirstMessage {
  readonly kind: 'ssl-request' | 'gssenc-request' | 'cancel' | 'startup';
  /** StartupMessage only. */
  readonly protocol?: '3.0' | '3.2';
  /** StartupMessage only: the `user` parameter (non-empty). */
  readonly user?: string;
  /** StartupMessage only: the effective database, i.e. `database` if sent and non-empty, else `user`. */
  readonly database?: string;
  /** StartupMessage only: every parameter as sent (a repeated name keeps its last value). */
  readonly parameters?: Record<string, string>;
}

/** Server's MAX_STARTUP_PACKET_LENGTH: limit on the length word minus its own 4 bytes. */
export const POSTGRES_MAX_STARTUP_PACKET_LENGTH = 10000;

export const PG_CANCEL_REQUEST_CODE = 80877102;
export const PG_SSL_REQUEST_CODE = 80877103;
export const PG_GSSENC_REQUEST_CODE = 80877104;
export const PG_PROTOCOL_3_0 = 196608;
export const PG_PROTOCOL_3_2 = 196610;

const MIN_LENGTH = 8; // 4 + sizeof(ProtocolVersion)
const MAX_LENGTH = 4 + POSTGRES_MAX_STARTUP_PACKET_LENGTH;
const CANCEL_MIN = 16; // 8 + Int32 pid + 4-byte key
const CANCEL_MAX = 12 + 256; // key of at most 256 bytes (protocol 3.2)
const STARTUP_MIN = 9; // version + the final terminator (the `user` check comes at the end)

const CODES = [PG_CANCEL_REQUEST_CODE, PG_SSL_REQUEST_CODE, PG_GSSENC_REQUEST_CODE, PG_PROTOCOL_3_0, PG_PROTOCOL_3_2] as const;

/**
 * Whether the big-endian 32-bit value whose first `have` bytes are bytes[at..at+have) can still
 * lie in [min, max]: the unknown low bytes range over 00..ff.
 */
function int32CanBeIn(bytes: Uint8Array, at: number, have: number, min: number, max: number): boolean {
  let lo = 0;
  let hi = 0;
  for (let k = 0; k < 4; k++) {
    const b = k < have ? bytes[at + k]! : -1;
    lo = lo * 256 + (b === -1 ? 0 : b);
    hi = hi * 256 + (b === -1 ? 255 : b);
  }
  return hi >= min && lo <= max;
}

/** Whether the first `have` bytes at `at` are a prefix of the big-endian encoding of `value`. */
function int32StartsLike(bytes: Uint8Array, at: number, have: number, value: number): boolean {
  for (let k = 0; k < have; k++) if (bytes[at + k] !== ((value >>> (24 - 8 * k)) & 0xff)) return false;
  return true;
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/** Parses the first client message of a PostgreSQL connection from all bytes received so far. */
export function parsePostgresStartup(bytes: Uint8Array): ParseResult<PostgresFirstMessage> {
  // --- Int32 length (self-inclusive) ---
  const haveLen = Math.min(bytes.length, 4);
  if (!int32CanBeIn(bytes, 0, haveLen, MIN_LENGTH, MAX_LENGTH)) return invalid('invalid length of startup packet');
  if (haveLen < 4) return incomplete();
  const length = u32(bytes, 0);

  // --- Int32 code ---
  const haveCode = Math.min(bytes.length - 4, 4);
  const candidates = CODES.filter((c) => int32StartsLike(bytes, 4, haveCode, c) && lengthFits(c, length));
  if (candidates.length === 0) {
    // Say which of the two was wrong when the code alone is already unknown.
    return CODES.some((c) => int32StartsLike(bytes, 4, haveCode, c))
      ? invalid('invalid length for this request code')
      : invalid('unsupported protocol version or request code');
  }
  if (haveCode < 4) return incomplete(length);
  const code = u32(bytes, 4);

  switch (code) {
    case PG_SSL_REQUEST_CODE:
      return ok({ kind: 'ssl-request' }, length);
    case PG_GSSENC_REQUEST_CODE:
      return ok({ kind: 'gssenc-request' }, length);
    case PG_CANCEL_REQUEST_CODE:
      return bytes.length < length ? incomplete(length) : ok({ kind: 'cancel' }, length);
    default:
      return parseStartupBody(bytes, length, code === PG_PROTOCOL_3_2 ? '3.2' : '3.0');
  }
}

function lengthFits(code: number, length: number): boolean {
  switch (code) {
    case PG_SSL_REQUEST_CODE:
    case PG_GSSENC_REQUEST_CODE:
      return length === 8;
    case PG_CANCEL_REQUEST_CODE:
      return length >= CANCEL_MIN && length <= CANCEL_MAX;
    default:
      return length >= STARTUP_MIN && length <= MAX_LENGTH;
  }
}

/**
 * StartupMessage parameters (Message Formats, StartupMessage): `name NUL value NUL` pairs from
 * offset 8, then a NUL at offset length - 1. Scans what has arrived (never past `length`), so a
 * layout error is found at the byte that makes it one.
 */
function parseStartupBody(bytes: Uint8Array, length: number, protocol: '3.0' | '3.2'): ParseResult<PostgresFirstMessage> {
  const last = length - 1; // where the terminator must be
  const limit = Math.min(bytes.length, length);
  const entries: [string, string][] = [];
  let i = 8;
  for (;;) {
    // At the start of a name (or the terminator).
    if (i >= limit) return incomplete(length);
    if (bytes[i] === 0) {
      if (i !== last) return invalid('invalid startup packet layout: terminator before the end');
      break;
    }
    if (i === last) return invalid('invalid startup packet layout: expected terminator as last byte');
    const nameStart = i;
    for (;;) {
      if (i >= limit) return incomplete(length);
      if (bytes[i] === 0) break;
      i++;
      // The name's NUL must leave room for a value's NUL and the terminator: at most at last - 2.
      if (i >= last - 1) return invalid('invalid startup packet layout: missing parameter value');
    }
    const nameEnd = i;
    i++; // past the name's NUL: i <= last - 1
    const valueStart = i;
    for (;;) {
      if (i >= limit) return incomplete(length);
      if (bytes[i] === 0) break;
      i++;
      if (i >= last) return invalid('invalid startup packet layout: expected terminator as last byte');
    }
    // The value's NUL at i < last.
    entries.push([utf8(bytes, nameStart, nameEnd), utf8(bytes, valueStart, i)]);
    i++;
  }

  // Object.fromEntries defines own data properties (a "__proto__" name stays a plain key);
  // for repeated names the last one wins.
  const parameters = Object.fromEntries(entries) as Record<string, string>;
  const user = Object.hasOwn(parameters, 'user') ? parameters['user']! : '';
  if (user === '') return invalid('no PostgreSQL user name specified in startup packet');
  const sentDatabase = Object.hasOwn(parameters, 'database') ? parameters['database']! : '';
  return ok({ kind: 'startup', protocol, user, database: sentDatabase === '' ? user : sentDatabase, parameters }, length);
}
