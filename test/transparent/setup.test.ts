/** The transparent-mode plan (`portplex transparent setup`) and the checks `run` makes, as pure functions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';
import { renderScript, setupPlan, type SetupPlan } from '../../src/transparent/setup.js';
import { hasNetAdmin, transparentRefusal } from '../../src/transparent/requirements.js';

const rulesOf = (backends: string, extra = ''): RulesConfig => {
  const r = compileRulesText(`${extra}listeners: ["127.0.0.1:8443"]\nbackends:\n${backends}\ndefault: a\n`, 'x.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.rules;
};
const local = (a: string): boolean => a.startsWith('127.') || a === '10.9.0.1' || a === 'fd00::1';
const plan = (r: RulesConfig): Extract<SetupPlan, { ok: true }> => {
  const p = setupPlan(r, { mark: 0x1, table: 100, isLocal: local });
  assert.ok(p.ok, p.ok ? '' : p.error);
  return p;
};

describe('setupPlan', () => {
  it('marks exactly the transparent servers, local answers on output and forwarded ones on prerouting', () => {
    const p = plan(rulesOf('  a: { transparent: true, servers: ["127.0.0.1:22", "10.9.0.1:2222"] }\n  b: { servers: ["127.0.0.1:80", { address: "192.0.2.7:443", transparent: true }] }'));
    const nft = p.apply[0]!;
    assert.deepEqual(nft.argv, ['nft', '-f', '-']);
    const script = nft.stdin!;
    assert.match(script, /^add table inet portplex_transparent\ndelete table inet portplex_transparent\ntable inet portplex_transparent \{/);
    const chain = (name: string): string => /chain (\w+) \{[^}]*\}/g.exec(script.slice(script.indexOf(`chain ${name}`)))![0];
    assert.match(chain('answers_local'), /type route hook output priority mangle/);
    assert.deepEqual(chain('answers_local').match(/saddr \S+ tcp sport \d+/g), ['saddr 127.0.0.1 tcp sport 22', 'saddr 10.9.0.1 tcp sport 2222']);
    assert.match(chain('answers_forwarded'), /type filter hook prerouting priority mangle/);
    assert.deepEqual(chain('answers_forwarded').match(/saddr \S+ tcp sport \d+/g), ['saddr 192.0.2.7 tcp sport 443']);
    assert.doesNotMatch(script, /sport 80\b/, 'a server that is not transparent is not marked');
    // 127.0.0.1: route_localnet, and the guard that keeps 127/8 closed to the network.
    assert.ok(p.routeLocalnet);
    assert.match(script, /iif != "lo" ip daddr 127\.0\.0\.0\/8 drop/);
    assert.deepEqual(p.apply.slice(1).map((s) => s.argv.join(' ')), [
      'ip rule del fwmark 0x1 lookup 100',
      'ip rule add fwmark 0x1 lookup 100',
      'ip route replace local 0.0.0.0/0 dev lo table 100',
      'sysctl -q -w net.ipv4.conf.all.route_localnet=1',
    ]);
    assert.equal(p.apply[1]!.mayFail, true, 'the delete before the add may find nothing');
    assert.deepEqual(p.remove.map((s) => [s.argv.join(' '), s.mayFail]), [
      ['nft delete table inet portplex_transparent', true],
      ['ip rule del fwmark 0x1 lookup 100', true],
      ['ip route flush table 100', true],
    ]);
    assert.match(p.notes.join('\n'), /192\.0\.2\.7 is not this host's/);
  });

  it('IPv6 servers get ip -6 rules; no loopback server, no route_localnet and no guard; mark and table as given', () => {
    const p = setupPlan(rulesOf('  a: { transparent: true, servers: ["[fd00::1]:22", "10.9.0.1:22"] }'), { mark: 0x2a, table: 7, isLocal: local });
    assert.ok(p.ok);
    assert.ok(!p.routeLocalnet);
    assert.doesNotMatch(p.apply[0]!.stdin!, /guard_localnet/);
    assert.match(p.apply[0]!.stdin!, /ip6 saddr fd00::1 tcp sport 22 meta mark set 0x2a/);
    assert.deepEqual(p.apply.slice(1).map((s) => s.argv.join(' ')), [
      'ip rule del fwmark 0x2a lookup 7', 'ip rule add fwmark 0x2a lookup 7', 'ip route replace local 0.0.0.0/0 dev lo table 7',
      'ip -6 rule del fwmark 0x2a lookup 7', 'ip -6 rule add fwmark 0x2a lookup 7', 'ip -6 route replace local ::/0 dev lo table 7',
    ]);
  });

  it('refuses what it cannot route: no transparent server, a name, ::1', () => {
    const err = (backends: string): string => {
      const p = setupPlan(rulesOf(backends), { mark: 1, table: 100, isLocal: local });
      assert.ok(!p.ok);
      return p.error;
    };
    assert.match(err('  a: { servers: ["127.0.0.1:22"] }'), /nothing to route/);
    assert.match(err('  a: { transparent: true, servers: ["localhost:22"] }'), /needs an IP address .* not the name localhost/);
    assert.match(err('  a: { transparent: true, servers: ["[::1]:22"] }'), /cannot listen on ::1/);
  });

  it('the printed script says why for each step, and a step that may fail harmlessly is marked so', () => {
    const text = renderScript(plan(rulesOf('  a: { transparent: true, servers: ["127.0.0.1:22"] }')), 'apply');
    assert.match(text, /^# portplex transparent setup: run as root/);
    assert.match(text, /nft -f - <<'EOF'\n[\s\S]*\nEOF\n/);
    assert.match(text, /^ip rule del fwmark 0x1 lookup 100 2>\/dev\/null \|\| true$/m);
    assert.match(text, /^# \(IPv4\) marked packets look up table 100\nip rule add fwmark 0x1 lookup 100$/m);
  });
});

describe('transparentRefusal: what run refuses', () => {
  const r = rulesOf('  a: { transparent: true, servers: ["127.0.0.1:22"] }');
  it('nothing to refuse without transparent servers, or with the native plane and CAP_NET_ADMIN', () => {
    assert.equal(transparentRefusal(rulesOf('  a: { servers: ["127.0.0.1:22"] }'), { dataplane: 'js', netAdmin: false }), undefined);
    assert.equal(transparentRefusal(r, { dataplane: 'native', netAdmin: true }), undefined);
    assert.equal(transparentRefusal(r, { dataplane: 'native', netAdmin: undefined }), undefined, 'cannot tell: the connect says EPERM if so');
  });
  it('the js plane, or no CAP_NET_ADMIN', () => {
    assert.match(transparentRefusal(r, { dataplane: 'js', netAdmin: true })!, /^backend "a" server 127\.0\.0\.1:22 is transparent, and transparent mode needs the native data plane/);
    assert.match(transparentRefusal(r, { dataplane: 'native', netAdmin: false })!, /needs CAP_NET_ADMIN, which this process does not have: .*AmbientCapabilities/);
  });
  it('reads CAP_NET_ADMIN (bit 12) from the effective set', () => {
    assert.equal(hasNetAdmin('CapInh:\t0000000000000000\nCapEff:\t0000000000001000\n'), true);
    assert.equal(hasNetAdmin('CapEff:\t0000000000000400\n'), false);
    assert.equal(hasNetAdmin('CapEff:\t000001ffffffffff\n'), true);
    assert.equal(hasNetAdmin('Name: x\n'), undefined);
  });
});
