/**
 * Which routes are "SNI-only": their whole condition is protocol tls and an SNI among exact names
 * or `*.suffix` patterns, and their action a backend. The router looks runs of them up by name
 * (src/router/sni-index.ts), and the shadowed-route check indexes them the same way.
 */
import type { Condition, NamePattern, RouteConfig } from './types.js';

/** The SNI patterns of a route the index can answer, or undefined. */
export function indexableSni(r: RouteConfig): readonly NamePattern[] | undefined {
  if (r.action.kind !== 'backend') return undefined;
  const parts: readonly Condition[] = r.when.kind === 'all' ? r.when.inner : [r.when];
  let patterns: readonly NamePattern[] | undefined;
  for (const c of parts) {
    if (c.kind === 'protocol' && c.protocols.length === 1 && c.protocols[0] === 'tls') continue;
    if (c.kind !== 'tls.sni' || patterns !== undefined) return undefined;
    patterns = c.patterns;
  }
  if (patterns === undefined || patterns.length === 0) return undefined;
  // A suffix is matched by label boundaries: only the "*.name" form (".name") can be.
  return patterns.every((p) => p.kind === 'exact' || (p.kind === 'suffix' && p.suffix.startsWith('.'))) ? patterns : undefined;
}
