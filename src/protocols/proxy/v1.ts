/**
 * PROXY protocol version 1 DECODER: the human-readable header line (haproxy
 * doc/proxy-protocol.txt §2.1).
 *
 *   "PROXY" SP "TCP4" SP ipv4 SP ipv4 SP port SP port CRLF
 *   "PROXY" SP "TCP6" SP ipv6 SP ipv6 SP port SP port CRLF
 *   "PROXY" SP "UNKNOWN" [ SP <anything> ] CRLF
 *
 * A pure function over all bytes received so far (see result.ts): never throws on input, every read
 * is bound-checked. `ok.length` is the line length including CRLF.
 *
 * Strictness, all per §2.1 ("Any sequence which does not exactly match the protocol must be
 * discarded"):
 * - Separators are exactly one SP (0x20); keywords are case-sensitive US-ASCII.
 * - The line ends with CR LF. A LF without the CR before it, or a CR followed by anything but LF,
 *   is invalid ("must not tolerate a single CR or LF character to end the line").
 * - At most 107 bytes including CRLF ("If the CRLF sequence is not found in the first 107
 *   characters, the receiver should declare the line invalid"): a 107-byte line is accepted; the
 *   answer is invalid as soon as the bytes so far cannot end with a CRLF by byte 107 — e.g. 107
 *   bytes without CRLF, or 106 bytes not ending in CR, or a TCP6 line whose remaining mandatory
 *   fields no longer fit.
 * - TCP4 addresses: exactly 4 decimal numbers 0..255 joined by single dots, no leading zeros
 *   ("01.2.3.4" is invalid: "Heading zeroes are not permitted").
 * - TCP6 addresses: IPv6 text accepted by node:net isIPv6, without zone ID ('%' is invalid) — any
 *   of the RFC 4291 §2.2 forms: full, "::"-compressed, or with an embedded dotted IPv4 tail (what
 *   inet_ntop writes for ::ffff:a.b.c.d); §2.1's "one double colon ... 128 bits" is what isIPv6
 *   checks. Canonical (RFC 5952) form is not required from the sender. IPv4 text under TCP6 and
 *   IPv6 text under TCP4 are invalid (the family "dictates what format to use").
 * - Ports: decimal 0..65535 ("in the range [0..65535] inclusive", so port 0 is accepted), no leading
 *   zeros ("065535" invalid), above 65535 invalid.
 * - UNKNOWN: "the receiver must ignore anything presented before the CRLF", so after "UNKNOWN"
 *   comes either CRLF directly or one SP and then anything up to the CRLF, still within 107 bytes.
 *   "Anything" is held to the line being US-ASCII text: printable bytes 0x20..0x7E only (a control
 *   byte or a byte >= 0x80 is invalid), and the CR/LF rule above applies. "UNKNOWNX" is invalid.
 * - Prefixes: incomplete while the bytes so far can still start a valid line; invalid as soon as
 *   they cannot (a wrong byte, "01", "256", "1.2.3.4" under TCP6, ":" under TCP4, or the 107-byte
 *   bound). No `needed` is given: the line length is not known before the CRLF.
 *
 * Returned values: `src`/`dst` for TCP4/TCP6 only. IPv4 text is returned as sent (it is already
 * canonical given the rules above). IPv6 text is returned in RFC 5952 canonical form (lowercase,
 * shortest; IPv4-mapped as "::ffff:a.b.c.d"), the form the encoder writes and the v2 decoder
 * returns, so one address compares equal whichever version carried it.
 */
import { isIPv6 } from 'node:net';
import { formatIPv6Address } from './v2.js';
import { incomplete, invalid, ok, type ParseResult } from '../result.js';
import { CR, isDigit, LF } from '../bytes.js';

export interface ProxyV1Header {
  readonly version: 1;
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  readonly src?: { address: string; port: number };
  readonly dst?: { address: string; port: number };
}

const MAX_LINE = 107;
const SP = 0x20;
const DOT = 0x2e;
const COLON = 0x3a;
const PREFIX = 'PROXY ';
const KEYWORDS = [
  { kw: 'TCP4', family: 'tcp4' },
  { kw: 'TCP6', family: 'tcp6' },
  { kw: 'UNKNOWN', family: 'unknown' },
] as const;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** An incrementally fed token: push() false = can no longer be valid. */
interface Token {
  push(c: number): boolean;
  /** Valid as a complete token now. */
  complete(): boolean;
  /** Fewest further bytes that make it complete (it is a valid prefix). */
  minRest(): number;
}

/** Dotted-quad IPv4, no leading zeros, octets 0..255 (§2.1). */
class IPv4Token implements Token {
  /** Dots seen. */
  dots = 0;
  digits = 0;
  value = 0;
  readonly octets: number[] = [];

  /** Starts with `first` already read as the first octet and its dot (embedded IPv4 in IPv6). */
  static afterFirstOctet(first: number): IPv4Token {
    const t = new IPv4Token();
    t.octets.push(first);
    t.dots = 1;
    return t;
  }

  push(c: number): boolean {
    if (isDigit(c)) {
      if (this.digits > 0 && this.value === 0) return false; // leading zero
      this.value = this.value * 10 + (c - 0x30);
      this.digits++;
      return this.value <= 255;
    }
    if (c === DOT) {
      if (this.digits === 0 || this.dots === 3) return false;
      this.octets.push(this.value);
      this.dots++;
      this.digits = 0;
      this.value = 0;
      return true;
    }
    return false;
  }

  complete(): boolean {
    return this.dots === 3 && this.digits > 0;
  }

  minRest(): number {
    return (this.digits === 0 ? 1 : 0) + 2 * (3 - this.dots);
  }

  /** The 4 octets; only meaningful when complete(). */
  bytes(): number[] {
    return [...this.octets, this.value];
  }

  text(): string {
    return this.bytes().join('.');
  }
}

/**
 * IPv6 text as accepted by isIPv6 without a zone ID: h16 groups (1-4 hex digits) separated by ':',
 * at most one '::', optionally ending in a dotted IPv4 (worth two groups); 8 groups without '::',
 * at most 7 with it. Tracks exactly which prefixes can still be completed.
 */
class IPv6Token implements Token {
  text = '';
  /** Completed groups before / after the '::'. */
  readonly head: number[] = [];
  readonly tail: number[] = [];
  dbl = false;
  /** 0: inside a token or at start; 1: a single ':' was just read; 2: '::' was just read. */
  lastSep = 0;
  tok = '';
  tokValue = 0;
  v4: IPv4Token | undefined;

  private get groups(): number {
    return this.head.length + this.tail.length;
  }

  push(c: number): boolean {
    const ok = this.step(c);
    if (ok) this.text += String.fromCharCode(c);
    return ok;
  }

  private step(c: number): boolean {
    if (this.v4 !== undefined) return this.v4.push(c);
    if (c === COLON) {
      if (this.tok.length > 0) {
        (this.dbl ? this.tail : this.head).push(this.tokValue);
        this.tok = '';
        this.tokValue = 0;
        this.lastSep = 1;
        // Another group must follow (with '::' already seen), or another group or '::' (without).
        return this.dbl ? this.groups + 1 <= 7 : this.groups <= 7;
      }
      if (this.text === '') {
        this.lastSep = 1; // a leading ':' must be followed by ':'
        return true;
      }
      if (this.lastSep === 1 && !this.dbl) {
        this.dbl = true;
        this.lastSep = 2;
        return this.groups <= 7;
      }
      return false; // ':::' or a second '::'
    }
    if (this.text === ':') return false; // ":x"
    if (c === DOT) {
      // The token so far must be a decimal octet, and an IPv4 tail (two groups) must still fit.
      const t = this.tok;
      if (t.length === 0 || t.length > 3 || (t.length > 1 && t.charCodeAt(0) === 0x30)) return false;
      let v = 0;
      for (let k = 0; k < t.length; k++) {
        const d = t.charCodeAt(k);
        if (!isDigit(d)) return false;
        v = v * 10 + (d - 0x30);
      }
      if (v > 255) return false;
      if (this.dbl ? this.groups + 2 > 7 : this.groups !== 6) return false;
      this.v4 = IPv4Token.afterFirstOctet(v);
      return true;
    }
    const h = hexValue(c);
    if (h < 0 || this.tok.length === 4) return false;
    this.tok += String.fromCharCode(c);
    this.tokValue = (this.tokValue << 4) | h;
    this.lastSep = 0;
    return this.dbl ? this.groups + 1 <= 7 : this.groups + 1 <= 8;
  }

  complete(): boolean {
    if (this.v4 !== undefined) return this.v4.complete();
    if (this.lastSep === 2) return true;
    if (this.lastSep === 1 || this.tok.length === 0) return false;
    return this.dbl ? this.groups + 1 <= 7 : this.groups + 1 === 8;
  }

  minRest(): number {
    if (this.v4 !== undefined) return this.v4.minRest();
    if (this.text === '') return 2; // "::"
    if (this.lastSep === 1) return 1;
    if (this.lastSep === 2) return 0;
    return this.complete() ? 0 : 2; // "x" -> "x::"
  }

  /** The 16 bytes; only meaningful when complete(). */
  bytes(): Uint8Array {
    const head = [...this.head];
    const tail = [...this.tail];
    const last = this.dbl ? tail : head;
    if (this.v4 !== undefined) {
      const o = this.v4.bytes();
      last.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    } else if (this.tok.length > 0) {
      last.push(this.tokValue);
    }
    const groups = [...head, ...new Array<number>(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail];
    const out = new Uint8Array(16);
    for (let k = 0; k < 8; k++) {
      const g = groups[k] ?? 0;
      out[2 * k] = g >>> 8;
      out[2 * k + 1] = g & 0xff;
    }
    return out;
  }
}

/** Decimal 0..65535 without leading zeros (§2.1). */
class PortToken implements Token {
  digits = 0;
  value = 0;

  push(c: number): boolean {
    if (!isDigit(c)) return false;
    if (this.digits > 0 && this.value === 0) return false; // leading zero
    this.value = this.value * 10 + (c - 0x30);
    this.digits++;
    return this.value <= 65535;
  }

  complete(): boolean {
    return this.digits > 0;
  }

  minRest(): number {
    return this.digits > 0 ? 0 : 1;
  }
}

type Ip = IPv4Token | IPv6Token;

function newIp(v6: boolean): Ip {
  return v6 ? new IPv6Token() : new IPv4Token();
}

function addressText(t: Ip): string {
  return t instanceof IPv6Token ? formatIPv6Address(t.bytes()) : t.text();
}

const FIELD_NAMES = ['source address', 'destination address', 'source port', 'destination port'] as const;

/** Past "PROXY TCP4 " / "PROXY TCP6 " at `start`. */
function parseTcp(bytes: Uint8Array, start: number, v6: boolean): ParseResult<ProxyV1Header> {
  const n = bytes.length;
  const src = newIp(v6);
  const dst = newIp(v6);
  const sport = new PortToken();
  const dport = new PortToken();
  const fields: Token[] = [src, dst, sport, dport];
  const minAddr = v6 ? 2 : 7; // "::" / "0.0.0.0"
  // Fewest bytes after field k is complete: separators, later fields at their shortest, CRLF.
  const after = [1 + minAddr + 1 + 1 + 1 + 1 + 2, 1 + 1 + 1 + 1 + 2, 1 + 1 + 2, 2];
  let field = 0;
  let sawCr = false;

  for (let i = start; i < n; i++) {
    const c = bytes[i]!;
    if (sawCr) {
      if (c !== LF) return invalid('CR not followed by LF');
      const length = i + 1;
      if (length > MAX_LINE) return invalid('PROXY v1 line longer than 107 bytes');
      if (v6) {
        // The token machine mirrors isIPv6; this is a second opinion (and it rejects zone IDs).
        const s = (src as IPv6Token).text;
        const d = (dst as IPv6Token).text;
        if (!isIPv6(s) || !isIPv6(d) || s.includes('%') || d.includes('%')) return invalid('invalid IPv6 address');
      }
      return ok<ProxyV1Header>(
        {
          version: 1,
          family: v6 ? 'tcp6' : 'tcp4',
          src: { address: addressText(src), port: sport.value },
          dst: { address: addressText(dst), port: dport.value },
        },
        length,
      );
    }
    const tok = fields[field]!;
    if (c === LF) return invalid('LF without CR');
    if (c === SP && field < 3) {
      if (!tok.complete()) return invalid(`incomplete ${FIELD_NAMES[field]!}`);
      field++;
      continue;
    }
    if (c === CR) {
      if (!tok.complete()) return invalid(`incomplete ${FIELD_NAMES[field]!}`);
      if (field < 3) return invalid(`line ends early: missing ${FIELD_NAMES[field + 1]!}`);
      sawCr = true;
      continue;
    }
    if (!tok.push(c)) return invalid(`invalid ${FIELD_NAMES[field]!}`);
  }
  const rest = sawCr ? 1 : fields[field]!.minRest() + after[field]!;
  if (n + rest > MAX_LINE) return invalid('PROXY v1 line cannot end within 107 bytes');
  return incomplete();
}

/** Past "PROXY UNKNOWN" at `start`: CRLF, or SP then printable US-ASCII up to CRLF. */
function parseUnknown(bytes: Uint8Array, start: number): ParseResult<ProxyV1Header> {
  const n = bytes.length;
  for (let i = start; i < n; i++) {
    const c = bytes[i]!;
    if (c === CR) {
      if (i + 1 >= n) {
        if (i + 2 > MAX_LINE) return invalid('PROXY v1 line cannot end within 107 bytes');
        return incomplete();
      }
      if (bytes[i + 1] !== LF) return invalid('CR not followed by LF');
      if (i + 2 > MAX_LINE) return invalid('PROXY v1 line longer than 107 bytes');
      return ok<ProxyV1Header>({ version: 1, family: 'unknown' }, i + 2);
    }
    if (c === LF) return invalid('LF without CR');
    if (i === start && c !== SP) return invalid('UNKNOWN must be followed by SP or CRLF');
    if (c < 0x20 || c > 0x7e) return invalid('non-printable byte in PROXY v1 line');
  }
  if (n + 2 > MAX_LINE) return invalid('PROXY v1 line cannot end within 107 bytes');
  return incomplete();
}

export function parseProxyV1(bytes: Uint8Array): ParseResult<ProxyV1Header> {
  const n = bytes.length;
  for (let k = 0; k < PREFIX.length; k++) {
    if (k >= n) return incomplete();
    if (bytes[k] !== PREFIX.charCodeAt(k)) return invalid('not a PROXY v1 header');
  }
  const at = PREFIX.length;
  let partial = false;
  for (const { kw, family } of KEYWORDS) {
    const avail = Math.min(kw.length, n - at);
    let same = true;
    for (let k = 0; k < avail && same; k++) if (bytes[at + k] !== kw.charCodeAt(k)) same = false;
    if (!same) continue;
    if (avail < kw.length) {
      partial = true;
      continue;
    }
    const next = at + kw.length;
    if (family === 'unknown') return parseUnknown(bytes, next);
    if (next >= n) return incomplete();
    if (bytes[next] !== SP) return invalid(`${kw} must be followed by exactly one SP`);
    return parseTcp(bytes, next + 1, family === 'tcp6');
  }
  return partial ? incomplete() : invalid('PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN');
}
