/**
 * `check` refuses two binds the system would refuse together (EADDRINUSE at `run`), at the later
 * one's file:line:col, and only those: each answer of bindsConflict is also checked against real
 * binds on this machine, for the loopback addresses a test may bind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { bindsConflict } from '../../src/config/binds.js';
import { compileRulesText } from '../../src/config/load.js';
import type { Transport } from '../../src/config/types.js';

const BACKENDS = 'backends:\n  web: { servers: ["127.0.0.1:1"] }\n  dns: { transport: udp, servers: ["127.0.0.1:53"] }\ndefault: web\nudp: { default: dns }\n';

function issues(listeners: string, extra = ''): string[] {
  const r = compileRulesText(`listeners:\n${listeners}${BACKENDS}${extra}`, 'x.yaml');
  return r.ok ? [] : r.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}`);
}

describe('bind conflicts are errors with file:line:col', () => {
  it('two listeners on one address and transport, named differently', () => {
    const found = issues('  - { name: a, bind: "127.0.0.1:8443" }\n  - { name: b, bind: "127.0.0.1:8443" }\n');
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /^x\.yaml:3:22: listener "b": 127\.0\.0\.1:8443 is already used by listener "a" at x\.yaml:2:22: the system refuses the second bind \(EADDRINUSE\)/);
  });

  it('a wildcard and an address of its family; the IPv6 wildcard and ::1; an IPv4-mapped address and its IPv4 form', () => {
    const wild = issues('  - { name: all, bind: ":8443" }\n  - { name: lo, bind: "127.0.0.1:8443" }\n');
    assert.match(wild.join('\n'), /^x\.yaml:3:23: listener "lo": 127\.0\.0\.1:8443 is already used by listener "all" \(0\.0\.0\.0:8443, which includes it\)/);
    const v6 = issues('  - { name: lo6, bind: "[::1]:8443" }\n  - { name: all6, bind: "[::]:8443" }\n');
    assert.match(v6.join('\n'), /listener "all6": \[::\]:8443 is already used by listener "lo6"/);
    const mapped = issues('  - { name: m, bind: "[::ffff:127.0.0.1]:8443" }\n  - { name: v4, bind: "127.0.0.1:8443" }\n');
    assert.match(mapped.join('\n'), /listener "v4": 127\.0\.0\.1:8443 is already used by listener "m"/);
    const spelled = issues('  - { name: a, bind: "[0:0::1]:8443" }\n  - { name: b, bind: "[::1]:8443" }\n');
    assert.match(spelled.join('\n'), /listener "b": \[::1\]:8443 is already used by listener "a" \(\[0:0::1\]:8443, which includes it\)/);
  });

  it('UDP with UDP, not with TCP', () => {
    const udp = issues('  - { name: q1, bind: "127.0.0.1:8443", transport: udp }\n  - { name: q2, bind: ":8443", transport: udp }\n');
    assert.match(udp.join('\n'), /listener "q2": UDP 0\.0\.0\.0:8443 is already used by listener "q1"/);
    assert.deepEqual(issues('  - { name: t, bind: "127.0.0.1:8443" }\n  - { name: u, bind: "127.0.0.1:8443", transport: udp }\n'), []);
  });

  it('demo services and the admin endpoint against the listeners and each other', () => {
    const demo = issues('  - { name: main, bind: ":8443" }\n', 'demo:\n  - { name: d, kind: http, listen: "127.0.0.1:8443" }\n');
    assert.match(demo.join('\n'), /^x\.yaml:\d+:\d+: demo service "d": 127\.0\.0\.1:8443 is already used by listener "main"/m);
    const admin = issues('  - { name: main, bind: ":9900" }\n', 'admin: { listen: "127.0.0.1:9900" }\n');
    assert.match(admin.join('\n'), /admin\.listen: 127\.0\.0\.1:9900 is already used by listener "main" \(0\.0\.0\.0:9900, which includes it\)/);
    const twoDemos = issues('  - "127.0.0.1:8443"\n', 'demo:\n  - { name: d1, kind: http, listen: "127.0.0.1:18080" }\n  - { name: d2, kind: banner, listen: "127.0.0.1:18080" }\n');
    assert.match(twoDemos.join('\n'), /demo service "d2": 127\.0\.0\.1:18080 is already used by demo service "d1"/);
  });

  it('what binds together is not refused', () => {
    const fine = [
      '  - { name: a, bind: "127.0.0.1:8443" }\n  - { name: b, bind: "127.0.0.2:8443" }\n',
      '  - { name: a, bind: "127.0.0.1:8443" }\n  - { name: b, bind: "[::1]:8443" }\n',
      // [::] is bound IPv6-only for a listener, so it and 0.0.0.0 are two sockets.
      '  - { name: a, bind: ":8443" }\n  - { name: b, bind: "[::]:8443" }\n',
      '  - { name: a, bind: "127.0.0.1:0" }\n  - { name: b, bind: "127.0.0.1:0" }\n',
      // A host name resolves only when `run` binds: uncertain, so left to run.
      '  - { name: a, bind: "localhost:8443" }\n  - { name: b, bind: "127.0.0.1:8443" }\n',
    ];
    for (const l of fine) assert.deepEqual(issues(l), [], l);
  });
});

type Bind = { host: string; transport: Transport };

function bind(b: Bind, port: number): Promise<{ port: number; close: () => void } | 'EADDRINUSE'> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => (e.code === 'EADDRINUSE' ? resolve('EADDRINUSE') : reject(e));
    if (b.transport === 'tcp') {
      const s: Server = createServer();
      s.once('error', onError);
      s.listen({ host: b.host, port }, () => resolve({ port: (s.address() as AddressInfo).port, close: () => s.close() }));
    } else {
      const s: UdpSocket = createSocket(b.host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', onError);
      s.bind(port, b.host, () => resolve({ port: s.address().port, close: () => s.close() }));
    }
  });
}

describe('bindsConflict agrees with the system', () => {
  const pairs: [Bind, Bind][] = [];
  for (const transport of ['tcp', 'udp'] as const) {
    for (const [a, b] of [
      ['127.0.0.1', '127.0.0.1'],
      ['127.0.0.1', '127.0.0.2'],
      ['::1', '::1'],
      ['::1', '127.0.0.1'],
      ['::ffff:127.0.0.1', '127.0.0.1'],
      ['127.0.0.1', '::ffff:127.0.0.1'],
      ['localhost', 'localhost'],
    ] as const) {
      pairs.push([{ host: a, transport }, { host: b, transport }]);
    }
  }
  pairs.push([{ host: '127.0.0.1', transport: 'tcp' }, { host: '127.0.0.1', transport: 'udp' }]);
  for (const [a, b] of pairs) {
    it(`${a.transport} ${a.host} then ${b.transport} ${b.host}`, async (t) => {
      const first = await bind(a, 0);
      assert.notEqual(first, 'EADDRINUSE');
      if (first === 'EADDRINUSE') return;
      t.after(first.close);
      const second = await bind(b, first.port);
      if (second !== 'EADDRINUSE') t.after(second.close);
      const predicted = bindsConflict({ ...a, port: first.port }, { ...b, port: first.port });
      assert.equal(predicted, second === 'EADDRINUSE', `predicted ${predicted ? 'a conflict' : 'none'}, the system said ${second === 'EADDRINUSE' ? 'EADDRINUSE' : 'ok'}`);
    });
  }
});
