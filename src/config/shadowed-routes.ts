/**
 * A route that an earlier route shadows entirely can never be taken: the router (first match
 * wins, re-evaluating every route in order on each decision) reaches it only after every earlier
 * route said no-match, and an earlier route whose conditions are implied by the later one's
 * matches whenever the later one does. `implies(later, earlier)` is sound, not complete: it says
 * true only when every connection (at every moment of its inspection) that matches `later` also
 * matches `earlier`, by rules that follow from how each matcher reads the same parsed facts; when
 * in doubt it says false, and no warning is given.
 */
import { BlockList } from 'node:net';
import { conditionSpec, isProtocolCondition } from '../protocols/registry.js';
import type { BackendConfig, Cidr, Condition, RouteConfig, RulesConfig } from './types.js';
import { routeTransport } from './udp.js';
import { sameConfig } from './same-config.js';
import { indexableSni } from './sni-routes.js';

/** What the router really evaluates: `connect:` also waits for a complete request head, `sni_forward:` for a ClientHello. */
type Effective = Condition | { readonly kind: 'http-head-done' } | { readonly kind: 'all'; readonly inner: readonly Effective[] };

/** What the router evaluates for a route (exported for the shadowing property test). */
export function effectiveCondition(route: RouteConfig): Effective {
  if (route.action.kind === 'connect') return { kind: 'all', inner: [{ kind: 'http-head-done' }, route.when] };
  if (route.action.kind === 'sni-forward') return { kind: 'all', inner: [{ kind: 'protocol', protocols: ['tls'] }, route.when] };
  return route.when;
}

/** Whether every connection that matches `a` also matches `b`, for certain. */
export function implies(a: Effective, b: Effective): boolean {
  if (b.kind === 'always') return true;
  if (sameConfig(a, b)) return true;
  // Decompose the logic first: `a` all-of implies b when one part does; any-of when every part does.
  if (a.kind === 'all' && a.inner.some((x: Effective) => implies(x, b))) return true;
  if (a.kind === 'any') return a.inner.every((x) => implies(x, b));
  if (b.kind === 'all') return b.inner.every((y: Effective) => implies(a, y));
  if (b.kind === 'any') return b.inner.some((y) => implies(a, y));
  if (a.kind !== b.kind) return false;
  if (isProtocolCondition(a)) return conditionSpec(a).implies(a, b as typeof a);
  switch (a.kind) {
    case 'protocol':
      return a.protocols.every((p) => (b as typeof a).protocols.includes(p));
    case 'bytes.length':
      return (b as typeof a).min <= a.min && a.max <= (b as typeof a).max;
    case 'bytes.prefix':
      return a.prefixes.every((p) => (b as typeof a).prefixes.some((q) => q.length <= p.length && Buffer.from(p.subarray(0, q.length)).equals(q)));
    case 'src':
      return a.cidrs.every((c) => (b as typeof a).cidrs.some((d) => cidrCovers(d, c)));
    case 'local_port':
      return a.ranges.every(([lo, hi]) => (b as typeof a).ranges.some(([blo, bhi]) => blo <= lo && hi <= bhi));
    case 'silent':
      // Silent for a.ms means silent for every shorter time too.
      return (b as typeof a).ms <= a.ms;
    default:
      // bytes.regex, not, http-head-done: only the identical condition (above).
      return false;
  }
}

function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const list = new BlockList();
  list.addSubnet(outer.address, outer.prefix, outer.family);
  return list.check(inner.address, inner.family);
}

/**
 * Earlier routes indexed by the SNI patterns of the SNI-only ones (hosting tables: thousands of
 * them), so that finding what shadows a route costs a few lookups instead of a scan of every
 * earlier route: only an SNI-only route covering the later route's first name pattern can shadow
 * an SNI-only route, besides the few routes of other shapes, which are still tried one by one.
 */
class EarlierRoutes {
  private readonly exact = new Map<string, number[]>();
  private readonly suffix = new Map<string, number[]>();
  /** Routes the index does not hold: tried against every later route. */
  private readonly others: number[] = [];

  add(j: number, route: RouteConfig): void {
    const patterns = indexableSni(route);
    if (patterns === undefined) return void this.others.push(j);
    for (const p of patterns) {
      const [map, key] = p.kind === 'exact' ? [this.exact, p.name] : [this.suffix, p.kind === 'suffix' ? p.suffix : ''];
      const list = map.get(key);
      if (list === undefined) map.set(key, [j]);
      else if (list[list.length - 1] !== j) list.push(j);
    }
  }

  /** Positions of earlier routes that may imply `route`, in file order; undefined: every earlier one may. */
  candidates(route: RouteConfig): number[] | undefined {
    const patterns = indexableSni(route);
    if (patterns === undefined) return undefined;
    const first = patterns[0]!;
    // What covers the first pattern: the same exact name, or a wildcard whose suffix it ends with at a label boundary.
    const text = first.kind === 'exact' ? first.name : first.kind === 'suffix' ? first.suffix : '';
    const out = new Set<number>(this.others);
    if (first.kind === 'exact') for (const j of this.exact.get(text) ?? []) out.add(j);
    for (let i = first.kind === 'exact' ? text.indexOf('.', 1) : 0; i !== -1; i = text.indexOf('.', i + 1)) {
      for (const j of this.suffix.get(text.slice(i)) ?? []) out.add(j);
    }
    return [...out].sort((a, b) => a - b);
  }
}

/** One warning per route that an earlier route of the same transport shadows entirely. */
export function shadowedRouteWarnings(routes: readonly RouteConfig[], backends: ReadonlyMap<string, BackendConfig>): RulesConfig['warnings'] {
  const out: RulesConfig['warnings'][number][] = [];
  const transports = routes.map((r) => routeTransport(r, backends));
  const effectives = routes.map(effectiveCondition);
  const earlier = new EarlierRoutes();
  routes.forEach((later, j) => {
    const candidates = earlier.candidates(later);
    earlier.add(j, later);
    const shadows = (i: number): boolean => transports[i] === transports[j] && implies(effectives[j]!, effectives[i]!);
    let found = -1;
    if (candidates === undefined) {
      for (let i = 0; i < j && found < 0; i++) if (shadows(i)) found = i;
    } else {
      found = candidates.find(shadows) ?? -1;
    }
    if (found < 0) return;
    const e = routes[found]!;
    const why = e.when.kind === 'always' && e.action.kind === 'backend' ? `it has no conditions (a catch-all)` : `every connection that matches "${later.name}" matches it too`;
    out.push({
      ...later.pos,
      message: `route "${later.name}" is never taken: the earlier route "${e.name}" (${e.pos.file}:${e.pos.line}:${e.pos.col}) comes first and ${why}. Move "${later.name}" above it, or remove it`,
    });
  });
  return out;
}
