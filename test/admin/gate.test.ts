/**
 * The admin endpoint's admission (src/admin/gate.ts) as a pure function: the Host check against
 * DNS rebinding (host-check.ts), the bearer token (auth.ts), methods and the target forms; and
 * the access derived from an `admin:` section (listen name, allowed_hosts, token).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminAccess, admit, OPEN_ACCESS, type AdminAccess, type RequestFacts } from '../../src/admin/gate.js';
import { bearerMatches } from '../../src/admin/auth.js';
import { tokenDigest } from '../../src/config/admin-token.js';
import { hostAllowed, hostPolicy } from '../../src/admin/host-check.js';
import { parseAuthority } from '../../src/admin/request-target.js';
import type { AdminConfig } from '../../src/config/types.js';

const TOKEN = 'c2VjcmV0LXRva2VuLWZvci10ZXN0cw==';
const WITH_TOKEN: AdminAccess = { ...OPEN_ACCESS, token: { required: true, digest: tokenDigest(TOKEN) } };

function facts(over: Partial<RequestFacts> & { headers?: [string, string][] } = {}): RequestFacts {
  const { headers = [['Host', '127.0.0.1:9900']], ...rest } = over;
  return { method: 'GET', target: '/metrics', httpVersion: '1.1', rawHeaders: headers.flat(), localAddress: '127.0.0.1', ...rest };
}

const status = (f: RequestFacts, access: AdminAccess = OPEN_ACCESS): number | string => {
  const a = admit(f, access);
  return a.ok ? a.path : a.reply.status;
};

function host(text: string): NonNullable<ReturnType<typeof parseAuthority> & { ok: true }>['value'] {
  const r = parseAuthority(text);
  assert.ok(r.ok, text);
  return r.value;
}

describe('hostAllowed: DNS rebinding', () => {
  const none = hostPolicy([]);
  it('the address the connection arrived on, in any spelling, any port', () => {
    assert.equal(hostAllowed(host('10.1.2.3:9900'), '10.1.2.3', none), true);
    assert.equal(hostAllowed(host('10.1.2.3'), '::ffff:10.1.2.3', none), true, 'IPv4 client on a dual-stack socket');
    assert.equal(hostAllowed(host('[::ffff:10.1.2.3]:1'), '10.1.2.3', none), true);
    assert.equal(hostAllowed(host('[fd00:0::5]:9900'), 'fd00::5', none), true);
    assert.equal(hostAllowed(host('127.0.0.1:19900'), '127.0.0.1', none), true, 'a port mapping changes the port, not the address');
    assert.equal(hostAllowed(host('10.1.2.4:9900'), '10.1.2.3', none), false, 'another address');
    assert.equal(hostAllowed(host('10.1.2.3'), undefined, none), false, 'the socket is gone');
  });

  it('localhost only on a loopback connection; other names only when allowed', () => {
    assert.equal(hostAllowed(host('localhost:9900'), '127.0.0.1', none), true);
    assert.equal(hostAllowed(host('LOCALHOST'), '::1', none), true);
    assert.equal(hostAllowed(host('localhost'), '10.1.2.3', none), false);
    for (const h of ['attacker.example:9900', 'localhost.', 'a.localhost', '127.1', '2130706433', 'portplex']) assert.equal(hostAllowed(host(h), '127.0.0.1', none), false, h);
    const names = hostPolicy(['Portplex-Admin.Monitoring.svc', '192.0.2.7', '::1']);
    assert.equal(hostAllowed(host('portplex-admin.monitoring.svc:9900'), '10.1.2.3', names), true);
    assert.equal(hostAllowed(host('192.0.2.7'), '10.1.2.3', names), true, 'an allowed address (NAT in front)');
    assert.equal(hostAllowed(host('[0::1]'), '10.1.2.3', names), true);
    assert.equal(hostAllowed(host('portplex-admin'), '10.1.2.3', names), false);
  });
});

describe('admit', () => {
  it('lets a well-formed GET or HEAD through with its normalised path', () => {
    assert.equal(status(facts()), '/metrics');
    assert.equal(status(facts({ method: 'HEAD', target: '/%73tatus.json?x=1' })), '/status.json');
    assert.equal(status(facts({ target: 'http://127.0.0.1:9900' })), '/');
  });

  it('400: a broken target or Host, two Hosts, two Authorizations, HTTP/1.1 without Host, "*" with GET', () => {
    for (const target of ['//[', 'http://a:99999/', '/%zz', '/a#b', 'ftp://x/', '']) assert.equal(status(facts({ target })), 400, target);
    for (const h of ['', '[::1', 'a:99999', 'u@127.0.0.1', '127.0.0.1:0', 'a b']) assert.equal(status(facts({ headers: [['Host', h]] })), 400, h);
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['host', '127.0.0.1']] })), 400);
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['Authorization', `Bearer ${TOKEN}`], ['AUTHORIZATION', `Bearer ${TOKEN}`]] }), WITH_TOKEN), 400);
    assert.equal(status(facts({ headers: [] })), 400);
    assert.equal(status(facts({ target: '*' })), 400);
    const bad = admit(facts({ target: '//[' }), OPEN_ACCESS);
    assert.ok(!bad.ok && bad.reply.headers?.['connection'] === 'close', 'a malformed request closes its connection');
  });

  it('HTTP/1.0 without Host is answered (no browser sends it, so no rebinding page can)', () => {
    assert.equal(status(facts({ httpVersion: '1.0', headers: [] })), '/metrics');
  });

  it('421: a Host that is not the admin\'s; the absolute-form authority counts instead of Host (RFC 9112 §3.2.2)', () => {
    assert.equal(status(facts({ headers: [['Host', 'attacker.example:9900']] })), 421);
    assert.equal(status(facts({ target: 'http://attacker.example/metrics', headers: [['Host', '127.0.0.1']] })), 421);
    assert.equal(status(facts({ target: 'http://127.0.0.1/metrics', headers: [['Host', 'attacker.example']] })), '/metrics');
    // Before the method and the token: a rebinding page learns nothing about either.
    assert.equal(status(facts({ method: 'POST', headers: [['Host', 'attacker.example']] }), WITH_TOKEN), 421);
    assert.equal(status(facts({ target: '/healthz', headers: [['Host', 'attacker.example']] })), 421);
  });

  it('405 for other methods, OPTIONS * included, with Allow', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND']) {
      const a = admit(facts({ method }), OPEN_ACCESS);
      assert.ok(!a.ok && a.reply.status === 405 && a.reply.headers?.['allow'] === 'GET, HEAD', method);
    }
    assert.equal(status(facts({ method: 'OPTIONS', target: '*' })), 405);
  });

  it('401 with WWW-Authenticate: Bearer without the right token, except /healthz and /readyz', () => {
    for (const path of ['/metrics', '/', '/status.json', '/nope', '/%68ealthz/']) {
      const a = admit(facts({ target: path }), WITH_TOKEN);
      assert.ok(!a.ok && a.reply.status === 401, path);
      assert.equal(a.ok ? '' : a.reply.headers?.['www-authenticate'], 'Bearer realm="portplex admin"');
    }
    const wrong = admit(facts({ headers: [['Host', '127.0.0.1'], ['Authorization', 'Bearer wrong']] }), WITH_TOKEN);
    assert.equal(wrong.ok ? '' : wrong.reply.headers?.['www-authenticate'], 'Bearer realm="portplex admin", error="invalid_token"');
    for (const path of ['/healthz', '/readyz', '/%68ealthz']) assert.match(String(status(facts({ target: path }), WITH_TOKEN)), /^\/(healthz|readyz)$/, path);
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['Authorization', `Bearer ${TOKEN}`]] }), WITH_TOKEN), '/metrics');
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['authorization', `bEaReR  ${TOKEN}`]] }), WITH_TOKEN), '/metrics');
    // Fail closed: a token is required but was never read (rules compiled without it).
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['Authorization', `Bearer ${TOKEN}`]] }), { ...OPEN_ACCESS, token: { required: true, digest: undefined } }), 401);
  });
});

describe('bearerMatches', () => {
  it('only "Bearer <the token>": other schemes, prefixes, extensions, padding changes and junk are refused', () => {
    const d = tokenDigest(TOKEN);
    assert.equal(bearerMatches(`Bearer ${TOKEN}`, d), true);
    for (const v of [undefined, '', 'Bearer', 'Bearer ', TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN.slice(0, -2)}`, `Bearer ${TOKEN} `, `Bearer ${TOKEN},x`, `Bearer\t${TOKEN}`, `Bearer ${TOKEN}\u0000`, `Bearer ${'A'.repeat(10000)}`]) {
      assert.equal(bearerMatches(v, d), false, JSON.stringify(v?.slice(0, 40)));
    }
  });
});

describe('adminAccess: from the admin: section', () => {
  const base: AdminConfig = { listen: { host: '0.0.0.0', port: 9900 }, statusRefreshMs: 5000, allowedHosts: [], tokenFile: undefined, tokenDigest: undefined, pos: { file: 'a.yaml', line: 1, col: 1 } };
  it('adds the listen host when it is a name, the allowed hosts, and the token', () => {
    const named = adminAccess({ ...base, listen: { host: 'admin.internal', port: 9900 }, allowedHosts: ['portplex.monitoring.svc'] });
    assert.equal(status(facts({ headers: [['Host', 'admin.internal:9900']], localAddress: '10.0.0.5' }), named), '/metrics');
    assert.equal(status(facts({ headers: [['Host', 'portplex.monitoring.svc']], localAddress: '10.0.0.5' }), named), '/metrics');
    assert.equal(status(facts({ headers: [['Host', '0.0.0.0:9900']], localAddress: '10.0.0.5' }), adminAccess(base)), 421, 'the wildcard is not an address anyone connects to');
    const token = adminAccess({ ...base, tokenFile: { path: '/t', pos: base.pos }, tokenDigest: tokenDigest(TOKEN) });
    assert.equal(status(facts(), token), 401);
    assert.equal(status(facts({ headers: [['Host', '127.0.0.1'], ['Authorization', `Bearer ${TOKEN}`]] }), token), '/metrics');
  });
});
