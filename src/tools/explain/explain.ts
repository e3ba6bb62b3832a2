/**
 * "Which route would take this connection, and why": every route in order with its verdict and,
 * for each condition, what it saw. Uses the same matchers as live routing; the reasons are read
 * off the parsed facts.
 */
import type { Condition, RulesConfig } from '../../config/types.js';
import type { MatchContext } from '../../protocols/match-context.js';
import { compileCondition } from '../../matchers/registry.js';
import { MORE, NO, verdictName, type Verdict } from '../../protocols/verdict.js';
import { PROTOCOL_TABLE } from '../../protocols/table.js';
import { RouteTable } from '../../router/route-table.js';
import { conditionSpec, isProtocolCondition } from '../../protocols/registry.js';
import { escapeClientText } from '../../observe/escape.js';

export interface ExplainedRoute {
  readonly route: string;
  readonly verdict: ReturnType<typeof verdictName> | 'not evaluated';
  readonly reasons: readonly string[];
}

export interface Explanation {
  readonly routes: readonly ExplainedRoute[];
  /** The route that takes the connection: a route name, 'default', or undefined (closed: no route). */
  readonly decision: string | undefined;
  readonly backend: string | undefined;
  readonly waiting: boolean;
}

function finalize(v: Verdict, ctx: MatchContext): Verdict {
  return v === MORE && ctx.final ? NO : v;
}

function leafReason(c: Condition, ctx: MatchContext, v: Verdict): string {
  const show = (s: string | undefined): string => (s === undefined ? 'none' : `"${escapeClientText(s)}"`);
  if (isProtocolCondition(c)) return conditionSpec(c).explain(c, ctx, show);
  switch (c.kind) {
    case 'always':
      return 'no conditions';
    case 'protocol':
      return c.protocols
        .map((p) => {
          const r = ctx.facts.get(PROTOCOL_TABLE[p].parser);
          return `${p}: ${r.kind === 'ok' ? 'a complete first message' : r.kind === 'invalid' ? `not ${p} (${r.reason})` : 'incomplete so far'}`;
        })
        .join('; ');
    case 'bytes.length':
      return `${ctx.bytes.length} bytes (wanted ${c.min}..${c.max === Number.MAX_SAFE_INTEGER ? '' : c.max})`;
    case 'bytes.prefix':
      return `first bytes ${Buffer.from(ctx.bytes.subarray(0, 8)).toString('hex') || 'none'}`;
    case 'bytes.regex':
      return `regex /${c.regex.source}/ over ${ctx.bytes.length} bytes`;
    case 'src':
      return `client ${ctx.srcAddress}`;
    case 'local_port':
      return `local port ${ctx.localPort}`;
    case 'silent':
      return ctx.bytes.length > 0 ? 'the client sent bytes' : `silent for ${Math.round(ctx.elapsedMs)}ms (wanted ${c.ms}ms)`;
    default:
      return verdictName(v);
  }
}

function explainCondition(c: Condition, ctx: MatchContext, out: string[]): Verdict {
  const v = finalize(compileCondition(c)(ctx), ctx);
  if (c.kind === 'all' || c.kind === 'any') {
    for (const inner of c.inner) explainCondition(inner, ctx, out);
    return v;
  }
  if (c.kind === 'not') {
    const inner: string[] = [];
    explainCondition(c.inner, ctx, inner);
    out.push(`not (${inner.join('; ')}): ${verdictName(v)}`);
    return v;
  }
  out.push(`${c.kind} ${verdictName(v)}: ${leafReason(c, ctx, v)}`);
  return v;
}

export function explain(rules: Pick<RulesConfig, 'routes' | 'defaultBackend' | 'backends' | 'udp'>, ctx: MatchContext): Explanation {
  // Verdicts come from the live route table (including the implicit waits of forward actions);
  // the reasons from walking each route's conditions.
  const table = new RouteTable(rules);
  const routes: ExplainedRoute[] = [];
  let decision: string | undefined;
  let backend: string | undefined;
  let waiting = false;
  for (const r of rules.routes) {
    if (decision !== undefined || waiting) {
      routes.push({ route: r.name, verdict: 'not evaluated', reasons: [decision !== undefined ? 'an earlier route matched' : 'an earlier route still needs more bytes'] });
      continue;
    }
    const reasons: string[] = [];
    explainCondition(r.when, ctx, reasons);
    const v = finalize(table.routes[routes.length]!.match(ctx), ctx);
    routes.push({ route: r.name, verdict: verdictName(v), reasons });
    if (v === MORE) waiting = true;
    else if (v !== NO) {
      decision = r.name;
      backend = r.action.kind === 'backend' ? r.action.backend : `(${r.action.kind})`;
    }
  }
  if (decision === undefined && !waiting) {
    decision = rules.defaultBackend === undefined ? undefined : 'default';
    backend = rules.defaultBackend;
  }
  return { routes, decision, backend, waiting };
}
