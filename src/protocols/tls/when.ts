/** `when: { tls: { sni, alpn, version, ech } }`: each sub-key is one condition over the ClientHello. */
import type { Node } from 'yaml';
import type { WhenReader } from '../module.js';
import type { NamePattern } from '../patterns.js';

export type TlsCondition =
  | { readonly kind: 'tls.sni'; readonly patterns: readonly NamePattern[] }
  | { readonly kind: 'tls.alpn'; readonly names: readonly string[] }
  | { readonly kind: 'tls.version'; readonly min: number; readonly max: number }
  | { readonly kind: 'tls.ech'; readonly present: boolean };

export const TLS_KEYS = ['sni', 'alpn', 'version', 'ech'] as const;
export const TLS_VERSIONS: Record<string, number> = { ssl3: 0x0300, '1.0': 0x0301, '1.1': 0x0302, '1.2': 0x0303, '1.3': 0x0304 };

export function compileTls(r: WhenReader, node: Node | null, what: string): TlsCondition[] {
  const parts: TlsCondition[] = [];
  const m = r.map(node, what, TLS_KEYS);
  if (!m) return parts;
  for (const [key, { value }] of m) {
    const sub = `${what}.${key}`;
    if (key === 'sni') parts.push({ kind: 'tls.sni', patterns: r.names(value, sub) });
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
  return parts;
}

function compileVersionRange(r: WhenReader, node: Node | null, what: string): { min: number; max: number } | undefined {
  const help = `${what} must be a version (ssl3, 1.0, 1.1, 1.2, 1.3), a range such as "1.2..1.3", or {min, max}`;
  const version = (n: Node | null, v: unknown): number | undefined => {
    const key = typeof v === 'number' ? v.toFixed(1) : typeof v === 'string' ? v.trim() : '';
    const out = TLS_VERSIONS[key];
    return out === undefined ? r.error(n, help) : out;
  };
  return r.range(node, what, version, 0xffff);
}
