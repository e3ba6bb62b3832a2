/**
 * Warnings for rules that can never act: a backend nothing sends to, and a route an earlier
 * route shadows entirely. The shadow warning is sound: every case warned about is checked
 * against the router on real inputs, and routes that only overlap are not warned about.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';
import { Facts } from '../../src/inspect/facts.js';
import { RouteTable } from '../../src/router/route-table.js';
import { buildClientHello } from '../helpers/tls-hello-builder.js';

function rules(text: string): RulesConfig {
  const r = compileRulesText(text, 'x.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

const warnings = (text: string): string[] => rules(text).warnings.map((w) => `${w.line}:${w.col} ${w.message}`);

describe('a backend no route uses', () => {
  const head = 'listeners: ["127.0.0.1:0"]\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\n  old: { servers: ["127.0.0.1:2"], health: { interval: 5s } }\n';

  it('is a warning at its name', () => {
    const w = warnings(`${head}routes:\n  - { name: r, when: { protocol: tls }, to: web }\n`);
    assert.equal(w.length, 1, w.join('\n'));
    assert.match(w[0]!, /^4:3 backend "old" is not used: no route sends to it .* \(its health checks run all the same\)/);
  });

  it('is not one when default:, udp.default or sni_forward.fallback names it', () => {
    assert.deepEqual(warnings(`${head}routes:\n  - { name: r, when: { protocol: tls }, to: web }\ndefault: old\n`), []);
    assert.deepEqual(warnings(`${head}routes:\n  - { name: r, sni_forward: { hosts: [example.com], fallback: old } }\ndefault: web\n`), []);
    const udp = 'listeners: ["127.0.0.1:0", { bind: "127.0.0.1:0", transport: udp }]\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\n  dns: { transport: udp, servers: ["127.0.0.1:53"] }\ndefault: web\nudp: { default: dns }\n';
    assert.deepEqual(warnings(udp), []);
  });
});

const BACKENDS = 'listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\n  b: { servers: ["127.0.0.1:2"] }\n  q: { transport: udp, servers: ["127.0.0.1:3"] }\ndefault: b\nudp: { default: q }\n';

/** Two routes, `first` to a, `second` to b (each a `when:` mapping, or a whole route body after `- name: ...`). */
function pair(first: string, second: string, secondTo = 'to: b'): string {
  return `${BACKENDS}routes:\n  - name: first\n    when: ${first}\n    to: a\n  - name: second\n    when: ${second}\n    ${secondTo}\n`;
}

const shadowWarnings = (text: string): string[] => warnings(text).filter((w) => w.includes('is never taken'));

function decide(t: RouteTable, bytes: Uint8Array, src = '192.0.2.1'): string {
  const facts = new Facts(16384);
  facts.update(bytes);
  const d = t.decide({ bytes, final: true, elapsedMs: 0, srcAddress: src, srcPort: 40000, localAddress: '127.0.0.1', localPort: 443, facts });
  return d.kind === 'wait' ? 'wait' : (d.route?.name ?? 'default');
}

describe('a route an earlier route shadows entirely', () => {
  const shadowed: [string, string, string][] = [
    ['an earlier catch-all', '{}', '{ protocol: tls }'],
    ['identical conditions', '{ tls: { sni: [a.example.com] } }', '{ tls: { sni: [a.example.com] } }'],
    ['*.example.com covers a.example.com and *.b.example.com', '{ tls: { sni: ["*.example.com"] } }', '{ tls: { sni: [a.example.com, "*.b.example.com"] } }'],
    ['a regex that matches the later exact name', '{ tls: { sni: ["~^[a-z]+\\\\.example\\\\.com$"] } }', '{ tls: { sni: [a.example.com] } }'],
    ['a protocol list that includes the later one', '{ protocol: [tls, http] }', '{ protocol: http }'],
    ['fewer conditions: protocol tls before tls with sni and alpn', '{ protocol: tls }', '{ tls: { sni: [a.example.com], alpn: [h2] } }'],
    ['a wider src range', '{ src: ["10.0.0.0/8"] }', '{ src: ["10.1.0.0/16", "10.2.3.4"], protocol: ssh }'],
    ['a shorter byte prefix', '{ bytes: { prefix: "16 03" } }', '{ bytes: { prefix: "16 03 01" } }'],
    ['a wider port range', '{ local_port: ["400-500"] }', '{ local_port: [443] }'],
    ['an any-of earlier, each later alternative inside it', '{ any: [{ protocol: ssh }, { protocol: tls }] }', '{ any: [{ protocol: tls }, { tls: { alpn: [h2] } }] }'],
  ];
  for (const [why, first, second] of shadowed) {
    it(`warns: ${why}`, () => {
      const w = shadowWarnings(pair(first, second));
      assert.equal(w.length, 1, `no warning for ${first} then ${second}`);
      assert.match(w[0]!, /^12:5 route "second" is never taken: the earlier route "first" \(x\.yaml:9:5\) comes first/);
    });
  }

  it('names a catch-all as such', () => {
    assert.match(shadowWarnings(pair('{}', '{ protocol: ssh }'))[0]!, /it has no conditions \(a catch-all\)/);
  });

  it('the router agrees: the warned route is never chosen for inputs it matches', () => {
    const cases: [string, string, Uint8Array, string?][] = [
      ['{ tls: { sni: ["*.example.com"] } }', '{ tls: { sni: [a.example.com] } }', buildClientHello({ sni: 'a.example.com' })],
      ['{ protocol: tls }', '{ tls: { sni: [a.example.com], alpn: [h2] } }', buildClientHello({ sni: 'a.example.com', alpn: ['h2'] })],
      ['{ src: ["10.0.0.0/8"] }', '{ src: ["10.1.0.0/16"], protocol: ssh }', Buffer.from('SSH-2.0-x\r\n'), '10.1.2.3'],
      ['{ bytes: { prefix: "16 03" } }', '{ bytes: { prefix: "16 03 01" } }', Buffer.from([0x16, 0x03, 0x01, 0x00])],
    ];
    for (const [first, second, bytes, src] of cases) {
      const text = pair(first, second);
      assert.equal(shadowWarnings(text).length, 1);
      const alone = rules(pair('{ protocol: socks5 }', second));
      assert.equal(decide(new RouteTable(alone), bytes, src), 'second', `the input matches "${second}"`);
      assert.equal(decide(new RouteTable(rules(text)), bytes, src), 'first');
    }
  });

  const notShadowed: [string, string, string, string?][] = [
    ['overlapping names only', '{ tls: { sni: [a.example.com] } }', '{ tls: { sni: [a.example.com, b.example.com] } }'],
    ['*.example.com does not cover example.com', '{ tls: { sni: ["*.example.com"] } }', '{ tls: { sni: [example.com] } }'],
    ['a regex does not cover another regex', '{ tls: { sni: ["~example"] } }', '{ tls: { sni: ["~^a\\\\.example$"] } }'],
    ['a narrower src range first', '{ src: ["10.1.0.0/16"] }', '{ src: ["10.0.0.0/8"] }'],
    ['not: is only compared with itself', '{ not: { protocol: ssh } }', '{ protocol: tls }'],
    ['other transports', '{}', '{ protocol: quic }', 'to: q'],
    // connect: also waits for a complete request head; a route after it can take a CONNECT whose head never completes.
    ['a connect: route waits for more than its conditions', '{ http: { method: CONNECT } }', '{ http: { method: CONNECT } }'],
    // An exact text pattern compares lowercased, a regex the text as sent: ALICE matches the first, not the second.
    ['text: a regex does not cover an exact name', '{ postgres: { user: ["~^alice$"] } }', '{ postgres: { user: [alice] } }'],
  ];
  for (const [why, first, second, secondTo] of notShadowed) {
    it(`does not warn: ${why}`, () => {
      const text = why.startsWith('a connect:')
        ? `${BACKENDS}routes:\n  - name: first\n    when: ${first}\n    connect: { ports: [443] }\n  - name: second\n    when: ${second}\n    to: b\n`
        : pair(first, second, secondTo);
      assert.deepEqual(shadowWarnings(text), []);
    });
  }
});
