/**
 * Ordered routes with tri-state evaluation: the first route that matches wins, but only once
 * every route before it has said no-match (like sslh's PROBE_AGAIN), so the answer never
 * depends on how the client's bytes were split into segments.
 */
import type { RouteAction, RouteConfig, RulesConfig, Transport } from '../config/types.js';
import { readsSource, routeTransport } from '../config/udp.js';
import type { MatchContext, Matcher } from '../protocols/match-context.js';
import { compileCondition, silentDurations } from '../matchers/registry.js';
import { allMatcher } from '../matchers/logic.js';
import { httpHeadDoneMatcher } from '../matchers/http-head-done.js';
import { MORE, NO, YES, verdictName, type Verdict } from '../protocols/verdict.js';

export interface CompiledRoute {
  readonly name: string;
  readonly action: RouteAction;
  readonly index: number;
  readonly match: Matcher;
}

export type Decision =
  | { readonly kind: 'wait' }
  /** `route` undefined: nothing matched and the default backend (if any) takes it. */
  | { readonly kind: 'route'; readonly route: CompiledRoute | undefined; readonly backend: string | undefined };

export interface TraceStep {
  readonly route: string;
  readonly verdict: ReturnType<typeof verdictName>;
}

/**
 * Forward actions wait for what they act on: `connect:` for a complete HTTP request head,
 * `sni_forward:` for a complete ClientHello, whatever the route's own conditions say.
 */
function withImplicit(r: RouteConfig): Matcher {
  const own = compileCondition(r.when);
  if (r.action.kind === 'connect') return allMatcher([httpHeadDoneMatcher, own]);
  if (r.action.kind === 'sni-forward') return allMatcher([compileCondition({ kind: 'protocol', protocols: ['tls'] }), own]);
  return own;
}

const WAIT: Decision = Object.freeze({ kind: 'wait' });

export class RouteTable {
  readonly routes: readonly CompiledRoute[];
  readonly defaultBackend: string | undefined;
  /** Sorted `silent:` durations of all routes: the inspector wakes up at each. */
  readonly silentMs: readonly number[];
  /**
   * `index` of the first route whose conditions test the client address (Infinity when none
   * does): a route before it that matched would have matched whatever the address.
   */
  readonly firstSourceRoute: number;
  private readonly fallback: Decision;

  /** The routes of one transport (a route serves its backend's), in file order, and that transport's default. */
  constructor(rules: Pick<RulesConfig, 'routes' | 'defaultBackend' | 'backends' | 'udp'>, transport: Transport = 'tcp') {
    const mine = rules.routes.map((r: RouteConfig, index) => ({ r, index })).filter(({ r }) => routeTransport(r, rules.backends) === transport);
    this.routes = mine.map(({ r, index }) => ({ name: r.name, action: r.action, index, match: withImplicit(r) }));
    this.defaultBackend = transport === 'tcp' ? rules.defaultBackend : rules.udp.defaultBackend;
    this.silentMs = [...new Set(mine.flatMap(({ r }) => silentDurations(r.when)))].sort((a, b) => a - b);
    this.firstSourceRoute = mine.find(({ r }) => readsSource(r.when))?.index ?? Infinity;
    this.fallback = Object.freeze({ kind: 'route', route: undefined, backend: this.defaultBackend });
  }

  /** The first silent duration: once a client has said nothing for this long, it is treated as silent. */
  get firstSilentMs(): number {
    return this.silentMs[0] ?? Infinity;
  }

  decide(ctx: MatchContext, trace?: TraceStep[]): Decision {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      let v: Verdict = route.match(ctx);
      if (v === MORE && ctx.final) v = NO;
      if (trace) trace.push({ route: route.name, verdict: verdictName(v) });
      if (v === YES) return { kind: 'route', route, backend: route.action.kind === 'backend' ? route.action.backend : undefined };
      if (v === MORE) return WAIT;
    }
    return this.fallback;
  }
}
