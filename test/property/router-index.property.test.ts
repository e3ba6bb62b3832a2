/**
 * The indexed router (src/router/sni-index.ts) against the plain ordered scan: random rule sets —
 * long runs of SNI-only routes (exact names, *.suffix wildcards, the same name in several routes),
 * broken up by regex-SNI, ALPN, protocol, bytes and silent routes — and random first flights —
 * ClientHellos with names from the same pool or none, cut short, HTTP, noise — must get the same
 * decision and the same need-more, with the client's bytes final or not; the trace (which always
 * scans) must name the same route.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable, type Decision, type TraceStep } from '../../src/router/route-table.js';
import { buildClientHello } from '../helpers/tls-hello-builder.js';
import { check, fc } from './support.js';
import { effectiveCondition, implies, shadowedRouteWarnings } from '../../src/config/shadowed-routes.js';
import { routeTransport } from '../../src/config/udp.js';

const LABELS = ['a', 'b', 'www', 'api', 'x-1', 'shop'];
const ZONES = ['example.com', 'example.net', 'a.example.com', 'co.uk', 'tenant.example.org'];

const nameArb = fc.tuple(fc.constantFrom(...LABELS), fc.constantFrom('', ...LABELS.map((l) => `${l}.`)), fc.constantFrom(...ZONES)).map(([l, m, z]) => `${l}.${m}${z}`);
const patternArb = fc.oneof({ weight: 3, arbitrary: nameArb }, { weight: 2, arbitrary: fc.constantFrom(...ZONES).map((z) => `*.${z}`) }, { weight: 1, arbitrary: fc.constantFrom(...ZONES) });

type RouteSpec = { readonly kind: 'sni'; readonly names: readonly string[] } | { readonly kind: 'other'; readonly when: string };

const otherArb: fc.Arbitrary<RouteSpec> = fc
  .constantFrom(
    '{ tls: { sni: "~^api\\\\." } }',
    '{ tls: { sni: "~\\\\.example\\\\.com$" } }',
    '{ protocol: tls }',
    '{ tls: { alpn: [h2] } }',
    '{ tls: { sni: [a.example.com], alpn: [http/1.1] } }',
    '{ protocol: http }',
    '{ protocol: ssh }',
    '{ bytes: { prefix: "1603" } }',
    '{ silent: 2s }',
    '{ not: { protocol: tls } }',
  )
  .map((when) => ({ kind: 'other', when }));

const routesArb: fc.Arbitrary<RouteSpec[]> = fc.array(
  fc.oneof({ weight: 9, arbitrary: fc.array(patternArb, { minLength: 1, maxLength: 4 }).map((names): RouteSpec => ({ kind: 'sni', names })) }, { weight: 1, arbitrary: otherArb }),
  { minLength: 0, maxLength: 60 },
);

function rulesOf(specs: readonly RouteSpec[]) {
  const lines = specs.map((s, i) => `  - { name: r${i}, when: ${s.kind === 'sni' ? `{ tls: { sni: [${s.names.map((n) => JSON.stringify(n)).join(', ')}] } }` : s.when}, to: b${i % 3} }`);
  const text = `listeners: ["127.0.0.1:0"]\nbackends:\n  b0: { servers: ["127.0.0.1:1"] }\n  b1: { servers: ["127.0.0.1:2"] }\n  b2: { servers: ["127.0.0.1:3"] }\n${lines.length > 0 ? `routes:\n${lines.join('\n')}\n` : ''}default: b0\n`;
  const r = compileRulesText(text, 'p.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

function tables(specs: readonly RouteSpec[]): { indexed: RouteTable; plain: RouteTable } {
  const rules = rulesOf(specs);
  return { indexed: new RouteTable(rules), plain: new RouteTable(rules, 'tcp', { indexed: false }) };
}

const inputArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ sni: fc.option(fc.oneof(nameArb, fc.constantFrom('example.com', 'nomatch.test', 'A.EXAMPLE.COM')), { nil: undefined }), alpn: fc.option(fc.constantFrom(['h2'], ['http/1.1'], ['h2', 'http/1.1']), { nil: undefined }), cut: fc.option(fc.nat(400), { nil: undefined }) }).map(({ sni, alpn, cut }) => {
    const hello = buildClientHello({ ...(sni !== undefined ? { sni } : {}), ...(alpn !== undefined ? { alpn } : {}) });
    return cut === undefined || cut >= hello.length ? hello : hello.subarray(0, cut);
  }) },
  { weight: 1, arbitrary: fc.constant(Buffer.from('GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
);

function ctxOf(bytes: Buffer, final: boolean, elapsedMs: number): MatchContext {
  const facts = new Facts(16384);
  facts.update(bytes);
  return { bytes, final, elapsedMs, srcAddress: '192.0.2.1', srcPort: 1, localAddress: '127.0.0.1', localPort: 443, facts };
}

const show = (d: Decision): string => (d.kind === 'wait' ? 'wait' : `route ${d.route?.name ?? '(default)'} -> ${d.backend ?? '-'}`);

describe('the shadowed-route check finds what a scan of every earlier route finds', () => {
  it('random rule sets: the same warnings, naming the same earlier route', () => {
    check(
      fc.property(routesArb, (specs) => {
        const rules = rulesOf(specs);
        const routes = rules.routes;
        // The reference: every earlier route, in order.
        const expected = routes.flatMap((later, j) => {
          const e = routes.slice(0, j).find((x) => routeTransport(x, rules.backends) === routeTransport(later, rules.backends) && implies(effectiveCondition(later), effectiveCondition(x)));
          return e === undefined ? [] : [`${later.name} <- ${e.name}`];
        });
        const got = shadowedRouteWarnings(routes, rules.backends).map((w) => /route "(\w+)" is never taken: the earlier route "(\w+)"/.exec(w.message)!).map((m) => `${m[1]} <- ${m[2]}`);
        assert.deepEqual(got, expected);
      }),
      0x5ad0,
      300,
    );
  });
});

describe('the indexed router decides as the ordered scan does', () => {
  it('random rule sets and first flights: same decision, same need-more, and the trace agrees', () => {
    check(
      fc.property(routesArb, inputArb, fc.boolean(), fc.constantFrom(0, 2500), (specs, bytes, final, elapsedMs) => {
        const { indexed, plain } = tables(specs);
        const a = indexed.decide(ctxOf(bytes, final, elapsedMs));
        const b = plain.decide(ctxOf(bytes, final, elapsedMs));
        assert.equal(show(a), show(b));
        const trace: TraceStep[] = [];
        const c = indexed.decide(ctxOf(bytes, final, elapsedMs), trace);
        assert.equal(show(c), show(b));
        const last = trace[trace.length - 1];
        if (a.kind === 'route' && a.route !== undefined) assert.deepEqual(last, { route: a.route.name, verdict: 'match' });
      }),
      0x51d1,
      300,
    );
  });

  it('a long run is really indexed: the last of 5,000 SNI routes costs a lookup, not 5,000 matcher calls', () => {
    const specs: RouteSpec[] = Array.from({ length: 5000 }, (_, i) => ({ kind: 'sni', names: [`t${i}.example.com`] }));
    const { indexed, plain } = tables(specs);
    const bytes = buildClientHello({ sni: 't4999.example.com' });
    const ctx = ctxOf(bytes, false, 0);
    assert.equal(show(indexed.decide(ctx)), 'route r4999 -> b1');
    assert.equal(show(plain.decide(ctx)), 'route r4999 -> b1');
    // Counted, not timed: how many route matchers one decision runs.
    let calls = 0;
    for (const r of indexed.routes) {
      const m = r.match;
      (r as { match: typeof m }).match = (c) => (calls++, m(c));
    }
    assert.equal(show(indexed.decide(ctx)), 'route r4999 -> b1');
    assert.ok(calls <= 2, `${calls} matcher calls for the last route of the run`);
    calls = 0;
    assert.equal(show(indexed.decide(ctxOf(buildClientHello({ sni: 'nomatch.test' }), false, 0))), 'route (default) -> b0');
    assert.ok(calls <= 2, `${calls} matcher calls for a name no route has`);
  });
});
