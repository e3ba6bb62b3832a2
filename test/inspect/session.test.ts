/**
 * The inspection session without sockets or timers: a fake clock (`now`, in ms) and the answers
 * a driver acts on. Real first messages give the same decision whole, split at every offset and
 * byte by byte; the timing rules (silence, deadlines, catch-up) are checked at exact times.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InboundProxyConfig } from '../../src/config/types.js';
import { compileRulesText } from '../../src/config/load.js';
import { InspectionSession, type SessionStep } from '../../src/inspect/session.js';
import type { ParserKey } from '../../src/protocols/table.js';
import { encodeProxyV2, proxyAddresses } from '../../src/protocols/proxy/header.js';
import { RouteTable, type TraceStep } from '../../src/router/route-table.js';
import { signatureGuard } from '../../src/proxy/handoff.js';
import { deliveries } from '../helpers/feed.js';
import { FIRST_MESSAGES } from '../helpers/first-messages.js';
import { dnsQuery } from '../helpers/dns-builder.js';
import { clientInitialDatagrams, handshakeOfRecord } from '../helpers/quic-initial-builder.js';
import { readFileSync } from 'node:fs';

interface Rules {
  readonly table: RouteTable;
  readonly inspect: { readonly maxBytes: number; readonly timeoutMs: number };
}

function rules(routes: string, extra = ''): Rules {
  const r = compileRulesText(`listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\n  b: { servers: ["127.0.0.1:2"] }\nroutes:\n${routes}\ndefault: b\n${extra}`, 't.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return { table: new RouteTable(r.rules), inspect: r.rules.inspect };
}

const proxy = (accept: InboundProxyConfig['accept'], timeoutMs = 3000): InboundProxyConfig => ({ accept, trusted: [], timeoutMs, maxBytes: 4096 });

function session(r: Rules, o: { proxy?: InboundProxyConfig; trusted?: boolean; onDecided?: (t: readonly TraceStep[]) => void } = {}): InspectionSession {
  return new InspectionSession(
    {
      table: r.table,
      inspect: r.inspect,
      proxy: o.proxy ?? proxy('off'),
      peerTrusted: o.trusted ?? false,
      peer: { address: '127.0.0.1', port: 40000 },
      local: { address: '127.0.0.1', port: 443 },
      ...(o.onDecided ? { onDecided: o.onDecided } : {}),
    },
    0,
  );
}

/** What a driver saw: the last answer, when it came, and the headers it admitted on. */
interface Run {
  readonly step: SessionStep;
  readonly at: number;
  readonly admissions: number;
}

/**
 * Drives `s` like the TCP driver, on a fake clock: each chunk at its time (deadlines due before
 * it are ticked first), then `end` if asked, then the clock jumps from deadline to deadline.
 */
function drive(s: InspectionSession, chunks: readonly { at: number; bytes: Uint8Array }[], o: { end?: number } = {}): Run {
  let now = 0;
  let admissions = 0;
  const settle = (step: SessionStep): SessionStep => {
    while (step.kind === 'header') {
      admissions++;
      step = s.admitted(now);
    }
    return step;
  };
  const until = (t: number, step: SessionStep): SessionStep => {
    while (step.kind === 'wait' && step.deadline <= t) {
      now = Math.max(now, step.deadline);
      step = settle(s.tick(now));
    }
    if (step.kind === 'wait') now = Math.max(now, t);
    return step;
  };
  let step = settle(s.start());
  for (const c of chunks) {
    step = until(c.at, step);
    if (step.kind !== 'wait') return { step, at: now, admissions };
    step = settle(s.feed(Buffer.from(c.bytes), now));
  }
  if (o.end !== undefined) {
    step = until(o.end, step);
    if (step.kind === 'wait') step = settle(s.end(now));
  }
  step = until(Infinity, step);
  return { step, at: now, admissions };
}

const at0 = (chunks: readonly Uint8Array[]): { at: number; bytes: Uint8Array }[] => chunks.map((bytes) => ({ at: 0, bytes }));
const routeOf = (st: SessionStep): string => (st.kind === 'route' ? st.routeName ?? 'none' : st.kind === 'refuse' ? st.code : st.kind);

const PROTOCOL_ROUTES = rules(
  (['tls', 'http2', 'http', 'ssh', 'socks', 'openvpn', 'xmpp', 'rdp', 'postgres', 'mqtt', 'adb', 'tinc', 'syslog'] as const)
    .map((p) => `  - name: ${p}\n    when: { protocol: ${p} }\n    to: a`)
    .join('\n'),
);

describe('InspectionSession: real first messages', () => {
  for (const [key, messages] of Object.entries(FIRST_MESSAGES) as [ParserKey, readonly Buffer[]][]) {
    it(`${key}: the same route whole, split at every offset and byte by byte`, () => {
      for (const m of messages) {
        for (const { name, chunks } of deliveries(m)) {
          const r = drive(session(PROTOCOL_ROUTES), at0(chunks));
          assert.equal(r.step.kind, 'route', `${key} ${name}`);
          assert.equal(routeOf(r.step), key, `${key} ${name}`);
          if (r.step.kind === 'route') assert.equal(r.step.peeked <= m.length, true);

        }
      }
    });
  }

  it('the trace is the deciding evaluation\'s, told once', () => {
    const traces: string[] = [];
    const hello = FIRST_MESSAGES.ssh![0]!;
    drive(session(PROTOCOL_ROUTES, { onDecided: (t) => traces.push(t.map((x) => `${x.route}:${x.verdict}`).join(' ')) }), at0([...hello].map((b) => Uint8Array.of(b))));
    assert.equal(traces.length, 1);
    assert.match(traces[0]!, /^tls:no-match http2:no-match http:no-match ssh:match$/);
  });
});

describe('InspectionSession: time', () => {
  const SILENT = rules('  - name: smtp\n    when: { silent: 200ms }\n    to: a', 'inspect: { timeout: 5s }');

  it('silent: 200ms fires at 200 with no bytes, nothing peeked', () => {
    const s = session(SILENT);
    const first = s.start();
    assert.equal(first.kind, 'header');
    const w = s.admitted(0);
    assert.deepEqual({ ...w }, { kind: 'wait', deadline: 200 });
    const r = drive(session(SILENT), []);
    assert.equal(routeOf(r.step), 'smtp');
    assert.equal(r.at, 200);
    assert.equal(r.step.kind === 'route' && r.step.peeked, 0);
  });

  it('a byte before the silence cancels it: the silent route is ruled out at once', () => {
    const r = drive(session(SILENT), [{ at: 150, bytes: Buffer.from('E') }]);
    assert.equal(routeOf(r.step), 'default');
    assert.equal(r.at, 150);
    // With a route still waiting for more bytes, no silence fires at 200: the inspect deadline decides.
    const two = rules('  - name: smtp\n    when: { silent: 200ms }\n    to: a\n  - name: ssh\n    when: { protocol: ssh }\n    to: a', 'inspect: { timeout: 5s }');
    const s = session(two);
    s.start();
    s.admitted(0);
    const w = s.feed(Buffer.from('SSH-'), 150);
    assert.equal(w.kind === 'wait' && w.deadline, 5000);
    assert.equal(routeOf(drive(session(two), [{ at: 150, bytes: Buffer.from('SSH-') }]).step), 'default');
  });

  it('a timer that fires early gets the same deadline back, and nothing is decided before it', () => {
    const s = session(SILENT);
    s.start();
    s.admitted(0);
    const early = s.tick(199.6);
    assert.deepEqual({ ...early }, { kind: 'wait', deadline: 200 });
    assert.equal(routeOf(s.tick(200)), 'smtp');
  });

  it('the inspect deadline decides over what came: need-more becomes no-match', () => {
    const r = drive(session(PROTOCOL_ROUTES), [{ at: 10, bytes: Buffer.from('SSH-2.0-') }]);
    assert.equal(routeOf(r.step), 'default');
    assert.equal(r.at, PROTOCOL_ROUTES.inspect.timeoutMs);
  });

  it('the max_bytes cap decides at once', () => {
    const r = rules('  - name: re\n    when: { bytes: { regex: "needle" } }\n    to: a', 'inspect: { max_bytes: 1024 }');
    const run = drive(session(r), [{ at: 0, bytes: Buffer.alloc(100, 0x41) }, { at: 5, bytes: Buffer.alloc(924, 0x41) }]);
    assert.equal(routeOf(run.step), 'default');
    assert.equal(run.at, 5);
    assert.equal(run.step.kind === 'route' && run.step.peeked, 1024);
  });

  it('bytes.regex catch-up: a deferred pass runs 10 ms * 2^k after the client pauses', () => {
    const r = rules('  - name: re\n    when: { bytes: { regex: "needle" } }\n    to: a', 'inspect: { timeout: 10s }');
    const s = session(r);
    s.start();
    s.admitted(0);
    // 64 bytes, then 4 more: under an eighth of growth, so the regex pass is put off.
    assert.equal(s.feed(Buffer.alloc(64, 0x2e), 0).kind, 'wait');
    const w = s.feed(Buffer.from('need'), 1);
    assert.equal(w.kind === 'wait' && w.deadline, 11);
    const w2 = s.feed(Buffer.from('le'), 3);
    // Pushed back by each evaluation that still defers.
    assert.equal(w2.kind === 'wait' && w2.deadline, 13);
    assert.equal(routeOf(s.tick(13)), 're');
    // The k-th catch-up waits 10 ms * 2^k.
    const s2 = session(r);
    s2.start();
    s2.admitted(0);
    s2.feed(Buffer.alloc(64, 0x2e), 0);
    s2.feed(Buffer.from('x'), 0);
    assert.equal(s2.tick(10).kind, 'wait');
    const w3 = s2.feed(Buffer.from('y'), 20);
    assert.equal(w3.kind === 'wait' && w3.deadline, 40);
  });
});

const V1 = Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 51000 8443\r\n');
const GET = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
const V2 = ((): Buffer => {
  const e = encodeProxyV2(proxyAddresses({ address: '2001:db8::7', port: 4000 }, { address: '2001:db8::1', port: 443 }));
  assert.ok(e.ok);
  return e.header;
})();
const HTTP = rules('  - name: http\n    when: { protocol: http }\n    to: a');

describe('InspectionSession: inbound PROXY', () => {
  for (const [name, header, src] of [['v1', V1, '192.0.2.10'], ['v2', V2, '2001:db8::7']] as const) {
    it(`a trusted ${name} header is honoured in every delivery: the client address changes, the data behind it is routed`, () => {
      const wire = Buffer.concat([header, GET]);
      for (const accept of ['optional', 'required'] as const) {
        for (const { name: how, chunks } of deliveries(wire)) {
          const s = session(HTTP, { proxy: proxy(accept), trusted: true });
          const r = drive(s, at0(chunks));
          assert.equal(routeOf(r.step), 'http', `${accept} ${how}`);
          assert.equal(r.admissions, 1);
          assert.equal(s.srcAddress, src);
          assert.equal(s.inbound?.version, name === 'v1' ? 1 : 2);
          assert.deepEqual(Buffer.from(s.bytes), GET);
          assert.equal(r.step.kind === 'route' && r.step.peeked, GET.length);
        }
      }
    });
  }

  it('untrusted peers: a header is refused; required refuses even without one; optional routes plain data', () => {
    assert.equal(routeOf(drive(session(HTTP, { proxy: proxy('optional') }), at0([V1, GET])).step), 'PORTPLEX_ERR_PROXY_UNTRUSTED');
    assert.equal(routeOf(drive(session(HTTP, { proxy: proxy('required') }), at0([GET])).step), 'PORTPLEX_ERR_PROXY_UNTRUSTED');
    const plain = drive(session(HTTP, { proxy: proxy('optional') }), at0([GET]));
    assert.equal(routeOf(plain.step), 'http');
    assert.equal(plain.admissions, 1);
  });

  it('accept off: a PROXY header in the data is refused (NOT_ACCEPTED), in every delivery', () => {
    for (const { name, chunks } of deliveries(Buffer.concat([V1, GET]))) {
      const r = drive(session(HTTP), at0(chunks));
      assert.equal(r.step.kind, 'refuse', name);
      if (r.step.kind === 'refuse') {
        assert.equal(r.step.code, 'PORTPLEX_ERR_PROXY_NOT_ACCEPTED');
        assert.equal(r.step.reason, 'proxy-refused');
      }
    }
  });

  it('a second header after the load balancer\'s is refused as PROXY_IN_DATA', () => {
    for (const second of [V1, V2]) {
      for (const { name, chunks } of deliveries(Buffer.concat([V1, second, GET]))) {
        const s = session(HTTP, { proxy: proxy('required'), trusted: true });
        const r = drive(s, at0(chunks));
        if (r.step.kind === 'route') {
          // Routed before the bytes behind the header could rule a signature out: the handover's
          // guard sees them before any reaches a backend, and refuses the same way.
          assert.equal(r.step.signatureUndecided, true, name);
          const guard = signatureGuard(Buffer.from(s.bytes), s.inbound !== undefined);
          const v = guard.check(Buffer.concat([second, GET]));
          assert.ok(typeof v === 'object', name);
          assert.match(v.refuse, /^PORTPLEX_ERR_PROXY_IN_DATA: /, name);
        } else assert.equal(routeOf(r.step), 'PORTPLEX_ERR_PROXY_IN_DATA', name);
      }
    }
  });

  it('a route that needs no bytes, decided behind a header: the handover is told the signature is undecided', () => {
    const r = drive(session(rules('  - name: any\n    to: a'), { proxy: proxy('required'), trusted: true }), at0([V1]));
    assert.equal(r.step.kind, 'route');
    assert.equal(r.step.kind === 'route' && r.step.signatureUndecided, true);
  });

  it('the PROXY header deadline (proxy_protocol timeout): required refuses, optional routes without a header', () => {
    const req = drive(session(HTTP, { proxy: proxy('required', 300), trusted: true }), []);
    assert.equal(routeOf(req.step), 'PORTPLEX_ERR_PROXY_REQUIRED');
    assert.equal(req.at, 300);
    const opt = drive(session(HTTP, { proxy: proxy('optional', 300), trusted: true }), []);
    // No header by 300 ms: then the inspect deadline runs from there.
    assert.equal(routeOf(opt.step), 'default');
    assert.equal(opt.at, 300 + HTTP.inspect.timeoutMs);
    const half = drive(session(HTTP, { proxy: proxy('optional', 300), trusted: true }), [{ at: 0, bytes: V1.subarray(0, 20) }]);
    assert.equal(routeOf(half.step), 'PORTPLEX_ERR_PROXY_INVALID');
    assert.equal(half.at, 300);
  });

  it('EOF mid-signature: broken header from a trusted peer, plain data otherwise', () => {
    const trusted = drive(session(HTTP, { proxy: proxy('optional'), trusted: true }), at0([Buffer.from('PRO')]), { end: 0 });
    assert.equal(routeOf(trusted.step), 'PORTPLEX_ERR_PROXY_INVALID');
    const off = drive(session(HTTP), at0([Buffer.from('PRO')]), { end: 0 });
    assert.equal(routeOf(off.step), 'default');
    assert.equal(off.step.kind === 'route' && off.step.signatureUndecided, false);
  });

  it('a silent client behind a load balancer: silence counts from the accept', () => {
    const SILENT = rules('  - name: smtp\n    when: { silent: 200ms }\n    to: a');
    const r = drive(session(SILENT, { proxy: proxy('optional'), trusted: true }), []);
    assert.equal(routeOf(r.step), 'smtp');
    assert.equal(r.at, 200);
    assert.equal(r.admissions, 1);
    // A header at 100 ms, then nothing: the silence runs from the header.
    const after = drive(session(SILENT, { proxy: proxy('optional'), trusted: true }), [{ at: 100, bytes: V1 }]);
    assert.equal(routeOf(after.step), 'smtp');
    assert.equal(after.at, 300);
  });
});

/** A UDP listener's routes, and the session a flow drives over them (datagram mode), started at 0. */
interface UdpRules extends Rules {
  readonly inspectDatagrams: number;
}

function udpRules(routes: string, extra = ''): UdpRules {
  const r = compileRulesText(
    `listeners: [{ bind: "127.0.0.1:0", transport: udp }]\nbackends:\n  u: { transport: udp, servers: ["127.0.0.1:1"] }\n` +
      `routes:\n${routes}\nudp:\n  default: u\n${extra}`,
    't.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return { table: new RouteTable(r.rules, 'udp'), inspect: r.rules.inspect, inspectDatagrams: r.rules.udp.inspectDatagrams };
}

function flowSession(r: UdpRules, src = '192.0.2.1'): InspectionSession {
  const local = { address: '127.0.0.1', port: 443 };
  return new InspectionSession({ table: r.table, inspect: r.inspect, inspectDatagrams: r.inspectDatagrams, peer: { address: src, port: 5000 }, local }, 0);
}

const CHROMIUM_HELLO = handshakeOfRecord(readFileSync(new URL('../../../test/fixtures/chromium-156-pq-clienthello.bin', import.meta.url)));
/** The Chromium ClientHello in client Initial datagrams of 1200 bytes, a new one at each cut. */
const QUIC_CONN = { version: 1, dcid: Buffer.from('0011223344556677', 'hex'), scid: Buffer.alloc(0) };
const initials = (cuts: readonly number[]): Buffer[] => clientInitialDatagrams(QUIC_CONN, CHROMIUM_HELLO, { cuts });
const H3 = '  - { name: h3, when: { tls: { sni: a.test, alpn: [h2] } }, to: u }';
const sum = (ds: readonly Buffer[]): number => ds.reduce((n, d) => n + d.length, 0);

describe('InspectionSession: datagram mode (a UDP flow)', () => {
  it('starts inspecting at once: no header stage, the inspect deadline from the first datagram', () => {
    const r = udpRules(H3, '  inspect_datagrams: 8\ninspect: { timeout: 2s }');
    assert.deepEqual({ ...flowSession(r).start() }, { kind: 'wait', deadline: 2000 });
  });

  it('a QUIC Initial split over two datagrams waits on the first, decides on the second', () => {
    const ds = initials([700]);
    assert.equal(ds.length, 2);
    const s = flowSession(udpRules(H3));
    const first = s.feed(ds[0]!, 5);
    assert.equal(first.kind, 'wait');
    assert.equal(s.final, false);
    assert.equal(s.bytes, ds[0], 'the bytes conditions read the first datagram');
    const second = s.feed(ds[1]!, 12);
    assert.equal(second.kind, 'route');
    if (second.kind !== 'route') return;
    assert.equal(second.routeName, 'h3');
    assert.equal(second.decideMs, 12);
    assert.equal(second.peeked, sum(ds));
    assert.equal(second.signatureUndecided, false);
    assert.equal(s.elapsedMs, 12);
    assert.equal(s.facts.known('tls')?.sni, 'a.test');
    // Decided: later datagrams are the relay's, not the session's.
    assert.deepEqual({ ...s.feed(ds[0]!, 13) }, { kind: 'wait', deadline: Infinity });
    s.release();
    assert.equal(s.bytes.length, 0);
    assert.equal(s.peekedLength, 0);
  });

  it('final at udp.inspect_datagrams datagrams: an unfinished hello then matches nothing', () => {
    const ds = initials([400, 800]);
    assert.equal(ds.length, 3);
    const capped = flowSession(udpRules(H3, '  inspect_datagrams: 2'));
    assert.equal(capped.feed(ds[0]!, 1).kind, 'wait');
    const r = capped.feed(ds[1]!, 2);
    assert.equal(capped.final, true);
    assert.equal(routeOf(r), 'default');
    assert.equal(r.kind === 'route' && r.peeked, sum(ds.slice(0, 2)));
    // One more datagram allowed: the third completes the hello.
    const roomy = flowSession(udpRules(H3, '  inspect_datagrams: 3'));
    assert.equal(roomy.feed(ds[0]!, 1).kind, 'wait');
    assert.equal(roomy.feed(ds[1]!, 2).kind, 'wait');
    assert.equal(roomy.final, false);
    assert.equal(routeOf(roomy.feed(ds[2]!, 3)), 'h3');
  });

  it('final once inspect.max_bytes bytes are held, however many datagrams that is', () => {
    const ds = initials([400, 800]);
    const s = flowSession(udpRules(H3, '  inspect_datagrams: 8\ninspect: { max_bytes: 2400 }'));
    assert.equal(s.feed(ds[0]!, 1).kind, 'wait');
    assert.equal(s.final, false);
    const r = s.feed(ds[1]!, 2);
    assert.equal(sum(ds.slice(0, 2)) >= 2400, true);
    assert.equal(s.final, true);
    assert.equal(routeOf(r), 'default');
  });

  it('at the inspect deadline the held datagrams are judged final; an early timer is told the same deadline', () => {
    const ds = initials([700]);
    const s = flowSession(udpRules(H3, 'inspect: { timeout: 1s }'));
    assert.deepEqual({ ...s.feed(ds[0]!, 0) }, { kind: 'wait', deadline: 1000 });
    assert.deepEqual({ ...s.tick(999.5) }, { kind: 'wait', deadline: 1000 });
    assert.equal(s.final, false);
    const r = s.tick(1000);
    assert.equal(s.final, true);
    assert.equal(routeOf(r), 'default');
    assert.equal(r.kind === 'route' && r.decideMs, 1000);
    assert.equal(r.kind === 'route' && r.peeked, ds[0]!.length);
  });

  it('a DNS query or a WireGuard initiation decides on its first datagram', () => {
    const r = udpRules(['  - { name: dns, when: { protocol: dns }, to: u }', '  - { name: wg, when: { protocol: wireguard }, to: u }'].join('\n'));
    const query = dnsQuery();
    const dns = flowSession(r);
    const a = dns.feed(query, 3);
    assert.equal(routeOf(a), 'dns');
    assert.equal(a.kind === 'route' && a.peeked, query.length);
    assert.notEqual(dns.facts.known('dns'), undefined);
    const wireguard = Buffer.alloc(148, 0x33);
    wireguard.writeUInt32LE(1, 0);
    assert.equal(routeOf(flowSession(r).feed(wireguard, 0)), 'wg');
    assert.equal(routeOf(flowSession(r).feed(Buffer.alloc(148, 0xc3), 0)), 'default');
  });

  it('replay: the datagrams of a decision, judged for another client address, all at once and final', () => {
    const ds = initials([700]);
    const r = udpRules(['  - { name: inside, when: { src: ["10.0.0.0/8"], tls: { sni: a.test } }, to: u }', H3].join('\n'), '  inspect_datagrams: 8');
    const original = flowSession(r, '10.1.2.3');
    original.feed(ds[0]!, 0);
    const decided = original.feed(ds[1]!, 40);
    assert.equal(routeOf(decided), 'inside');
    const same = flowSession(r, '10.9.9.9').replay(ds, 40);
    assert.equal(routeOf(same), 'inside');
    assert.equal(same.kind === 'route' && same.decideMs, 40);
    const elsewhere = flowSession(r, '192.0.2.7');
    assert.equal(routeOf(elsewhere.replay(ds, 40)), 'h3');
    assert.equal(elsewhere.final, true);
    // Only the first of a hello's datagrams, with nothing more to come: the hello never completes.
    assert.equal(routeOf(flowSession(r, '10.9.9.9').replay(ds.slice(0, 1), 40)), 'default');
  });
});
