/** The SSRF guard and the host allowlist: special-purpose ranges, names vs CIDRs, the exact-name exception. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import type { ForwardAllowlist } from '../../src/config/types.js';
import { forwardPolicy, isSpecialAddress } from '../../src/forward/address-policy.js';
import { unmapIPv4 as unmapped } from '../../src/protocols/ip-address.js';

/** The allowlist a real rule file compiles `hosts:` into, so the test also covers how entries are classified. */
function allowlist(hosts: readonly string[]): ForwardAllowlist {
  const yaml = `listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: fwd\n    connect: { hosts: ${JSON.stringify(hosts)} }\n`;
  const loaded = compileRulesText(yaml, 'policy.yaml');
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('\n'));
  const action = loaded.rules.routes[0]!.action;
  assert.equal(action.kind, 'connect');
  if (action.kind !== 'connect' || action.connect.hosts === undefined) throw new Error('no allowlist');
  return action.connect.hosts;
}

const SPECIAL: readonly string[] = [
  // 127/8
  '127.0.0.1', '127.255.255.254', '127.1.2.3',
  // 10/8, 172.16/12, 192.168/16
  '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.20.3.4', '172.31.255.255', '192.168.0.1', '192.168.255.255',
  // 169.254/16 (link-local, cloud metadata 169.254.169.254)
  '169.254.0.1', '169.254.169.254',
  // 0.0.0.0 ("this host": connects to the local machine on Linux), 100.64/10 CGNAT, multicast, reserved
  '0.0.0.0', '0.1.2.3', '100.64.0.1', '224.0.0.1', '255.255.255.255',
  // IPv6 loopback, unspecified, link-local fe80::/10, unique-local fc00::/7, multicast
  '::1', '::', 'fe80::1', 'febf::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
  // IPv4-mapped IPv6: the IPv4 address decides, whatever the spelling
  '::ffff:127.0.0.1', '::FFFF:10.1.2.3', '::ffff:169.254.169.254', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', '::ffff:a00:1',
];

const PUBLIC: readonly string[] = [
  '8.8.8.8', '1.1.1.1', '93.184.216.34', '11.0.0.1', '9.255.255.255', '126.255.255.255', '128.0.0.1', '172.15.255.255', '172.32.0.1',
  '192.167.255.255', '192.169.0.1', '169.253.255.255', '169.255.0.1', '100.63.255.255', '100.128.0.1', '223.255.255.255',
  '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450::1', 'fec0::1', 'fbff::1', '::ffff:8.8.8.8',
];

describe('isSpecialAddress (the SSRF ranges)', () => {
  it('classifies loopback, private, link-local, unique-local, unspecified and mapped addresses as special', () => {
    for (const a of SPECIAL) assert.equal(isSpecialAddress(a), true, a);
  });

  it('classifies public addresses, including the neighbours of each private range, as not special', () => {
    for (const a of PUBLIC) assert.equal(isSpecialAddress(a), false, a);
  });

  it('unmaps dotted IPv4-mapped addresses only', () => {
    assert.equal(unmapped('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(unmapped('::FFFF:1.2.3.4'), '1.2.3.4');
    assert.equal(unmapped('1.2.3.4'), '1.2.3.4');
    assert.equal(unmapped('2001:db8::1'), '2001:db8::1');
  });
});

describe('forwardPolicy', () => {
  it('without an allowlist: any host may be asked for, public addresses are reached, special ones never', () => {
    const p = forwardPolicy(undefined);
    for (const h of ['example.com', 'localhost', '127.0.0.1', '10.0.0.1', '::1']) assert.equal(p.hostAllowed(h), true, h);
    for (const a of PUBLIC) assert.equal(p.addressAllowed('example.com', a), true, a);
    for (const a of SPECIAL) {
      assert.equal(p.addressAllowed('example.com', a), false, a);
      assert.equal(p.addressAllowed(a, a), false, `literal ${a}`);
    }
    assert.equal(p.addressAllowed('localhost', '127.0.0.1'), false);
  });

  it('checks names against name patterns (exact and *.suffix, not the bare suffix) and literals against CIDRs', () => {
    const p = forwardPolicy(allowlist(['example.com', '*.example.org', '10.0.0.0/8', '192.0.2.7', '2001:db8::/32']));
    for (const h of ['example.com', 'a.example.org', 'a.b.example.org']) assert.equal(p.hostAllowed(h), true, h);
    for (const h of ['www.example.com', 'example.org', 'example.com.evil', 'evil-example.com', 'xexample.org']) assert.equal(p.hostAllowed(h), false, h);
    for (const h of ['10.1.2.3', '192.0.2.7', '::ffff:10.9.9.9', '2001:db8::5']) assert.equal(p.hostAllowed(h), true, h);
    for (const h of ['11.0.0.1', '192.0.2.8', '2001:db9::1', '8.8.8.8']) assert.equal(p.hostAllowed(h), false, h);
  });

  it('a name is not allowed because its address is in an allowed CIDR, nor an address because a name resolves to it', () => {
    const byCidr = forwardPolicy(allowlist(['10.0.0.0/8']));
    assert.equal(byCidr.hostAllowed('intranet.example'), false);
    const byName = forwardPolicy(allowlist(['localhost']));
    assert.equal(byName.hostAllowed('127.0.0.1'), false);
  });

  it('lets a special address through when an allowlist CIDR contains it, whichever host resolved to it', () => {
    const p = forwardPolicy(allowlist(['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '*.internal.example']));
    assert.equal(p.addressAllowed('127.0.0.1', '127.0.0.1'), true);
    assert.equal(p.addressAllowed('db.internal.example', '10.1.2.3'), true);
    assert.equal(p.addressAllowed('db.internal.example', '::ffff:10.1.2.3'), true);
    assert.equal(p.addressAllowed('db.internal.example', 'fd12::1'), true);
    // Other special addresses stay denied.
    assert.equal(p.addressAllowed('127.0.0.2', '127.0.0.2'), false);
    assert.equal(p.addressAllowed('db.internal.example', '192.168.1.1'), false);
    assert.equal(p.addressAllowed('db.internal.example', '::1'), false);
  });

  it('lets a special address through for a host named exactly in the allowlist, but not for a *.suffix match (DNS rebinding)', () => {
    const p = forwardPolicy(allowlist(['localhost', 'db.corp.example', '*.example.org']));
    assert.equal(p.addressAllowed('localhost', '127.0.0.1'), true);
    assert.equal(p.addressAllowed('localhost', '::1'), true);
    assert.equal(p.addressAllowed('db.corp.example', '10.20.30.40'), true);
    assert.equal(p.hostAllowed('evil.example.org'), true);
    assert.equal(p.addressAllowed('evil.example.org', '127.0.0.1'), false);
    assert.equal(p.addressAllowed('evil.example.org', '169.254.169.254'), false);
    assert.equal(p.addressAllowed('evil.example.org', '93.184.216.34'), true);
    // The exact-name exception is for names, not for literals.
    assert.equal(p.addressAllowed('127.0.0.1', '127.0.0.1'), false);
  });

  it('an allowed literal outside the special ranges is reached; one inside them needs its CIDR listed', () => {
    const p = forwardPolicy(allowlist(['0.0.0.0/0', '::/0']));
    // 0.0.0.0/0 names every IPv4 address, private ones included: that is the admin's explicit choice.
    assert.equal(p.addressAllowed('10.0.0.1', '10.0.0.1'), true);
    assert.equal(p.addressAllowed('8.8.8.8', '8.8.8.8'), true);
    assert.equal(p.addressAllowed('::1', '::1'), true);
  });
});
