/**
 * The stream header an XMPP initiating entity (client or server) sends first (RFC 6120 §4.7):
 *
 *   [ XMLDecl ] S* '<' QName ( S Attribute )* S? '>'
 *
 * e.g. (RFC 6120 §4.8.2, §9.1.1):
 *
 *   <?xml version='1.0'?>
 *   <stream:stream from='juliet@im.example.com' to='im.example.com' version='1.0' xml:lang='en'
 *     xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>
 *
 * Rules followed (XML 1.0 and Namespaces in XML 1.0 as profiled by RFC 6120 §11):
 * - Optional XML declaration (XML 1.0 §2.8), only at the very first byte: '<?xml' S, then
 *   version='1.x', optional encoding, optional standalone='yes'|'no', in that order, S? '?>'. An
 *   encoding other than UTF-8 is invalid (RFC 6120 §11.6: UTF-8 only). No byte order mark.
 * - Whitespace (SP, HTAB, CR, LF) may precede the start tag. Comments, processing instructions and
 *   DTDs ('<!', '<?' other than the declaration) are invalid (RFC 6120 §11.1 prohibits them).
 * - The element is `stream` in the stream namespace 'http://etherx.jabber.org/streams' (RFC 6120
 *   §4.8.1): either `P:stream` with xmlns:P declaring that namespace (P is usually "stream"; RFC 6120
 *   recommends that prefix but does not require it, so any prefix is accepted), or an unprefixed
 *   `stream` with xmlns set to it.
 * - Content namespace (RFC 6120 §4.8.2): the default namespace `xmlns`, if declared, is reported as
 *   `namespace` ('jabber:client', 'jabber:server', 'jabber:component:accept', ...). It "MUST be
 *   other than the stream namespace", so a prefixed stream element with xmlns = the stream namespace
 *   is invalid. With no content namespace (prefix-free style, or an unprefixed stream element whose
 *   default namespace is the stream namespace itself) `namespace` is undefined.
 * - Attributes: single or double quotes, whitespace around '=', any order. Duplicate names are
 *   invalid. Prefixed attribute names need their prefix declared in the tag (or be xml:/xmlns:).
 *   Values may not contain '<' or control characters; entity references &lt; &gt; &amp; &apos;
 *   &quot; and character references are decoded, and raw whitespace is normalized to SP (XML 1.0
 *   §3.3.3). Names and values must be UTF-8 (checked byte by byte as they arrive).
 * - '/>' (an empty stream element) is invalid: a stream header opens the stream.
 * - `to` (RFC 6120 §4.7.2: the domainpart of the receiving entity, the name portplex routes on):
 *   lowercased, one trailing dot removed (RFC 7622 §3.2), then validated as a domain: an IPv6 literal
 *   in brackets, or dot-separated labels of 1..63 bytes made of letters, digits, '-' (not first or
 *   last) and '_', or non-ASCII characters (IDNA U-labels). RFC 7622 §3.2 allows 1023 bytes; DNS
 *   names, and so every name portplex can route, have at most 255, which is the cap here. A missing
 *   `to` is undefined; an empty or malformed one, or one with '@' or '/' (a full JID), is invalid.
 * - `from` is reported as sent (decoded); `version` must be "<major>.<minor>" digits (§4.7.5).
 * - The whole header (declaration, whitespace and start tag) must fit in 4096 bytes; the ok length
 *   ends at the start tag's '>', and nothing after it is looked at.
 *
 * sslh's is_xmpp_protocol (probe.c) only looks for "jabber" anywhere in the first bytes.
 */
import { isIPv6 } from 'node:net';
import { invalid, ok, settled, suspend, type ParseResult } from '../result.js';
import { CR, LF } from '../bytes.js';

export const XMPP_STREAMS_NS = 'http://etherx.jabber.org/streams';
export const XMPP_MAX_HEADER = 4096;
export const XMPP_MAX_DOMAIN = 255;

export interface XmppStreamHeader {
  /** The `to` domain, lowercased, without a trailing dot; undefined when absent. */
  readonly to: string | undefined;
  readonly from?: string;
  readonly version?: string;
  /** The content namespace ('jabber:client', 'jabber:server', ...), undefined when none is declared. */
  readonly namespace: string | undefined;
}

const MORE = -1;
const BAD = -2;
const LT = 0x3c;
const GT = 0x3e;
const QM = 0x3f;
const SLASH = 0x2f;
const EQ = 0x3d;
const AMP = 0x26;
const SEMI = 0x3b;
const COLON = 0x3a;
const QUOT = 0x22;
const APOS = 0x27;

function isS(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

function isNameStartAscii(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b === COLON;
}

function isNameAscii(b: number): boolean {
  return isNameStartAscii(b) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e;
}

/** A valid XML Char (XML 1.0 §2.2) as a code point. */
function isXmlChar(c: number): boolean {
  return c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

export function parseXmppStreamHeader(bytes: Uint8Array): ParseResult<XmppStreamHeader> {
  return settled(resumeXmppStreamHeader(bytes));
}

// Where the parse is (XmppResume.phase): the declaration's first bytes, one of its pseudo-attributes,
// the start tag's '<' and name, one of its attributes. Each attribute is read as S-run, name, S '=' S,
// quoted value: a resumed parse carries on inside whichever of those it stopped in.
const START = 0;
const D_SPACE = 1; // before a declaration pseudo-attribute or '?>'
const D_NAME = 2;
const D_EQ = 3; // S-run, then '=' (D_EQ, D_VALUE_SPACE, D_VALUE follow each other: valueAfterName)
const D_VALUE_SPACE = 4; // S-run, then the opening quote
const D_VALUE = 5;
const E_SPACE = 6; // whitespace, then '<' of the start tag
const E_NAME = 7;
const A_SPACE = 8; // before an attribute or '>'
const A_NAME = 9;
const A_EQ = 10;
const A_VALUE_SPACE = 11;
const A_VALUE = 12;

/** Where a stream header parse stopped for want of bytes (result.ts Suspended). */
export interface XmppResume {
  readonly phase: number;
  /** The next byte to judge (a reference, a CR or a UTF-8 sequence cut short is judged again whole). */
  readonly p: number;
  /** D_SPACE, A_SPACE: where the whitespace run began (a name must not follow without one). */
  readonly item: number;
  /** D_NAME, A_NAME, E_NAME: where the name starts; D_VALUE, A_VALUE: the opening quote. */
  readonly tok: number;
  /** Declaration: index in PSEUDO of the earliest pseudo-attribute still allowed. */
  readonly next: number;
  /** The (pseudo-)attribute being read, once its name is in. */
  readonly key: string;
  /** A value: the decoded text up to `run`, the first raw byte not decoded yet. */
  readonly out: string;
  readonly run: number;
  /** E_NAME: the early "local part is stream" check's position (-1 once it stopped) and the colon it saw. */
  readonly early: number;
  readonly colon: number;
  readonly prefix: string | undefined;
  /**
   * The start tag's attributes so far: the first `attrCount` entries of `attrs`. The map is shared
   * with the states that follow and only ever appended to, so those entries never change; a parse
   * resumed from a state that is not the latest starts from a copy of them.
   */
  readonly attrs: ReadonlyMap<string, string>;
  readonly attrCount: number;
}

const PSEUDO = ['version', 'encoding', 'standalone'];

/**
 * parseXmppStreamHeader, resumable (result.ts Suspended): `from` is the state of an incomplete answer
 * over a prefix of `bytes`; every byte after it is judged once, in the order a parse from byte 0
 * judges it, so the answer is the same at every length.
 */
export function resumeXmppStreamHeader(bytes: Uint8Array, from?: XmppResume): ParseResult<XmppStreamHeader> {
  const limit = Math.min(bytes.length, XMPP_MAX_HEADER);
  let phase = from?.phase ?? START;
  let p = from?.p ?? 0;
  let item = from?.item ?? 0;
  let tok = from?.tok ?? 0;
  let next = from?.next ?? 0;
  let key = from?.key ?? '';
  let out = from?.out ?? '';
  let run = from?.run ?? 0;
  let early = from?.early ?? -1;
  let colon = from?.colon ?? -1;
  let prefix = from?.prefix;
  let attrs = new Map<string, string>();
  if (from !== undefined && from.attrCount > 0) {
    attrs = from.attrs as Map<string, string>;
    if (attrs.size !== from.attrCount) attrs = new Map([...attrs].slice(0, from.attrCount));
  }

  let reason = '';
  const bad = (r: string): number => {
    reason = r;
    return BAD;
  };
  const fail = (code: number): ParseResult<XmppStreamHeader> => {
    if (code === BAD) return invalid(reason);
    if (bytes.length >= XMPP_MAX_HEADER) return invalid('stream header exceeds 4096 bytes');
    return suspend<XmppResume>({ phase, p, item, tok, next, key, out, run, early, colon, prefix, attrs, attrCount: attrs.size });
  };

  /**
   * Length of the UTF-8 sequence for a non-ASCII XML Char at `at` (RFC 3629 §4, XML 1.0 §2.2),
   * MORE if it is cut off by the end of the input, BAD if malformed.
   */
  const utf8 = (at: number): number => {
    const b0 = bytes[at]!;
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      n = 3;
      if (b0 === 0xe0) lo = 0xa0;
      if (b0 === 0xed) hi = 0x9f; // no surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      n = 4;
      if (b0 === 0xf0) lo = 0x90;
      if (b0 === 0xf4) hi = 0x8f;
    } else return bad('invalid UTF-8');
    for (let k = 1; k < n; k++) {
      if (at + k >= limit) return MORE;
      const b = bytes[at + k]!;
      if (b < (k === 1 ? lo : 0x80) || b > (k === 1 ? hi : 0xbf)) return bad('invalid UTF-8');
    }
    // U+FFFE and U+FFFF are not XML Chars.
    if (n === 3 && b0 === 0xef && bytes[at + 1] === 0xbf && (bytes[at + 2] === 0xbe || bytes[at + 2] === 0xbf)) return bad('invalid XML character');
    return n;
  };

  /** Moves p past whitespace; true when a byte after it is in. */
  const skipS = (): boolean => {
    while (p < limit && isS(bytes[p]!)) p++;
    return p < limit;
  };

  const literal = (at: number, text: string, why: string): number => {
    for (let k = 0; k < text.length; k++) {
      if (at + k >= limit) return MORE;
      if (bytes[at + k] !== text.charCodeAt(k)) return bad(why);
    }
    return at + text.length;
  };

  /** An XML Name from tok, read on from p; leaves p on the first byte after it (which exists). */
  const name = (): number => {
    for (;;) {
      if (p >= limit) return MORE;
      const b = bytes[p]!;
      if (b < 0x80) {
        if (p === tok ? !isNameStartAscii(b) : !isNameAscii(b)) break;
        p++;
      } else {
        const n = utf8(p);
        if (n < 0) return n;
        p += n;
      }
    }
    if (p === tok) return bad('expected an XML name');
    return p;
  };

  /** A QName check (Namespaces in XML 1.0 §4): no leading, trailing or second colon. */
  const qnameOk = (text: string): boolean => {
    const c = text.indexOf(':');
    return c === -1 || (c > 0 && c < text.length - 1 && text.indexOf(':', c + 1) === -1);
  };

  /** The opening quote of a value at p (after the whitespace run): the value starts. */
  const openValue = (): number => {
    if (!skipS()) return MORE;
    const q = bytes[p]!;
    if (q !== QUOT && q !== APOS) return bad('attribute value not quoted');
    tok = p;
    p++;
    run = p;
    out = '';
    return p;
  };

  /** A quoted value opened at tok, read on from p; `out` ends up decoded and normalized, p after the closing quote. */
  const quoted = (): number => {
    const q = bytes[tok]!;
    const flush = (to: number): void => {
      if (to > run) out += Buffer.from(bytes.buffer, bytes.byteOffset + run, to - run).toString('utf8');
    };
    for (;;) {
      if (p >= limit) return MORE;
      const b = bytes[p]!;
      if (b === q) break;
      if (b === LT) return bad("'<' in attribute value");
      if (b === AMP) {
        let e = p + 1;
        for (;;) {
          if (e >= limit) return MORE;
          if (bytes[e] === SEMI) break;
          if (e - p > 10) return bad('malformed reference in attribute value');
          e++;
        }
        const ref = Buffer.from(bytes.buffer, bytes.byteOffset + p + 1, e - p - 1).toString('latin1');
        let text: string | undefined = ENTITIES[ref];
        if (text === undefined) {
          const m = /^#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}))$/.exec(ref);
          const cp = m === null ? NaN : m[1] !== undefined ? parseInt(m[1], 10) : parseInt(m[2]!, 16);
          if (!isXmlChar(cp)) return bad('malformed reference in attribute value');
          text = String.fromCodePoint(cp);
        }
        flush(p);
        out += text;
        p = e + 1;
        run = p;
        continue;
      }
      if (b === CR || b === LF || b === 0x09) {
        // XML 1.0 §2.11 (CR LF -> LF) and §3.3.3 (whitespace -> SP).
        let n = 1;
        if (b === CR) {
          if (p + 1 >= limit) return MORE;
          if (bytes[p + 1] === LF) n = 2;
        }
        flush(p);
        out += ' ';
        p += n;
        run = p;
        continue;
      }
      if (b < 0x20 || b === 0x7f) return bad('control character in attribute value');
      if (b >= 0x80) {
        const n = utf8(p);
        if (n < 0) return n;
        p += n;
        continue;
      }
      p++;
    }
    flush(p);
    run = p;
    p++;
    return p;
  };

  /**
   * What follows a (pseudo-)attribute's name: S? '=' S? and the quoted value, from whichever of
   * those the parse is in (phase D_EQ or A_EQ, and the two after it); p ends after the closing quote.
   */
  const valueAfterName = (why: string): number => {
    if (phase === D_EQ || phase === A_EQ) {
      if (!skipS()) return MORE;
      if (bytes[p] !== EQ) return bad(why);
      p++;
      phase++;
    }
    if (phase === D_VALUE_SPACE || phase === A_VALUE_SPACE) {
      const v = openValue();
      if (v < 0) return v;
      phase++;
    }
    return quoted();
  };

  // --- XML declaration (XML 1.0 §2.8), only at the very start ---
  if (phase === START) {
    // Undecided until the first two bytes say whether this is "<?".
    if (limit === 0) return fail(MORE);
    if (bytes[0] === LT && (limit < 2 || bytes[1] === QM)) {
      const d = literal(0, '<?xml', 'processing instruction before the stream header');
      if (d < 0) return fail(d);
      if (d >= limit) return fail(MORE);
      if (!isS(bytes[d]!)) return fail(bad('processing instruction before the stream header'));
      p = item = d;
      phase = D_SPACE;
    } else {
      p = 0;
      phase = E_SPACE;
    }
  }

  while (phase <= D_VALUE) {
    if (phase === D_SPACE) {
      if (!skipS()) return fail(MORE);
      if (bytes[p] === QM) {
        const e = literal(p, '?>', 'malformed XML declaration');
        if (e < 0) return fail(e);
        p = e;
        break;
      }
      if (p === item) return fail(bad('malformed XML declaration'));
      tok = p;
      phase = D_NAME;
    }
    if (phase === D_NAME) {
      const e = name();
      if (e < 0) return fail(e);
      key = Buffer.from(bytes.buffer, bytes.byteOffset + tok, e - tok).toString('latin1');
      const idx = PSEUDO.indexOf(key);
      if (idx < next || (next === 0 && idx !== 0)) return fail(bad('malformed XML declaration'));
      next = idx + 1;
      phase = D_EQ;
    }
    const after = valueAfterName('malformed XML declaration');
    if (after < 0) return fail(after);
    const val = out;
    if (bytes.subarray(tok, after).includes(AMP)) return fail(bad('reference in XML declaration'));
    if (key === 'version' && !/^1\.[0-9]+$/.test(val)) return fail(bad('unsupported XML version'));
    if (key === 'encoding' && val.toLowerCase() !== 'utf-8') return fail(bad('XMPP requires UTF-8'));
    if (key === 'standalone' && val !== 'yes' && val !== 'no') return fail(bad('malformed XML declaration'));
    item = p;
    phase = D_SPACE;
  }
  if (phase < E_SPACE) {
    if (next === 0) return fail(bad('XML declaration without version'));
    phase = E_SPACE;
  }

  // --- whitespace, then '<' and the element name ---
  if (phase === E_SPACE) {
    if (!skipS()) return fail(MORE);
    if (bytes[p] !== LT) return fail(bad('not an XML stream header'));
    if (p + 1 >= limit) return fail(MORE);
    if (bytes[p + 1] === QM) return fail(bad('processing instruction or misplaced XML declaration'));
    if (bytes[p + 1] === 0x21 /* ! */) return fail(bad('comment or DTD before the stream header'));
    p++;
    tok = early = p;
    colon = -1;
    phase = E_NAME;
  }
  if (phase === E_NAME) {
    // Early refusal: once a colon is seen, the local part must be (a prefix of) "stream".
    while (early !== -1 && early < limit) {
      const b = bytes[early]!;
      if (b >= 0x80 || !isNameAscii(b)) {
        early = -1;
        break;
      }
      if (b === COLON) {
        if (colon !== -1 || early === tok) {
          early = -1;
          break;
        }
        colon = early;
      } else if (colon !== -1) {
        const k = early - colon - 1;
        if (k >= 6 || b !== 'stream'.charCodeAt(k)) return fail(bad('not a stream element'));
      }
      early++;
    }
    const nameEnd = name();
    if (nameEnd < 0) return fail(nameEnd);
    const qname = Buffer.from(bytes.buffer, bytes.byteOffset + tok, nameEnd - tok).toString('utf8');
    if (!qnameOk(qname)) return fail(bad('malformed element name'));
    const colonAt = qname.indexOf(':');
    prefix = colonAt === -1 ? undefined : qname.slice(0, colonAt);
    if ((colonAt === -1 ? qname : qname.slice(colonAt + 1)) !== 'stream') return fail(bad('not a stream element'));
    item = p;
    phase = A_SPACE;
  }

  // --- attributes, until '>' ---
  for (;;) {
    if (phase === A_SPACE) {
      if (!skipS()) return fail(MORE);
      const b = bytes[p]!;
      if (b === GT) {
        p++;
        break;
      }
      if (b === SLASH) return fail(bad('empty stream element'));
      if (p === item) return fail(bad('malformed stream header'));
      tok = p;
      phase = A_NAME;
    }
    if (phase === A_NAME) {
      const e = name();
      if (e < 0) return fail(e);
      key = Buffer.from(bytes.buffer, bytes.byteOffset + tok, e - tok).toString('utf8');
      if (!qnameOk(key)) return fail(bad('malformed attribute name'));
      if (attrs.has(key)) return fail(bad(`duplicate attribute ${key}`));
      phase = A_EQ;
    }
    const after = valueAfterName('malformed attribute');
    if (after < 0) return fail(after);
    attrs.set(key, out);
    item = p;
    phase = A_SPACE;
  }
  const i = p;

  // --- namespaces (Namespaces in XML 1.0; RFC 6120 §4.8) ---
  const attr = (n: string): string | undefined => attrs.get(n);
  for (const key of attrs.keys()) {
    const c = key.indexOf(':');
    if (c === -1) continue;
    const p = key.slice(0, c);
    if (p === 'xml' || p === 'xmlns') continue;
    if (attr(`xmlns:${p}`) === undefined) return fail(bad(`undeclared namespace prefix ${p}`));
  }
  const defaultNs = attr('xmlns');
  let namespace: string | undefined;
  if (prefix !== undefined) {
    if (attr(`xmlns:${prefix}`) !== XMPP_STREAMS_NS) return fail(bad('stream element not in the stream namespace'));
    if (defaultNs === XMPP_STREAMS_NS) return fail(bad('content namespace is the stream namespace'));
    namespace = defaultNs === '' ? undefined : defaultNs;
  } else {
    if (defaultNs !== XMPP_STREAMS_NS) return fail(bad('stream element not in the stream namespace'));
    namespace = undefined;
  }

  // --- to, from, version (RFC 6120 §4.7) ---
  const rawTo = attr('to');
  let to: string | undefined;
  if (rawTo !== undefined) {
    to = normalizeDomain(rawTo);
    if (to === undefined) return fail(bad('invalid domain in to'));
  }
  const fromAttr = attr('from');
  const version = attr('version');
  if (version !== undefined && !/^[0-9]+\.[0-9]+$/.test(version)) return fail(bad('malformed version'));

  return ok(
    {
      to,
      ...(fromAttr === undefined ? {} : { from: fromAttr }),
      ...(version === undefined ? {} : { version }),
      namespace,
    },
    i,
  );
}

/**
 * RFC 7622 §3.2 domainpart, lowercased, one trailing dot stripped; undefined when it is not a
 * plausible domain (see the top of this file). IPv6 literals keep their brackets.
 */
function normalizeDomain(raw: string): string | undefined {
  let d = raw.toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.length === 0 || Buffer.byteLength(d, 'utf8') > XMPP_MAX_DOMAIN) return undefined;
  if (d.startsWith('[')) {
    if (!d.endsWith(']') || !isIPv6(d.slice(1, -1))) return undefined;
    return d;
  }
  for (const label of d.split('.')) {
    if (label.length === 0 || Buffer.byteLength(label, 'utf8') > 63) return undefined;
    if (label.startsWith('-') || label.endsWith('-')) return undefined;
    for (const ch of label) {
      const c = ch.codePointAt(0)!;
      const okChar = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c >= 0x80;
      if (!okChar) return undefined;
    }
  }
  return d;
}
