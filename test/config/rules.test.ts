/** The rule file is the admins' interface: every shipped file loads, and every mistake is pointed at. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileRulesText, loadRules } from '../../src/config/load.js';
import { preflight, type HostFacts } from '../../src/supervisor/preflight.js';

const RULES_DIR = fileURLToPath(new URL('../../../rules/', import.meta.url));

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(`${dir}${e.name}/`) : e.name.endsWith('.yaml') || e.name.endsWith('.yml') ? [`${dir}${e.name}`] : [],
  );
}

describe('shipped rule files', () => {
  const files = yamlFiles(RULES_DIR);
  it('there are rule files to check', () => assert.ok(files.length >= 5, files.join(', ')));
  for (const f of files) {
    it(`${f.slice(RULES_DIR.length)} loads and compiles, without warnings`, () => {
      const r = loadRules(f);
      assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
      assert.deepEqual(r.rules.warnings.map((w) => `${w.line}:${w.col} ${w.message}`), []);
    });
    // The examples are written for deploy/portplex.service: an unprivileged user with
    // CAP_NET_BIND_SERVICE, where check (its ExecStartPre) finds nothing. Started as root, the
    // ones without `user:` get run's --allow-root warning, and nothing else: accepted.
    it(`${f.slice(RULES_DIR.length)} passes the machine checks as the systemd unit runs it`, () => {
      const r = loadRules(f);
      assert.ok(r.ok);
      const unit: HostFacts = { uid: 999, primaryGroupOf: () => 999, userExists: () => true, groupExists: () => true, mayBindPort: () => true, isLocalAddress: () => true, hostResolves: () => true };
      assert.deepEqual(preflight(r.rules, unit), { errors: [], warnings: [] });
      const root = preflight(r.rules, { ...unit, uid: 0 });
      assert.deepEqual(root.errors, []);
      assert.deepEqual(root.warnings.map((w) => /--allow-root/.test(w.message)), r.rules.user === undefined ? [true] : []);
    });
  }
  it('the default rule file listens on 127.0.0.1:8443 and has demo backends for every backend', () => {
    const r = loadRules(`${RULES_DIR}portplex.yaml`);
    assert.ok(r.ok);
    assert.deepEqual(r.rules.listeners.map((l) => `${l.host}:${l.port}`), ['127.0.0.1:8443']);
    const demoAddrs = new Set(r.rules.demo.map((d) => `${d.listen.host}:${d.listen.port}`));
    for (const b of r.rules.backends.values()) for (const s of b.servers) assert.ok(demoAddrs.has(s.address), `${b.name} -> ${s.address} has a demo service`);
  });
});

const BASE = `listeners:
  - bind: "127.0.0.1:0"
backends:
  web: { servers: ["127.0.0.1:4443"] }
`;

function issuesOf(text: string): { line: number; col: number; message: string }[] {
  const r = compileRulesText(text, 'x.yaml');
  assert.equal(r.ok, false, 'expected the rule file to be refused');
  return r.ok ? [] : r.issues.map(({ line, col, message }) => ({ line, col, message }));
}

describe('rule file errors carry file:line:col', () => {
  it('a valid minimal file compiles with the documented defaults', () => {
    const r = compileRulesText(BASE + 'default: web\n', 'x.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.rules.inspect, { timeoutMs: 3000, maxBytes: 16384 });
    assert.equal(r.rules.backends.get('web')?.sendProxy, 'off');
    assert.equal(r.rules.backends.get('web')?.connectTimeoutMs, 5000);
    assert.equal(r.rules.timeouts.idleMs, 600000);
  });

  it('YAML syntax errors', () => {
    const r = compileRulesText('listeners: [\n', 'x.yaml');
    assert.equal(r.ok, false);
    assert.equal(r.ok ? '' : r.code, 'PORTPLEX_ERR_RULES_YAML');
  });

  it('duplicate keys are a YAML error', () => {
    const r = compileRulesText(BASE + 'default: web\ndefault: web\n', 'x.yaml');
    assert.equal(r.ok ? '' : r.code, 'PORTPLEX_ERR_RULES_YAML');
  });

  it('unknown keys, at their own position', () => {
    const issues = issuesOf(BASE + 'routes:\n  - name: a\n    to: web\n    wehn: { protocol: tls }\n');
    assert.deepEqual(issues.map((i) => [i.line, i.col]), [[8, 5]]);
    assert.match(issues[0]!.message, /unknown key "wehn"/);
    const top = issuesOf(BASE + 'defualt: web\n');
    assert.match(top[0]!.message, /unknown key "defualt"/);
  });

  it('bad CIDR, bad regex, bad SNI pattern, bad TLS version, bad hex prefix', () => {
    const issues = issuesOf(
      BASE +
        `routes:
  - name: a
    when:
      src: ["10.0.0.0/33", "10.0.0.300"]
      tls: { sni: ["~(", "bad name!"], version: "1.4" }
      bytes: { prefix: "zz", regex: "[" }
    to: web
`,
    );
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    assert.match(text, /^8:13 .*prefix length/m);
    assert.match(text, /^8:28 .*not an IP address/m);
    assert.match(text, /^9:20 .*bad regular expression/m);
    assert.match(text, /^9:26 .*not a valid host name/m);
    assert.match(text, /^9:49 .*must be a version/m);
    assert.match(text, /^10:24 .*must be hex bytes/m);
    assert.match(text, /^10:37 .*bad regular expression/m);
  });

  it('unknown backend in a route and in default', () => {
    const issues = issuesOf(BASE + 'routes:\n  - name: a\n    to: nginx\ndefault: nope\n');
    assert.deepEqual(issues.map((i) => i.line), [7, 8]);
    assert.match(issues[0]!.message, /unknown backend "nginx"/);
    assert.match(issues[1]!.message, /unknown backend "nope"/);
  });

  it('duplicate route names and duplicate listeners', () => {
    const issues = issuesOf(
      `listeners:\n  - bind: "127.0.0.1:8443"\n  - bind: "127.0.0.1:8443"\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\nroutes:\n  - { name: a, to: web }\n  - { name: a, to: web }\n`,
    );
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    assert.match(text, /^3:11 .*duplicate listener/m);
    assert.match(text, /^8:13 .*duplicate route name "a"/m);
  });

  it('bad addresses, ports, durations and enum values', () => {
    const issues = issuesOf(
      `listeners:\n  - bind: "::1:443"\ninspect: { timeout: soon, max_bytes: 10 }\nbackends:\n  web: { send_proxy: v3, connect_timeout: -1, servers: ["127.0.0.1:70000", "nohost"] }\ndefault: web\n`,
    );
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    assert.match(text, /^2:11 .*brackets/m);
    assert.match(text, /^3:21 .*duration/m);
    assert.match(text, /^3:38 .*max_bytes/m);
    assert.match(text, /^5:22 .*one of: off, v1, v2/m);
    assert.match(text, /^5:43 .*duration/m);
    assert.match(text, /^5:57 .*port/m);
    assert.match(text, /^5:76 .*host:port/m);
  });

  it('a file without routes or default, or without listeners, is refused', () => {
    assert.match(issuesOf(BASE)[0]!.message, /at least one route or a `default:`/);
    assert.match(issuesOf('backends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\n')[0]!.message, /needs `listeners:`/);
  });

  it('every server a backup is refused; backups are kept in order', () => {
    assert.match(issuesOf(BASE.replace('"127.0.0.1:4443"', '{ address: "127.0.0.1:4443", backup: true }') + 'default: web\n')[0]!.message, /every server is a backup/);
    const r = compileRulesText(BASE.replace('"127.0.0.1:4443"', '"127.0.0.1:1", { address: "[::1]:2", backup: true }') + 'default: web\n', 'x.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.rules.backends.get('web')!.servers.map((s) => [s.address, s.backup]), [['127.0.0.1:1', false], ['[::1]:2', true]]);
  });

  it('conditions compile into the documented tree', () => {
    const r = compileRulesText(
      BASE +
        `routes:
  - name: a
    when:
      tls: { sni: ["Example.COM", "*.example.org", "~^x"], alpn: h2, version: "1.2..", ech: false }
      src: 10.0.0.0/8
      local_port: ["443", "8000-8100"]
      not: { bytes: { length: "0..10" } }
      any: [{ http: { method: CONNECT } }, { silent: 300ms }]
    to: web
`,
      'x.yaml',
    );
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    const when = r.rules.routes[0]!.when;
    assert.equal(when.kind, 'all');
    const kinds = when.kind === 'all' ? when.inner.map((c) => c.kind) : [];
    assert.deepEqual(kinds, ['all', 'src', 'local_port', 'not', 'any']);
  });
});

describe('PROXY protocol keys', () => {
  it('inbound: accept needs trusted, trusted needs accept, CIDRs and sizes are checked', () => {
    const issues = issuesOf(`listeners:
  - bind: "127.0.0.1:1"
    proxy_protocol: { accept: required }
  - bind: "127.0.0.1:2"
    proxy_protocol: { trusted: ["10.0.0.0/8"] }
  - bind: "127.0.0.1:3"
    proxy_protocol: { accept: optional, trusted: ["10.0.0.0/40"], max_bytes: 100, timeout: never }
backends:
  web: { servers: ["127.0.0.1:4443"] }
default: web
`);
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    assert.match(text, /^3:31 .*needs trusted/m);
    assert.match(text, /^5:23 .*no effect while accept is off/m);
    assert.match(text, /^7:51 .*prefix length/m);
    assert.match(text, /^7:78 .*max_bytes/m);
    assert.match(text, /^7:92 .*duration/m);
  });

  it('outbound: proxy_v2 needs send_proxy v2; pass_tlvs are TLV types portplex does not write itself', () => {
    const issues = issuesOf(`listeners: ["127.0.0.1:0"]
backends:
  a: { send_proxy: v1, proxy_v2: { crc32c: true }, servers: ["127.0.0.1:1"] }
  b: { send_proxy: v2, proxy_v2: { pass_tlvs: [0xEA, 2, 300, "x"], unique_id: yes }, servers: ["127.0.0.1:1"] }
default: a
`);
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    assert.match(text, /^3:24 .*only with send_proxy: v2/m);
    assert.match(text, /^4:54 .*written by portplex itself/m);
    assert.match(text, /^4:57 .*number from 0 to 255/m);
    assert.match(text, /^4:62 .*number from 0 to 255/m);
    assert.match(text, /^4:79 .*true or false/m);
  });

  it('compiles the documented defaults and values', () => {
    const r = compileRulesText(`listeners:
  - bind: "127.0.0.1:0"
    proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8", "2001:db8::/32"] }
backends:
  b: { send_proxy: v2, proxy_v2: { unique_id: true, pass_tlvs: [0xEA] }, servers: ["127.0.0.1:1"] }
default: b
`, 'x.yaml');
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.deepEqual(r.rules.listeners[0]!.proxy, {
      accept: 'optional',
      trusted: [
        { family: 'ipv4', address: '10.0.0.0', prefix: 8 },
        { family: 'ipv6', address: '2001:db8::', prefix: 32 },
      ],
      timeoutMs: 5000,
      maxBytes: 4096,
    });
    assert.deepEqual(r.rules.backends.get('b')!.proxyV2, { authority: true, alpn: true, uniqueId: true, crc32c: false, passTlvs: [0xea], datagrams: 'first' });
    assert.deepEqual(r.rules.warnings, []);
  });

  it('warns (without refusing) when one listener accepts PROXY headers and another does not', () => {
    const r = compileRulesText(`listeners:
  - name: behind-nlb
    bind: "0.0.0.0:443"
    proxy_protocol: { accept: required, trusted: ["10.0.0.0/8"] }
  - name: direct
    bind: "0.0.0.0:8443"
backends:
  b: { servers: ["127.0.0.1:1"] }
default: b
`, 'x.yaml');
    assert.ok(r.ok);
    assert.equal(r.rules.warnings.length, 1);
    const w = r.rules.warnings[0]!;
    assert.deepEqual([w.line, w.col], [6, 11]);
    assert.match(w.message, /listener "direct" does not accept PROXY headers, but "behind-nlb" accept\(s\) them from 10\.0\.0\.0\/8/);
  });
});

describe('backend keys', () => {
  it('compiles balancing, servers, health, passive and socket options with their defaults', () => {
    const r = compileRulesText(`listeners: ["127.0.0.1:0"]
backends:
  plain: { servers: ["127.0.0.1:1"] }
  full:
    balance: leastconn
    retries: 2
    keepalive: true
    nodelay: false
    send_proxy: v1
    servers:
      - { address: "127.0.0.1:2", weight: 3, max_connections: 10, send_proxy: v2 }
      - { address: "127.0.0.1:3", backup: true }
    health: { type: tls, sni: t.example, alpn: [h2], interval: 1s, rise: 1, fall: 2, send: "PING\\r\\n", expect_regex: "^\\\\+PONG" }
    passive: { failures: 5, cooldown: 1m }
default: plain
`, 'x.yaml');
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    const plain = r.rules.backends.get('plain')!;
    assert.deepEqual([plain.balance, plain.retries, plain.health, plain.passive, plain.keepAliveMs, plain.noDelay], ['roundrobin', 1, undefined, { failures: 3, cooldownMs: 10000 }, undefined, true]);
    assert.deepEqual(plain.servers[0], { host: '127.0.0.1', port: 1, address: '127.0.0.1:1', backup: false, weight: 1, maxConnections: 0, sendProxy: 'off', transparent: false });
    const full = r.rules.backends.get('full')!;
    assert.deepEqual([full.balance, full.retries, full.keepAliveMs, full.noDelay], ['leastconn', 2, 60000, false]);
    assert.deepEqual(full.servers.map((s) => [s.weight, s.maxConnections, s.sendProxy, s.backup]), [[3, 10, 'v2', false], [1, 0, 'v1', true]]);
    const h = full.health!;
    assert.deepEqual([h.type, h.sni, h.alpn, h.intervalMs, h.timeoutMs, h.rise, h.fall, h.sendProxy], ['tls', 't.example', ['h2'], 1000, 1000, 1, 2, true]);
    assert.deepEqual(Buffer.from(h.send!).toString(), 'PING\r\n');
    assert.ok(h.expect?.kind === 'regex' && h.expect.regex.test('+PONG'));
    assert.deepEqual(full.passive, { failures: 5, cooldownMs: 60000 });
  });

  it("transparent: a backend's value is its servers' unless a server says otherwise; TCP only, a boolean", () => {
    const r = compileRulesText(`listeners: ["127.0.0.1:0"]
backends:
  ssh: { transparent: true, servers: ["127.0.0.1:22", { address: "127.0.0.1:2222", transparent: false }] }
  web: { servers: ["127.0.0.1:80", { address: "127.0.0.1:8080", transparent: true }] }
default: ssh
`, 'x.yaml');
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
    assert.deepEqual(r.rules.backends.get('ssh')!.servers.map((s) => s.transparent), [true, false]);
    assert.deepEqual(r.rules.backends.get('web')!.servers.map((s) => s.transparent), [false, true]);
    const issues = issuesOf(`listeners: ["127.0.0.1:0"]
backends:
  a: { transparent: yes, servers: [{ address: "127.0.0.1:1", transparent: 1 }] }
  d: { transport: udp, transparent: true, servers: ["127.0.0.1:53"] }
default: a
`);
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    for (const re of [/^3:21 .*a\.transparent must be true or false/m, /^3:75 .*servers\[0\]\.transparent must be true or false/m, /^4:24 .*transparent applies to TCP backends only/m]) assert.match(text, re);
  });

  it('refuses bad backend keys where they stand', () => {
    const issues = issuesOf(`listeners: ["127.0.0.1:0"]
backends:
  b:
    balance: random
    retries: 99
    servers: [{ address: "127.0.0.1:1", weight: 0, max_connections: -1, send_proxy: v9, color: red }]
    health: { type: udp, interval: 1s, timeout: 2s, sni: x, expect: a, expect_regex: "(" }
    passive: { failures: many }
default: b
`);
    const text = issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n');
    for (const re of [/^4:14 .*balance must be one of/m, /^5:14 .*retries must be a whole number from 0 to 16/m, /^6:89 .*unknown key "color"/m, /^6:49 .*weight/m, /^6:69 .*max_connections/m, /^6:85 .*send_proxy must be one of/m, /^7:21 .*type must be one of: tcp, tls/m, /^7:49 .*must not exceed the interval/m, /sni and alpn apply only with type: tls/m, /use one of expect, expect_hex, expect_regex/m, /bad regular expression "\("/m, /^8:26 .*failures must be a whole number/m]) {
      assert.match(text, re);
    }
  });
});
