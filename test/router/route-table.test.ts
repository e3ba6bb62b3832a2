/** Every condition's tri-state answers, and the ordering rule, without sockets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable, type TraceStep } from '../../src/router/route-table.js';
import { buildClientHello } from '../helpers/tls-hello-builder.js';

function table(routes: string, extra = ''): RouteTable {
  const r = compileRulesText(`listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\n  b: { servers: ["127.0.0.1:2"] }\nroutes:\n${routes}\n${extra}`, 't.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return new RouteTable(r.rules);
}

interface Opts {
  final?: boolean;
  elapsedMs?: number;
  src?: string;
  localPort?: number;
}

function ctx(bytes: Uint8Array, o: Opts = {}): MatchContext {
  const facts = new Facts(16384);
  facts.update(bytes);
  return { bytes, final: o.final ?? false, elapsedMs: o.elapsedMs ?? 0, srcAddress: o.src ?? '192.0.2.1', srcPort: 40000, localAddress: '127.0.0.1', localPort: o.localPort ?? 443, facts };
}

/** The route name chosen, 'wait', or 'default' (nothing matched). */
function decide(t: RouteTable, bytes: Uint8Array, o: Opts = {}): string {
  const d = t.decide(ctx(bytes, o));
  return d.kind === 'wait' ? 'wait' : d.route?.name ?? 'default';
}

const one = (when: string): RouteTable => table(`  - name: r\n    when: ${when}\n    to: a`, 'default: b');
const hello = (o: Parameters<typeof buildClientHello>[0]): Buffer => Buffer.from(buildClientHello(o));
const GET = Buffer.from('GET /x HTTP/1.1\r\nHost: Api.Example.com:8443\r\n\r\n');
const SSH = Buffer.from('SSH-2.0-OpenSSH_9.2p1\r\n');

describe('conditions', () => {
  it('protocol: tls / http / ssh, and a list of them', () => {
    const t = one('{ protocol: tls }');
    const h = hello({ sni: 'a.example' });
    assert.equal(decide(t, h), 'r');
    assert.equal(decide(t, h.subarray(0, 10)), 'wait');
    assert.equal(decide(t, h.subarray(0, 10), { final: true }), 'default');
    assert.equal(decide(t, GET), 'default');
    assert.equal(decide(one('{ protocol: http }'), GET), 'r');
    assert.equal(decide(one('{ protocol: http }'), GET.subarray(0, 20)), 'wait');
    assert.equal(decide(one('{ protocol: ssh }'), SSH), 'r');
    assert.equal(decide(one('{ protocol: ssh }'), h), 'default');
    assert.equal(decide(one('{ protocol: [ssh, http] }'), GET), 'r');
  });

  it('tls.sni: exact (case-insensitive), *.suffix, ~regex; no SNI never matches', () => {
    const t = one('{ tls: { sni: ["a.example", "*.b.example", "~^c[0-9]+\\\\.example$"] } }');
    assert.equal(decide(t, hello({ sni: 'A.EXAMPLE' })), 'r');
    assert.equal(decide(t, hello({ sni: 'x.y.b.example' })), 'r');
    assert.equal(decide(t, hello({ sni: 'b.example' })), 'default');
    assert.equal(decide(t, hello({ sni: 'c42.example' })), 'r');
    assert.equal(decide(t, hello({ sni: 'c42.example.evil' })), 'default');
    assert.equal(decide(t, hello({})), 'default');
  });

  it('tls.alpn: any offered protocol in the list', () => {
    const t = one('{ tls: { alpn: [acme-tls/1] } }');
    assert.equal(decide(t, hello({ sni: 'x.example', alpn: ['acme-tls/1'] })), 'r');
    assert.equal(decide(t, hello({ sni: 'x.example', alpn: ['h2', 'http/1.1'] })), 'default');
    assert.equal(decide(t, hello({ sni: 'x.example' })), 'default');
  });

  it('tls.version: the highest supported_versions entry, not the legacy version', () => {
    const t13 = one('{ tls: { version: "1.3" } }');
    const t12 = one('{ tls: { version: { max: "1.2" } } }');
    const modern = hello({ sni: 'x.example', versions: [0x0304, 0x0303] });
    const legacy = hello({ sni: 'x.example' });
    assert.equal(decide(t13, modern), 'r');
    assert.equal(decide(t12, modern), 'default');
    assert.equal(decide(t12, legacy), 'r');
    assert.equal(decide(one('{ tls: { version: "1.2..1.3" } }'), legacy), 'r');
  });

  it('tls.ech', () => {
    assert.equal(decide(one('{ tls: { ech: true } }'), hello({ sni: 'public.example', ech: true })), 'r');
    assert.equal(decide(one('{ tls: { ech: true } }'), hello({ sni: 'public.example' })), 'default');
  });

  it('http.method (case-sensitive) and http.host (port stripped, lowercased)', () => {
    assert.equal(decide(one('{ http: { method: [GET, HEAD] } }'), GET), 'r');
    assert.equal(decide(one('{ http: { method: CONNECT } }'), GET), 'default');
    assert.equal(decide(one('{ http: { method: CONNECT } }'), Buffer.from('CONNECT a.example:443 HTTP/1.1\r\n\r\n')), 'r');
    assert.equal(decide(one('{ http: { host: "*.example.com" } }'), GET), 'r');
    assert.equal(decide(one('{ http: { host: api.example.com } }'), GET), 'r');
    assert.equal(decide(one('{ http: { host: other.example.com } }'), GET), 'default');
  });

  it('bytes.length: waits below min, no-match above max', () => {
    const t = one('{ bytes: { length: "4..8" } }');
    assert.equal(decide(t, Buffer.from('ab')), 'wait');
    assert.equal(decide(t, Buffer.from('ab'), { final: true }), 'default');
    assert.equal(decide(t, Buffer.from('abcdef')), 'r');
    assert.equal(decide(t, Buffer.from('abcdefghij')), 'default');
  });

  it('bytes.prefix: decides at the first differing byte', () => {
    const t = one('{ bytes: { prefix: ["00 0e 38", "ffff"] } }');
    assert.equal(decide(t, Buffer.from([0x00])), 'wait');
    assert.equal(decide(t, Buffer.from([0x00, 0x0e, 0x38, 0x01])), 'r');
    assert.equal(decide(t, Buffer.from([0x00, 0x0f])), 'default');
    assert.equal(decide(t, Buffer.from([0xff, 0xff])), 'r');
  });

  it('bytes.regex: over the bytes read as latin1, waiting until it matches or nothing more comes', () => {
    const t = one('{ bytes: { regex: "^\\\\x00\\\\x00\\\\x00.\\\\xff" } }');
    assert.equal(decide(t, Buffer.from([0, 0])), 'wait');
    assert.equal(decide(t, Buffer.from([0, 0, 0, 7, 0xff])), 'r');
    assert.equal(decide(t, Buffer.from([0, 0, 1, 7, 0xff]), { final: true }), 'default');
  });

  it('src: IPv4 and IPv6 CIDRs', () => {
    const t = one('{ src: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] }');
    assert.equal(decide(t, GET, { src: '10.1.2.3' }), 'r');
    assert.equal(decide(t, GET, { src: '11.1.2.3' }), 'default');
    assert.equal(decide(t, GET, { src: '2001:db8::1' }), 'r');
    assert.equal(decide(t, GET, { src: '2001:db9::1' }), 'default');
    assert.equal(decide(t, GET, { src: '192.0.2.7' }), 'r');
    // src alone decides without any byte.
    assert.equal(decide(t, Buffer.alloc(0), { src: '10.0.0.1' }), 'r');
  });

  it('local_port: single ports and ranges', () => {
    const t = one('{ local_port: [443, "8000-8100"] }');
    assert.equal(decide(t, GET, { localPort: 443 }), 'r');
    assert.equal(decide(t, GET, { localPort: 8050 }), 'r');
    assert.equal(decide(t, GET, { localPort: 8443 }), 'default');
  });

  it('silent: matches once the client has said nothing for that long; any byte rules it out', () => {
    const t = one('{ silent: 300ms }');
    assert.equal(decide(t, Buffer.alloc(0), { elapsedMs: 100 }), 'wait');
    assert.equal(decide(t, Buffer.alloc(0), { elapsedMs: 300 }), 'r');
    assert.equal(decide(t, Buffer.from('x'), { elapsedMs: 400 }), 'default');
    assert.equal(decide(t, Buffer.alloc(0), { elapsedMs: 100, final: true }), 'default');
  });

  it('not / any / all keep need-more as need-more', () => {
    const n = one('{ not: { protocol: tls } }');
    assert.equal(decide(n, Buffer.from([0x16, 0x03])), 'wait');
    assert.equal(decide(n, GET), 'r');
    assert.equal(decide(n, hello({ sni: 'x.example' })), 'default');
    const any = one('{ any: [{ protocol: ssh }, { src: 10.0.0.0/8 }] }');
    assert.equal(decide(any, Buffer.alloc(0), { src: '10.0.0.1' }), 'r');
    assert.equal(decide(any, Buffer.alloc(0), { src: '11.0.0.1' }), 'wait');
    assert.equal(decide(any, SSH, { src: '11.0.0.1' }), 'r');
    const all = one('{ all: [{ protocol: tls }, { src: 10.0.0.0/8 }] }');
    assert.equal(decide(all, Buffer.from([0x16]), { src: '11.0.0.1' }), 'default');
    assert.equal(decide(all, Buffer.from([0x16]), { src: '10.0.0.1' }), 'wait');
  });
});

describe('ordering', () => {
  const t = table(`  - name: by-sni
    when: { tls: { sni: [a.example] } }
    to: a
  - name: first-byte
    when: { bytes: { prefix: "16" } }
    to: b`);

  it('a later route that already matches waits while an earlier one needs more', () => {
    const h = hello({ sni: 'b.example' });
    assert.equal(decide(t, h.subarray(0, 1)), 'wait');
    assert.equal(decide(t, h), 'first-byte');
    assert.equal(decide(t, hello({ sni: 'a.example' })), 'by-sni');
  });

  it('with final set, need-more counts as no-match and the trace says so', () => {
    const trace: TraceStep[] = [];
    const d = t.decide(ctx(Buffer.from([0x16, 0x03, 0x01]), { final: true }), trace);
    assert.equal(d.kind === 'route' ? d.route?.name : 'wait', 'first-byte');
    assert.deepEqual(trace, [
      { route: 'by-sni', verdict: 'no-match' },
      { route: 'first-byte', verdict: 'match' },
    ]);
  });

  it('no route and no default: a decision with no backend', () => {
    const d = t.decide(ctx(Buffer.from('zz')));
    assert.deepEqual(d.kind === 'route' ? [d.route, d.backend] : d.kind, [undefined, undefined]);
  });
});
