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
import { SniIndex } from './sni-index.js';
import { indexableSni } from '../config/sni-routes.js';

/** Runs of SNI-only routes shorter than this are scanned: a few comparisons cost less than the lookups. */
const MIN_INDEXED_RUN = 8;

/** A run of SNI-only routes [start, end) and its index. */
interface SniRun {
  readonly end: number;
  readonly index: SniIndex;
}

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
  /** At the position of a run's first route: the run (an array: read for every route of every decision). */
  private readonly runAt: (SniRun | undefined)[] = [];

  /**
   * The routes of one transport (a route serves its backend's), in file order, and that
   * transport's default. `indexed: false` scans every route (the reference the index is tested against).
   */
  constructor(rules: Pick<RulesConfig, 'routes' | 'defaultBackend' | 'backends' | 'udp'>, transport: Transport = 'tcp', opts: { readonly indexed?: boolean } = {}) {
    const mine = rules.routes.map((r: RouteConfig, index) => ({ r, index })).filter(({ r }) => routeTransport(r, rules.backends) === transport);
    this.routes = mine.map(({ r, index }) => ({ name: r.name, action: r.action, index, match: withImplicit(r) }));
    if (opts.indexed !== false) {
      for (let i = 0; i < mine.length; ) {
        let j = i;
        const patterns = [];
        for (let p = indexableSni(mine[j]!.r); p !== undefined; p = j < mine.length ? indexableSni(mine[j]!.r) : undefined) {
          patterns.push(p);
          j++;
        }
        if (j - i >= MIN_INDEXED_RUN) this.runAt[i] = { end: j, index: new SniIndex(patterns) };
        i = Math.max(j, i + 1);
      }
    }
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
      const v = verdictOf(route, ctx);
      if (trace) trace.push({ route: route.name, verdict: verdictName(v) });
      if (v === YES) return routed(route);
      if (v === MORE) return WAIT;
      // A trace names every route's verdict: it takes the scan.
      const run = trace === undefined ? this.runAt[i] : undefined;
      if (run !== undefined) {
        const k = this.inRun(run, i, ctx);
        if (k >= 0) {
          const w = verdictOf(routes[k]!, ctx);
          if (w === YES) return routed(routes[k]!);
          if (w === MORE) return WAIT;
        }
        i = run.end - 1;
      }
    }
    return this.fallback;
  }

  /**
   * The route of a run that can answer, once its first route (at `start`) said no-match: the
   * earliest whose patterns hold the SNI, or -1 when every route of the run says no-match. They
   * share one condition but the names, so they all say what the first said unless the hello is
   * complete: then the SNI decides which may match, and that route's own matcher says whether it does
   * (it says no-match only if the shared part does, and then every route of the run does too).
   */
  private inRun(run: SniRun, start: number, ctx: MatchContext): number {
    const tls = ctx.facts.get('tls');
    if (tls.kind !== 'ok' || tls.value.sni === undefined) return -1;
    const k = run.index.lookup(tls.value.sni);
    return k <= 0 ? -1 : start + k;
  }
}

function verdictOf(route: CompiledRoute, ctx: MatchContext): Verdict {
  const v = route.match(ctx);
  return v === MORE && ctx.final ? NO : v;
}

function routed(route: CompiledRoute): Decision {
  return { kind: 'route', route, backend: route.action.kind === 'backend' ? route.action.backend : undefined };
}
