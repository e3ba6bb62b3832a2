/** The `admin:` section: off unless present, a host:port to listen on, a refresh period, and a warning off loopback. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/admin.js';

const BASE = `listeners:
  - name: main
    bind: "127.0.0.1:8443"
backends:
  web: { servers: ["127.0.0.1:4443"] }
default: web
`;

function compiled(text: string): NonNullable<ReturnType<typeof compileRulesText> & { ok: true }>['rules'] {
  const r = compileRulesText(text, 'a.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

function issues(text: string): { line: number; col: number; message: string }[] {
  const r = compileRulesText(text, 'a.yaml');
  assert.equal(r.ok, false, 'expected the rule file to be refused');
  assert.equal(r.ok ? '' : r.code, 'PORTPLEX_ERR_RULES_INVALID');
  return r.ok ? [] : r.issues.map(({ line, col, message }) => ({ line, col, message }));
}

describe('admin: in the rule file', () => {
  it('is off without the section, and with an empty one', () => {
    assert.equal(compiled(BASE).admin, undefined);
    assert.equal(compiled(`${BASE}admin:\n`).admin, undefined);
  });

  it('compiles listen with the default refresh of 5s, and no warning on loopback', () => {
    const rules = compiled(`${BASE}admin:\n  listen: "127.0.0.1:9900"\n`);
    assert.deepEqual(rules.admin, { listen: { host: '127.0.0.1', port: 9900 }, statusRefreshMs: 5000, allowedHosts: [], tokenFile: undefined, tokenDigest: undefined, pos: { file: 'a.yaml', line: 8, col: 11 } });
    assert.deepEqual(rules.warnings, []);
  });

  it('reads IPv6 in brackets, localhost, and status_refresh with units', () => {
    assert.deepEqual(compiled(`${BASE}admin: { listen: "[::1]:9901", status_refresh: 1m }\n`).admin?.listen, { host: '::1', port: 9901 });
    assert.equal(compiled(`${BASE}admin: { listen: "[::1]:9901", status_refresh: 1m }\n`).admin?.statusRefreshMs, 60_000);
    const local = compiled(`${BASE}admin: { listen: "localhost:9900", status_refresh: 1s }\n`);
    assert.equal(local.admin?.statusRefreshMs, 1000);
    assert.deepEqual(local.warnings, []);
    assert.equal(compiled(`${BASE}admin: { listen: "127.0.0.1:9900", status_refresh: 1h }\n`).admin?.statusRefreshMs, 3_600_000);
  });

  it('allows a non-loopback address, with a warning at the listen value naming what becomes reachable', () => {
    for (const listen of ['0.0.0.0:9900', ':9900', '[::]:9900', '10.1.2.3:9900', 'admin.example:9900']) {
      const rules = compiled(`${BASE}admin:\n  status_refresh: 5s\n  listen: "${listen}"\n`);
      assert.ok(rules.admin, listen);
      assert.equal(rules.warnings.length, 1, listen);
      const w = rules.warnings[0]!;
      assert.deepEqual([w.file, w.line, w.col], ['a.yaml', 9, 11], listen);
      assert.match(w.message, /is not a loopback address: \/metrics, \/status\.json and the status page .* reachable from that network/, listen);
    }
  });

  it('refuses a bad listen, at its line and column', () => {
    const cases: [string, RegExp][] = [
      ['"127.0.0.1"', /admin\.listen: "127\.0\.0\.1": expected host:port/],
      ['"::1:9900"', /write IPv6 addresses in brackets/],
      ['"127.0.0.1:99999"', /the port must be a number from 0 to 65535/],
      ['"not a host:9900"', /neither an IPv4 address nor a host name/],
      ['[a, b]', /admin\.listen must be a non-empty string/],
    ];
    for (const [value, message] of cases) {
      const found = issues(`${BASE}admin:\n  listen: ${value}\n`);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.deepEqual([found[0]!.line, found[0]!.col], [8, 11], value);
      assert.match(found[0]!.message, message, value);
    }
  });

  it('refuses a missing listen, unknown keys, and a refresh outside 1s..1h, each where it stands', () => {
    const missing = issues(`${BASE}admin:\n  status_refresh: 5s\n`);
    assert.deepEqual(missing.map((i) => [i.line, i.col]), [[8, 3]]);
    assert.match(missing[0]!.message, /admin needs listen: "127\.0\.0\.1:9900"/);

    const unknown = issues(`${BASE}admin:\n  listen: "127.0.0.1:9900"\n  port: 9900\n`);
    assert.deepEqual(unknown.map((i) => [i.line, i.col]), [[9, 3]]);
    assert.match(unknown[0]!.message, /admin: unknown key "port" \(allowed: listen, status_refresh, allowed_hosts, token_file\)/);

    for (const bad of ['500ms', '999', '2h', 'often', '-1s']) {
      const found = issues(`${BASE}admin:\n  listen: "127.0.0.1:9900"\n  status_refresh: ${bad}\n`);
      assert.deepEqual(found.map((i) => [i.line, i.col]), [[9, 19]], bad);
      assert.match(found[0]!.message, /admin\.status_refresh must be a duration .* from 1000ms to 3600000ms/, bad);
    }

    const notMap = issues(`${BASE}admin: "127.0.0.1:9900"\n`);
    assert.deepEqual(notMap.map((i) => [i.line, i.col]), [[7, 8]]);
    assert.match(notMap[0]!.message, /admin must be a mapping/);
  });

  it('refuses an address a listener or demo service already binds', () => {
    const listener = issues(`${BASE}admin: { listen: "127.0.0.1:8443" }\n`);
    assert.match(listener[0]!.message, /127\.0\.0\.1:8443 is already used by listener "main"/);
    assert.deepEqual([listener[0]!.line, listener[0]!.col], [7, 18]);
    const demo = issues(`${BASE}demo: [{ name: d, kind: http, listen: "127.0.0.1:18080" }]\nadmin: { listen: "127.0.0.1:18080" }\n`);
    assert.match(demo[0]!.message, /already used by demo service "d"/);
    // Port 0 is chosen by the system: never a clash (tests bind everything on 0).
    assert.ok(compiled(`listeners: ["127.0.0.1:0"]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\nadmin: { listen: "127.0.0.1:0" }\n`).admin);
  });
});

describe('isLoopbackHost', () => {
  it('knows 127/8, ::1 in any spelling, IPv4-mapped loopback and localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '::2', '::ffff:10.0.0.1', 'example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });
});
