/**
 * Compiles a route's `when:` mapping into a Condition tree. Keys in one mapping are ANDed;
 * `any`, `all` and `not` nest further mappings.
 */
import type { Node } from 'yaml';
import type { NodeReader } from './yaml-reader.js';
import { POSTGRES_KINDS, PROTOCOLS, type Cidr, type Condition, type NamePattern, type PostgresKind, type Protocol, type TextPattern } from './types.js';
import { isHostName, parseCidr, parseDuration } from './units.js';
import { compilePattern } from './rule-pattern.js';

export const WHEN_KEYS = ['protocol', 'tls', 'http', 'xmpp', 'rdp', 'postgres', 'bytes', 'src', 'local_port', 'silent', 'not', 'any', 'all'] as const;
export const TLS_KEYS = ['sni', 'alpn', 'version', 'ech'] as const;
export const HTTP_KEYS = ['method', 'host'] as const;
export const BYTES_KEYS = ['length', 'prefix', 'regex'] as const;
export const XMPP_KEYS = ['to'] as const;
export const RDP_KEYS = ['cookie'] as const;
export const POSTGRES_KEYS = ['kind', 'user', 'database'] as const;
export const RANGE_KEYS = ['min', 'max'] as const;

export const TLS_VERSIONS: Record<string, number> = { ssl3: 0x0300, '1.0': 0x0301, '1.1': 0x0302, '1.2': 0x0303, '1.3': 0x0304 };
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

function and(parts: Condition[]): Condition {
  if (parts.length === 0) return { kind: 'always' };
  if (parts.length === 1) return parts[0]!;
  return { kind: 'all', inner: parts };
}

export function compileWhen(r: NodeReader, node: Node | null, what: string): Condition {
  if (node === null) return { kind: 'always' };
  const m = r.map(node, what, WHEN_KEYS);
  if (!m) return { kind: 'always' };
  const parts: Condition[] = [];
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    switch (key) {
      case 'protocol': {
        const protocols = r.list(value).map((n) => r.oneOf<Protocol>(n, sub, PROTOCOLS));
        if (protocols.every((p): p is Protocol => p !== undefined) && protocols.length > 0) parts.push({ kind: 'protocol', protocols });
        else if (protocols.length === 0) r.error(value, `${sub} needs at least one of: ${PROTOCOLS.join(', ')}`);
        break;
      }
      case 'tls':
        parts.push(compileTls(r, value, sub));
        break;
      case 'http':
        parts.push(compileHttp(r, value, sub));
        break;
      case 'bytes':
        parts.push(compileBytes(r, value, sub));
        break;
      case 'xmpp':
      case 'rdp':
      case 'postgres':
        parts.push(compileCaptures(r, key, value, sub));
        break;
      case 'src': {
        const cidrs: Cidr[] = [];
        for (const n of r.list(value)) {
          const s = r.string(n, sub);
          if (s === undefined) continue;
          const c = parseCidr(s);
          if (typeof c === 'string') r.error(n, `${sub}: ${c}`);
          else cidrs.push(c);
        }
        if (cidrs.length === 0 && r.list(value).length === 0) r.error(value, `${sub} needs at least one CIDR`);
        parts.push({ kind: 'src', cidrs });
        break;
      }
      case 'local_port':
        parts.push({ kind: 'local_port', ranges: compilePortRanges(r, value, sub) });
        break;
      case 'silent': {
        const ms = r.duration(value, sub, 1, 3_600_000);
        if (ms !== undefined) parts.push({ kind: 'silent', ms });
        break;
      }
      case 'not':
        parts.push({ kind: 'not', inner: compileWhen(r, value, sub) });
        break;
      case 'any':
      case 'all': {
        if (!r.isSeq(value)) {
          r.error(value, `${sub} must be a list of conditions`);
          break;
        }
        const inner = r.list(value).map((n, i) => compileWhen(r, n, `${sub}[${i}]`));
        if (inner.length === 0) r.error(value, `${sub} needs at least one condition`);
        parts.push({ kind: key, inner });
        break;
      }
    }
  }
  return and(parts);
}

function compileTls(r: NodeReader, node: Node | null, what: string): Condition {
  const parts: Condition[] = [{ kind: 'protocol', protocols: ['tls'] }];
  if (node === null) return parts[0]!;
  const m = r.map(node, what, TLS_KEYS);
  if (!m) return parts[0]!;
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'sni') parts.push({ kind: 'tls.sni', patterns: compileNames(r, value, sub) });
    else if (key === 'alpn') {
      const names = r.list(value).map((n) => r.string(n, sub)).filter((s): s is string => s !== undefined);
      for (const n of r.list(value)) {
        const s = r.scalar(n);
        if (typeof s === 'string' && Buffer.byteLength(s) > 255) r.error(n, `${sub}: a protocol name is at most 255 bytes`);
      }
      parts.push({ kind: 'tls.alpn', names });
    } else if (key === 'version') {
      const range = compileVersionRange(r, value, sub);
      if (range) parts.push({ kind: 'tls.version', ...range });
    } else if (key === 'ech') {
      const present = r.boolean(value, sub);
      if (present !== undefined) parts.push({ kind: 'tls.ech', present });
    }
  }
  return and(parts);
}

function compileVersionRange(r: NodeReader, node: Node | null, what: string): { min: number; max: number } | undefined {
  const help = `${what} must be a version (ssl3, 1.0, 1.1, 1.2, 1.3), a range such as "1.2..1.3", or {min, max}`;
  const version = (n: Node | null, v: unknown): number | undefined => {
    const key = typeof v === 'number' ? v.toFixed(1) : typeof v === 'string' ? v.trim() : '';
    const out = TLS_VERSIONS[key];
    return out === undefined ? r.error(n, help) : out;
  };
  return compileRange(r, node, what, version, 0xffff);
}

/**
 * A range written "a..b", "a..", "..b", { min, max } or a single value (min = max), with
 * `read` turning one bound into a number (reporting its own error).
 */
function compileRange(
  r: NodeReader,
  node: Node | null,
  what: string,
  read: (n: Node | null, v: unknown) => number | undefined,
  top: number,
): { min: number; max: number } | undefined {
  let min: number | undefined;
  let max: number | undefined;
  const raw = r.scalar(node);
  if (r.isMap(node)) {
    const m = r.map(node, what, RANGE_KEYS);
    if (!m) return undefined;
    const minE = m.get('min');
    const maxE = m.get('max');
    min = minE ? read(minE.value, r.scalar(minE.value)) : 0;
    max = maxE ? read(maxE.value, r.scalar(maxE.value)) : top;
  } else if (typeof raw === 'string' && raw.includes('..')) {
    const [a, b] = raw.split('..');
    min = a?.trim() ? read(node, a) : 0;
    max = b?.trim() ? read(node, b) : top;
  } else {
    min = max = read(node, raw);
  }
  if (min === undefined || max === undefined) return undefined;
  if (min > max) return r.error(node, `${what}: the lower bound is above the upper one`);
  return { min, max };
}

function compileHttp(r: NodeReader, node: Node | null, what: string): Condition {
  const parts: Condition[] = [{ kind: 'protocol', protocols: ['http'] }];
  if (node === null) return parts[0]!;
  const m = r.map(node, what, HTTP_KEYS);
  if (!m) return parts[0]!;
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'method') {
      const methods: string[] = [];
      for (const n of r.list(value)) {
        const s = r.string(n, sub);
        if (s !== undefined && !TOKEN.test(s)) r.error(n, `${sub}: "${s}" is not an HTTP method token`);
        else if (s !== undefined) methods.push(s);
      }
      parts.push({ kind: 'http.method', methods });
    } else {
      parts.push({ kind: 'http.host', patterns: compileNames(r, value, sub) });
    }
  }
  return and(parts);
}

/** "example.com" (exact), "*.example.com" (any name ending in .example.com), "~^regex$" (RE2, case-insensitive). */
export function compileNames(r: NodeReader, node: Node | null, what: string): NamePattern[] {
  const out: NamePattern[] = [];
  const items = r.list(node);
  if (items.length === 0) r.error(node, `${what} needs at least one name`);
  for (const n of items) {
    const s = r.string(n, what);
    if (s === undefined) continue;
    if (s.startsWith('~')) {
      const regex = compilePattern(r, n, what, s.slice(1), true);
      if (regex) out.push({ kind: 'regex', regex });
      continue;
    }
    const lower = s.toLowerCase();
    if (lower.startsWith('*.')) {
      if (!isHostName(lower.slice(2))) r.error(n, `${what}: "${s}" is not a valid wildcard name (write *.example.com)`);
      else out.push({ kind: 'suffix', suffix: lower.slice(1) });
    } else if (!isHostName(lower)) {
      r.error(n, `${what}: "${s}" is not a valid host name (use *.example.com for a wildcard, ~regex for a pattern)`);
    } else {
      out.push({ kind: 'exact', name: lower });
    }
  }
  return out;
}

/** `xmpp: { to }`, `rdp: { cookie }`, `postgres: { kind, user, database }`; each implies its protocol. */
function compileCaptures(r: NodeReader, protocol: 'xmpp' | 'rdp' | 'postgres', node: Node | null, what: string): Condition {
  const parts: Condition[] = [{ kind: 'protocol', protocols: [protocol] }];
  if (node === null || r.isNull(node)) return parts[0]!;
  const keys = protocol === 'xmpp' ? XMPP_KEYS : protocol === 'rdp' ? RDP_KEYS : POSTGRES_KEYS;
  const m = r.map(node, what, keys);
  if (!m) return parts[0]!;
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'to') parts.push({ kind: 'xmpp.to', patterns: compileNames(r, value, sub) });
    else if (key === 'cookie') parts.push({ kind: 'rdp.cookie', patterns: compileTexts(r, value, sub) });
    else if (key === 'kind') {
      const kinds = r.list(value).map((n) => r.oneOf<PostgresKind>(n, sub, POSTGRES_KINDS)).filter((k): k is PostgresKind => k !== undefined);
      parts.push({ kind: 'postgres.kind', kinds });
    } else parts.push({ kind: key === 'user' ? 'postgres.user' : 'postgres.database', patterns: compileTexts(r, value, sub) });
  }
  return and(parts);
}

/** Exact text (compared case-insensitively) or "~regex". */
function compileTexts(r: NodeReader, node: Node | null, what: string): TextPattern[] {
  const out: TextPattern[] = [];
  if (r.list(node).length === 0) r.error(node, `${what} needs at least one value`);
  for (const n of r.list(node)) {
    const s = r.string(n, what);
    if (s === undefined) continue;
    if (!s.startsWith('~')) {
      out.push({ kind: 'exact', text: s.toLowerCase() });
      continue;
    }
    const regex = compilePattern(r, n, what, s.slice(1), false);
    if (regex) out.push({ kind: 'regex', regex });
  }
  return out;
}

function compileBytes(r: NodeReader, node: Node | null, what: string): Condition {
  const m = r.map(node, what, BYTES_KEYS);
  const parts: Condition[] = [];
  if (!m) return { kind: 'always' };
  if (m.size === 0) r.error(node, `${what} needs one of: ${BYTES_KEYS.join(', ')}`);
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'length') {
      const range = compileLengthRange(r, value, sub);
      if (range) parts.push({ kind: 'bytes.length', ...range });
    } else if (key === 'prefix') {
      const prefixes: Uint8Array[] = [];
      for (const n of r.list(value)) {
        const s = r.string(n, sub);
        if (s === undefined) continue;
        const compact = s.replace(/[\s:]/g, '');
        if (!/^([0-9a-fA-F]{2})+$/.test(compact)) r.error(n, `${sub}: "${s}" must be hex bytes, such as "16 03" or "1603"`);
        else prefixes.push(Buffer.from(compact, 'hex'));
      }
      parts.push({ kind: 'bytes.prefix', prefixes });
    } else {
      const s = r.string(value, sub);
      if (s === undefined) continue;
      const regex = compilePattern(r, value, sub, s, false);
      if (regex) parts.push({ kind: 'bytes.regex', regex });
    }
  }
  return and(parts);
}

function compileLengthRange(r: NodeReader, node: Node | null, what: string): { min: number; max: number } | undefined {
  const help = `${what} must be a byte count range such as "1..64", "100..", or {min, max}`;
  const num = (n: Node | null, v: unknown): number | undefined => {
    const x = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    return Number.isInteger(x) && x >= 0 ? x : r.error(n, help);
  };
  return compileRange(r, node, what, num, Number.MAX_SAFE_INTEGER);
}

export function compilePortRanges(r: NodeReader, node: Node | null, what: string): [number, number][] {
  const out: [number, number][] = [];
  for (const n of r.list(node)) {
    const v = r.scalar(n);
    const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(text);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo < 1 || hi > 65535 || lo > hi) r.error(n, `${what} must be a port (1-65535) or a range such as "8000-8100"`);
    else out.push([lo, hi]);
  }
  if (out.length === 0 && r.list(node).length === 0) r.error(node, `${what} needs at least one port`);
  return out;
}

