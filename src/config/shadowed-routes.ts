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

/** What the router really evaluates: `connect:` also waits for a complete request head, `sni_forward:` for a ClientHello. */
type Effective = Condition | { readonly kind: 'http-head-done' } | { readonly kind: 'all'; readonly inner: readonly Effective[] };

function effective(route: RouteConfig): Effective {
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

/** One warning per route that an earlier route of the same transport shadows entirely. */
export function shadowedRouteWarnings(routes: readonly RouteConfig[], backends: ReadonlyMap<string, BackendConfig>): RulesConfig['warnings'] {
  const out: RulesConfig['warnings'][number][] = [];
  routes.forEach((later, j) => {
    const transport = routeTransport(later, backends);
    const earlier = routes.slice(0, j).find((e) => routeTransport(e, backends) === transport && implies(effective(later), effective(e)));
    if (earlier === undefined) return;
    const why = earlier.when.kind === 'always' && earlier.action.kind === 'backend' ? `it has no conditions (a catch-all)` : `every connection that matches "${later.name}" matches it too`;
    out.push({
      ...later.pos,
      message: `route "${later.name}" is never taken: the earlier route "${earlier.name}" (${earlier.pos.file}:${earlier.pos.line}:${earlier.pos.col}) comes first and ${why}. Move "${later.name}" above it, or remove it`,
    });
  });
  return out;
}
