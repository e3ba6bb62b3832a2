/**
 * Compiles a route's `when:` mapping into a Condition tree. Keys in one mapping are ANDed;
 * `any`, `all` and `not` nest further mappings.
 */
import type { Node } from 'yaml';
import type { NodeReader } from './yaml-reader.js';
import type { WhenReader } from '../protocols/module.js';
import { PROTOCOLS, WHEN_PROTOCOLS } from '../protocols/registry.js';
import type { Cidr, Condition, NamePattern, Protocol, TextPattern } from './types.js';
import { isHostName, parseCidr, parseDuration } from './units.js';
import { compilePattern } from './rule-pattern.js';

/** The generic keys, and one key per protocol that adds conditions (tls, http, xmpp, rdp, postgres: src/protocols/index.ts). */
export const WHEN_KEYS: readonly string[] = ['protocol', ...WHEN_PROTOCOLS.map((m) => m.key), 'bytes', 'src', 'local_port', 'silent', 'not', 'any', 'all'];
const WHEN_OF = new Map(WHEN_PROTOCOLS.map((m) => [m.key as string, m]));
export const BYTES_KEYS = ['length', 'prefix', 'regex'] as const;
export const RANGE_KEYS = ['min', 'max'] as const;

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
      case 'bytes':
        parts.push(compileBytes(r, value, sub));
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
      default: {
        // A protocol's key (r.map allowed only WHEN_KEYS): it implies `protocol: <key>` and ANDs its sub-keys.
        const m = WHEN_OF.get(key)!;
        const implied: Condition = { kind: 'protocol', protocols: [m.key] };
        if (value === null || (m.when.nullMeansProtocol === true && r.isNull(value))) parts.push(implied);
        else parts.push(and([implied, ...m.when.compile(whenReader(r), value, sub)]));
      }
    }
  }
  return and(parts);
}

/** The rule-file reader a protocol's `when:` key is compiled with. */
function whenReader(r: NodeReader): WhenReader {
  return Object.assign(Object.create(r) as NodeReader, {
    names: (node: Node | null, what: string) => compileNames(r, node, what),
    texts: (node: Node | null, what: string) => compileTexts(r, node, what),
    range: (node: Node | null, what: string, read: (n: Node | null, v: unknown) => number | undefined, top: number) => compileRange(r, node, what, read, top),
  });
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

