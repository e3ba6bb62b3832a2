/**
 * The SSRF guard and the host allowlist: the IANA special-purpose registries entry by entry, every
 * spelling of an address (IPv6 forms embedding IPv4, zone IDs, inet_aton forms), names vs CIDRs,
 * the exact-name exception.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import type { ForwardAllowlist } from '../../src/config/types.js';
import { forwardPolicy, isSpecialAddress } from '../../src/forward/address-policy.js';
import { unmapIPv4 as unmapped } from '../../src/protocols/ip/address.js';

function compile(hosts: readonly string[]): ReturnType<typeof compileRulesText> {
  const yaml = `listeners:\n  - bind: "127.0.0.1:0"\nroutes:\n  - name: fwd\n    connect: { hosts: ${JSON.stringify(hosts)} }\n`;
  return compileRulesText(yaml, 'policy.yaml');
}

/** The allowlist a real rule file compiles `hosts:` into, so the test also covers how entries are classified. */
function allowlist(hosts: readonly string[]): ForwardAllowlist {
  const loaded = compile(hosts);
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('\n'));
  const action = loaded.rules.routes[0]!.action;
  assert.equal(action.kind, 'connect');
  if (action.kind !== 'connect' || action.connect.hosts === undefined) throw new Error('no allowlist');
  return action.connect.hosts;
}

/**
 * Each entry of the IANA IPv4 Special-Purpose Address Registry (and multicast), its first and last
 * address, and whether a tunnel to it is refused. Written from the registry, apart from the table
 * in src/forward/special-purpose.ts, so that a wrong row there fails here.
 */
const IPV4_REGISTRY: readonly (readonly [string, string, boolean])[] = [
  ['0.0.0.0', '0.255.255.255', true],
  ['10.0.0.0', '10.255.255.255', true],
  ['100.64.0.0', '100.127.255.255', true],
  ['127.0.0.0', '127.255.255.255', true],
  ['169.254.0.0', '169.254.255.255', true],
  ['172.16.0.0', '172.31.255.255', true],
  ['192.0.0.0', '192.0.0.255', true], // with 192.0.0.0/29, .8, .170, .171 inside
  ['192.0.0.9', '192.0.0.9', true], // PCP anycast: globally reachable, refused (the nearest server is the operator's)
  ['192.0.0.10', '192.0.0.10', true], // TURN anycast: likewise
  ['192.0.2.0', '192.0.2.255', true],
  ['192.31.196.0', '192.31.196.255', false], // AS112-v4: globally reachable
  ['192.52.193.0', '192.52.193.255', false], // AMT: globally reachable
  ['192.88.99.0', '192.88.99.255', true], // deprecated 6to4 relay anycast, and 6a44 at .2
  ['192.168.0.0', '192.168.255.255', true],
  ['192.175.48.0', '192.175.48.255', false], // AS112 direct delegation: globally reachable
  ['198.18.0.0', '198.19.255.255', true],
  ['198.51.100.0', '198.51.100.255', true],
  ['203.0.113.0', '203.0.113.255', true],
  ['224.0.0.0', '239.255.255.255', true], // multicast (RFC 5771)
  ['240.0.0.0', '255.255.255.255', true],
];

/** The same for the IANA IPv6 Special-Purpose Address Registry and the space outside 2000::/3. */
const IPV6_REGISTRY: readonly (readonly [string, string, boolean])[] = [
  ['::', '::', true],
  ['::1', '::1', true],
  ['64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', true],
  ['100::', '100::ffff:ffff:ffff:ffff', true],
  ['100:0:0:1::', '100:0:0:1:ffff:ffff:ffff:ffff', true],
  ['2001:1::1', '2001:1::3', true], // PCP, TURN and DNS-SD SRP anycast: refused (nearest server)
  ['2001:2::', '2001:2:0:ffff:ffff:ffff:ffff:ffff', true],
  ['2001:3::', '2001:3:ffff:ffff:ffff:ffff:ffff:ffff', false], // AMT
  ['2001:4:112::', '2001:4:112:ffff:ffff:ffff:ffff:ffff', false], // AS112-v6
  ['2001:10::', '2001:1f:ffff:ffff:ffff:ffff:ffff:ffff', true], // deprecated ORCHID
  ['2001:20::', '2001:2f:ffff:ffff:ffff:ffff:ffff:ffff', false], // ORCHIDv2
  ['2001:30::', '2001:3f:ffff:ffff:ffff:ffff:ffff:ffff', false], // DETs
  ['2001:1:ffff::', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', true], // the rest of 2001::/23 (IETF Protocol Assignments)
  ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['2620:4f:8000::', '2620:4f:8000:ffff:ffff:ffff:ffff:ffff', false], // AS112 direct delegation
  ['3fff::', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['5f00::', '5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['fc00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  // Outside 2000::/3 (IANA IPv6 Address Space: reserved by the IETF), deprecated site-local included.
  ['::2:0:0', '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['4000::', '5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['fec0::', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true],
  ['2000::', '2000:ffff::', false],
  ['2a00::', '3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', false],
];

const hex2 = (a: number, b: number): string => ((a << 8) | b).toString(16);

/** Every IPv6 spelling portplex knows of IPv4 address `v4` (dotted), except Teredo (two addresses). */
function embeddings(v4: string): string[] {
  const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
  const hi = hex2(a, b);
  const lo = hex2(c, d);
  const forms = [`::ffff:${v4}`, `::FFFF:${v4}`, `::ffff:${hi}:${lo}`, `0:0:0:0:0:ffff:${hi}:${lo}`, `0000:0000:0000:0000:0000:ffff:${hi.padStart(4, '0')}:${lo.padStart(4, '0')}`];
  forms.push(`::ffff:0:${v4}`, `::ffff:0:${hi}:${lo}`); // IPv4-translated
  forms.push(`64:ff9b::${v4}`, `64:ff9b::${hi}:${lo}`, `64:FF9B:0:0:0:0:${hi}:${lo}`); // NAT64
  forms.push(`2002:${hi}:${lo}::`, `2002:${hi}:${lo}:1234::1`); // 6to4
  if (a !== 0 || b !== 0 || c !== 0 || d > 1) forms.push(`::${v4}`, `::${hi}:${lo}`); // IPv4-compatible (not :: or ::1)
  return forms;
}

/** A Teredo address (RFC 4380 §4) with this server and client (the client's bits inverted). */
function teredo(server: string, client: string): string {
  const s = server.split('.').map(Number) as [number, number, number, number];
  const c = client.split('.').map((x) => Number(x) ^ 0xff) as [number, number, number, number];
  return `2001:0:${hex2(s[0], s[1])}:${hex2(s[2], s[3])}:8000:63bf:${hex2(c[0], c[1])}:${hex2(c[2], c[3])}`;
}

describe('isSpecialAddress: the IANA special-purpose registries', () => {
  it('refuses or allows the first and last address of each IPv4 registry entry as decided', () => {
    for (const [first, last, refused] of IPV4_REGISTRY) {
      assert.equal(isSpecialAddress(first), refused, first);
      assert.equal(isSpecialAddress(last), refused, last);
    }
  });

  it('refuses or allows the first and last address of each IPv6 registry entry as decided', () => {
    for (const [first, last, refused] of IPV6_REGISTRY) {
      assert.equal(isSpecialAddress(first), refused, first);
      assert.equal(isSpecialAddress(last), refused, last);
    }
  });

  it('allows the public neighbours of each refused IPv4 block', () => {
    for (const a of ['1.0.0.0', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255', '128.0.0.0', '169.253.255.255', '169.255.0.0', '172.15.255.255', '172.32.0.0', '191.255.255.255', '192.0.1.0', '192.0.3.0', '192.88.98.255', '192.88.100.0', '192.167.255.255', '192.169.0.0', '198.17.255.255', '198.20.0.0', '198.51.99.255', '198.51.101.0', '203.0.112.255', '203.0.114.0', '223.255.255.255', '8.8.8.8', '93.184.216.34']) {
      assert.equal(isSpecialAddress(a), false, a);
    }
  });

  it('judges every IPv6 spelling of an IPv4 address (mapped, translated, compatible, NAT64, 6to4) as that address', () => {
    for (const [first, last, refused] of IPV4_REGISTRY) {
      for (const v4 of [first, last]) for (const form of embeddings(v4)) assert.equal(isSpecialAddress(form), refused, `${form} (${v4})`);
    }
    for (const v4 of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '192.31.196.1']) for (const form of embeddings(v4)) assert.equal(isSpecialAddress(form), false, `${form} (${v4})`);
  });

  it('refuses a Teredo address when its server or its client address is refused, and allows it when both are public', () => {
    assert.equal(isSpecialAddress(teredo('65.54.227.120', '8.8.8.8')), false);
    assert.equal(isSpecialAddress('2001:0:4136:e378:8000:63bf:f7f7:f7f7'), false); // the same, written out
    assert.equal(isSpecialAddress(teredo('65.54.227.120', '127.0.0.1')), true);
    assert.equal(isSpecialAddress('2001:0:4136:e378:8000:63bf:80ff:fffe'), true); // client ~80ff:fffe = 127.0.0.1
    assert.equal(isSpecialAddress(teredo('10.0.0.1', '8.8.8.8')), true);
    assert.equal(isSpecialAddress(teredo('169.254.169.254', '169.254.169.254')), true);
  });

  it('refuses text that is not a standard address: zone IDs, brackets, inet_aton forms, junk', () => {
    for (const t of ['fe80::1%eth0', '2606:4700::1111%eth0', '::ffff:8.8.8.8%1', '[2606:4700::1111]', '127.1', '2130706433', '0177.0.0.1', '0x7f.0.0.1', '8.8.8.08', '8.8.8.8.', ' 8.8.8.8', '', 'example.com', '1:2:3:4:5:6:7:8:9']) {
      assert.equal(isSpecialAddress(t), true, JSON.stringify(t));
    }
  });

  it('still unmaps dotted IPv4-mapped client addresses for the rest of portplex', () => {
    assert.equal(unmapped('::ffff:1.2.3.4'), '1.2.3.4');
    assert.equal(unmapped('::FFFF:1.2.3.4'), '1.2.3.4');
    assert.equal(unmapped('2001:db8::1'), '2001:db8::1');
  });
});

describe('forwardPolicy', () => {
  it('without an allowlist: any host may be asked for, public addresses are reached, special ones never', () => {
    const p = forwardPolicy(undefined);
    for (const h of ['example.com', 'localhost', '127.0.0.1', '10.0.0.1', '::1']) assert.equal(p.hostAllowed(h), true, h);
    for (const a of ['8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) assert.equal(p.addressAllowed('example.com', a), true, a);
    for (const a of ['127.0.0.1', '::ffff:10.0.0.1', '::ffff:a00:1', '::127.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::', 'fe80::1%eth0', 'fd00::1']) {
      assert.equal(p.addressAllowed('example.com', a), false, a);
      assert.equal(p.addressAllowed(a, a), false, `literal ${a}`);
    }
    assert.equal(p.addressAllowed('localhost', '127.0.0.1'), false);
  });

  it('checks names against name patterns (exact and *.suffix, not the bare suffix) and literals against CIDRs', () => {
    const p = forwardPolicy(allowlist(['example.com', '*.example.org', '10.0.0.0/8', '192.0.2.7', '2001:db8::/32']));
    for (const h of ['example.com', 'a.example.org', 'a.b.example.org']) assert.equal(p.hostAllowed(h), true, h);
    for (const h of ['www.example.com', 'example.org', 'example.com.evil', 'evil-example.com', 'xexample.org']) assert.equal(p.hostAllowed(h), false, h);
    for (const h of ['10.1.2.3', '192.0.2.7', '::ffff:10.9.9.9', '::ffff:a09:909', '64:ff9b::a09:909', '2001:db8::5']) assert.equal(p.hostAllowed(h), true, h);
    for (const h of ['11.0.0.1', '192.0.2.8', '2001:db9::1', '8.8.8.8', '2001:db8::5%eth0']) assert.equal(p.hostAllowed(h), false, h);
  });

  it('a name is not allowed because its address is in an allowed CIDR, nor an address because a name resolves to it', () => {
    const byCidr = forwardPolicy(allowlist(['10.0.0.0/8']));
    assert.equal(byCidr.hostAllowed('intranet.example'), false);
    const byName = forwardPolicy(allowlist(['localhost']));
    assert.equal(byName.hostAllowed('127.0.0.1'), false);
  });

  it('lets a special address through when an allowlist CIDR contains it, whatever its spelling and whichever host resolved to it', () => {
    const p = forwardPolicy(allowlist(['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '*.internal.example']));
    for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:0001', '::127.0.0.1', '::ffff:0:7f00:1', '64:ff9b::7f00:1', '2002:7f00:1::']) {
      assert.equal(p.addressAllowed('127.0.0.1', a), true, a);
      assert.equal(p.hostAllowed(a), true, a);
    }
    assert.equal(p.addressAllowed('db.internal.example', '10.1.2.3'), true);
    assert.equal(p.addressAllowed('db.internal.example', '::ffff:10.1.2.3'), true);
    assert.equal(p.addressAllowed('db.internal.example', 'fd12::1'), true);
    // Other special addresses stay denied, in every spelling.
    for (const a of ['127.0.0.2', '::ffff:127.0.0.2', '64:ff9b::7f00:2', '192.168.1.1', '::1']) assert.equal(p.addressAllowed('db.internal.example', a), false, a);
    // A Teredo address needs both of its IPv4 addresses allowed.
    assert.equal(p.addressAllowed('x.internal.example', teredo('10.0.0.1', '8.8.8.8')), true);
    assert.equal(p.addressAllowed('x.internal.example', teredo('10.0.0.1', '192.168.0.1')), false);
  });

  it('lets a special address through for a host named exactly in the allowlist, but not for a *.suffix match (DNS rebinding)', () => {
    const p = forwardPolicy(allowlist(['localhost', 'db.corp.example', '*.example.org']));
    assert.equal(p.addressAllowed('localhost', '127.0.0.1'), true);
    assert.equal(p.addressAllowed('localhost', '::1'), true);
    assert.equal(p.addressAllowed('db.corp.example', '10.20.30.40'), true);
    assert.equal(p.hostAllowed('evil.example.org'), true);
    for (const a of ['127.0.0.1', '169.254.169.254', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '::a9fe:a9fe']) assert.equal(p.addressAllowed('evil.example.org', a), false, a);
    assert.equal(p.addressAllowed('evil.example.org', '93.184.216.34'), true);
    // The exact-name exception is for names, not for literals, and never for an unusable address.
    assert.equal(p.addressAllowed('127.0.0.1', '127.0.0.1'), false);
    assert.equal(p.addressAllowed('localhost', 'fe80::1%lo'), false);
  });

  it('an allowed literal outside the special ranges is reached; one inside them needs its CIDR listed', () => {
    const p = forwardPolicy(allowlist(['0.0.0.0/0', '::/0']));
    // 0.0.0.0/0 names every IPv4 address, private ones included: that is the admin's explicit choice.
    assert.equal(p.addressAllowed('10.0.0.1', '10.0.0.1'), true);
    assert.equal(p.addressAllowed('8.8.8.8', '8.8.8.8'), true);
    assert.equal(p.addressAllowed('::1', '::1'), true);
    assert.equal(p.addressAllowed('x', '64:ff9b::a00:1'), true, 'judged as 10.0.0.1, which 0.0.0.0/0 names');
  });

  it('an IPv6 CIDR never names an address that carries an IPv4 address: ::/0 does not unlock ::ffff:127.0.0.1 or 64:ff9b::7f00:1', () => {
    const p = forwardPolicy(allowlist(['::/0']));
    for (const a of ['::ffff:127.0.0.1', '::127.0.0.1', '64:ff9b::7f00:1', '2002:a00:1::', teredo('10.0.0.1', '10.0.0.2')]) {
      assert.equal(p.addressAllowed(a, a), false, a);
      assert.equal(p.hostAllowed(a), false, a);
    }
    assert.equal(p.addressAllowed('fd00::1', 'fd00::1'), true);
  });

  it('a name that ends in a number is never a name: not allowed by a pattern, never given the exact-name exception', () => {
    const p = forwardPolicy({ names: [{ kind: 'exact', name: '0x7f.1' }, { kind: 'suffix', suffix: '.1' }], cidrs: [] });
    for (const h of ['0x7f.1', '127.1', 'a.1', '2130706433']) assert.equal(p.hostAllowed(h), false, h);
    assert.equal(p.addressAllowed('0x7f.1', '127.0.0.1'), false);
  });
});

describe('hosts: allowlist entries that could never match are refused by check', () => {
  it('refuses an IPv6 CIDR inside an IPv4-embedding range, naming the IPv4 CIDR to write instead', () => {
    for (const [entry, hint] of [
      ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
      ['::ffff:127.0.0.1', '127.0.0.1/32'],
      ['64:ff9b::/96', '0.0.0.0/0'],
      ['64:ff9b::a00:0/104', '10.0.0.0/8'],
      ['2002:a00::/24', '10.0.0.0/8'],
      ['::ffff:0:0:0/96', '0.0.0.0/0'],
      ['::a00:0/104', '10.0.0.0/8'],
    ] as const) {
      const r = compile([entry]);
      assert.equal(r.ok, false, entry);
      if (!r.ok) assert.match(r.issues.map((i) => i.message).join('\n'), new RegExp(`judged by the IPv4 address they carry: list ${hint.replace(/\./g, '\\.')} instead`), entry);
    }
    const teredoCidr = compile(['2001::/32']);
    assert.equal(teredoCidr.ok, false);
    if (!teredoCidr.ok) assert.match(teredoCidr.issues[0]!.message, /Teredo.*list the IPv4 addresses instead/);
  });

  it('accepts IPv6 CIDRs that only overlap the embedding ranges, and the local-use NAT64 prefix', () => {
    for (const entry of ['::/0', '::/96', '::1', '2000::/3', '2001::/16', '64:ff9b:1::/48', 'fd00::/8']) assert.equal(compile([entry]).ok, true, entry);
  });

  it('refuses a name that ends in a number (getaddrinfo would read it as an address)', () => {
    for (const entry of ['0x7f.1', 'a.1', '*.1']) {
      const r = compile([entry]);
      assert.equal(r.ok, false, entry);
      if (!r.ok) assert.match(r.issues[0]!.message, /ends in a number/, entry);
    }
  });
});
