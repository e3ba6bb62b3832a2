/**
 * parseRequestTarget and parseAuthority (src/admin/request-target.ts) fed whole and odd inputs:
 * every form of RFC 9112 §3.2, broken authorities, percent-encoding errors, ports out of range,
 * and arbitrary strings (never a throw). Each of the inputs that made `new URL()` throw is here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthority, parseRequestTarget, type RequestTarget } from '../../src/admin/request-target.js';
import { check, fc } from '../property/support.js';

function ok(target: string): RequestTarget {
  const r = parseRequestTarget(target);
  assert.ok(r.ok, `${JSON.stringify(target)}: ${r.ok ? '' : r.reason}`);
  return r.value;
}

function refused(target: string): string {
  const r = parseRequestTarget(target);
  assert.equal(r.ok, false, `${JSON.stringify(target)} was accepted as ${JSON.stringify(r.ok ? r.value : undefined)}`);
  return r.ok ? '' : r.reason;
}

/** What made the old handler's `new URL(req.url, 'http://admin')` throw, all of which llhttp lets through. */
const URL_THROWERS = ['//[', '//[::1', 'http://a:99999/', 'http://[::1/', 'http://a b/', 'http://[v1.x]/', 'https://%zz/', '//%/'];
/** new URL() reads these as scheme-relative URLs and throws; in a request line they are origin-form paths (RFC 9112 §3.2.1). */
const URL_THROWING_PATHS = ['//a:99999', '//a:b/', '//:x'];

describe('parseRequestTarget', () => {
  it('origin-form: the path, normalised, without the query', () => {
    assert.deepEqual(ok('/metrics'), { form: 'origin', path: '/metrics' });
    assert.deepEqual(ok('/metrics?from=prometheus&x=%20y/?'), { form: 'origin', path: '/metrics' });
    assert.deepEqual(ok('/'), { form: 'origin', path: '/' });
    assert.deepEqual(ok('/?'), { form: 'origin', path: '/' });
    // RFC 3986 §6.2.2: encoded unreserved characters are the characters; other encodings stay, in uppercase hex.
    assert.deepEqual(ok('/%68ealth%7A'), { form: 'origin', path: '/healthz' });
    assert.deepEqual(ok('/a%2fb%3F'), { form: 'origin', path: '/a%2Fb%3F' });
    // No dot-segment removal: another path, answered 404 by the routes.
    assert.deepEqual(ok('/./metrics'), { form: 'origin', path: '/./metrics' });
    assert.deepEqual(ok('//'), { form: 'origin', path: '//' });
    assert.deepEqual(ok("/a:b@c!$&'()*+,;=-._~"), { form: 'origin', path: "/a:b@c!$&'()*+,;=-._~" });
  });

  it('absolute-form: http and https, the authority parsed, an empty path is "/"', () => {
    assert.deepEqual(ok('http://127.0.0.1:9900/metrics'), { form: 'absolute', authority: { host: '127.0.0.1', kind: 'ipv4', port: 9900 }, path: '/metrics' });
    assert.deepEqual(ok('HTTPS://Admin.Example'), { form: 'absolute', authority: { host: 'admin.example', kind: 'name', port: undefined }, path: '/' });
    assert.deepEqual(ok('http://[0:0::1]:9900?x'), { form: 'absolute', authority: { host: '::1', kind: 'ipv6', port: 9900 }, path: '/' });
    assert.deepEqual(ok('http://a:/'), { form: 'absolute', authority: { host: 'a', kind: 'name', port: undefined }, path: '/' });
    assert.match(refused('ftp://a/'), /http or https/);
    assert.match(refused('http:/a'), /"\/\/" and an authority/);
    assert.match(refused('http:'), /"\/\/" and an authority/);
    assert.match(refused('http:///x'), /host is empty/);
    assert.match(refused('http://user:pw@a/'), /userinfo/);
    assert.match(refused('http://a:1@b/'), /userinfo/);
  });

  it('asterisk-form is "*" alone', () => {
    assert.deepEqual(ok('*'), { form: 'asterisk' });
    for (const t of ['**', '*/', '/*x*']) assert.notDeepEqual(parseRequestTarget(t), { ok: true, value: { form: 'asterisk' } }, t);
  });

  it('refuses every input that made new URL() throw, with a reason', () => {
    for (const t of URL_THROWERS) {
      assert.throws(() => new URL(t, 'http://admin'), TypeError, `${t}: new URL() throws (the old crash)`);
      assert.ok(refused(t).length > 0, t);
    }
    for (const t of URL_THROWING_PATHS) {
      assert.throws(() => new URL(t, 'http://admin'), TypeError, t);
      assert.deepEqual(ok(t), { form: 'origin', path: t }, 'a path like any other: 404');
    }
  });

  it('percent-encoding errors, fragments, controls, non-ASCII, spaces and gen-delims out of place', () => {
    for (const t of ['/%', '/%4', '/%zz', '/a%g0', '/?%', '/?q=%2']) assert.match(refused(t), /"%" not followed by two hex digits/, t);
    assert.match(refused('/a#b'), /no fragment/);
    assert.match(refused('http://a/#'), /no fragment/);
    for (const t of ['/a b', '/\x00', '/\x7f', '/é', '/\u{1F600}', '/[', '/]', '/a"b', '/<', '/\\', '/^', '/`', '/{', '/|']) assert.match(refused(t), /is not allowed in a path/, JSON.stringify(t));
    assert.match(refused('/?a b'), /is not allowed in a query/);
    assert.match(refused(''), /empty/);
    for (const t of ['a', 'a:1', 'localhost:9900', '1http://a/', '?x', ' /']) assert.match(refused(t), /neither|http or https/, t);
  });

  it('never throws, and an accepted path is always printable ASCII starting with "/" (seed 15100, 3000 runs)', () => {
    const anyTarget = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: fc.constantFrom(...'/%:@[]?#*.aZ09-~!$ '), maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(...'/%:@[]?#.aF09'), maxLength: 30 }).map((s) => `http://${s}`),
    );
    check(
      fc.property(anyTarget, (t) => {
        const r = parseRequestTarget(t);
        if (!r.ok) return assert.ok(r.reason.length > 0);
        if (r.value.form === 'asterisk') return assert.equal(t, '*');
        assert.match(r.value.path, /^\/[\x21-\x7e]*$/);
        // Reasons never quote input; a path never carries a query or fragment.
        assert.ok(!r.value.path.includes('?') && !r.value.path.includes('#'));
      }),
      15100,
      3000,
    );
  });
});

describe('parseAuthority (absolute-form targets and the Host header)', () => {
  it('names, IPv4, bracketed IPv6 (canonical), an optional port', () => {
    assert.deepEqual(parseAuthority('LocalHost:9900'), { ok: true, value: { host: 'localhost', kind: 'name', port: 9900 } });
    assert.deepEqual(parseAuthority('10.1.2.3'), { ok: true, value: { host: '10.1.2.3', kind: 'ipv4', port: undefined } });
    assert.deepEqual(parseAuthority('[FD00:0:0::0A]:1'), { ok: true, value: { host: 'fd00::a', kind: 'ipv6', port: 1 } });
    assert.deepEqual(parseAuthority('[::ffff:127.0.0.1]'), { ok: true, value: { host: '::ffff:127.0.0.1', kind: 'ipv6', port: undefined } });
    assert.deepEqual(parseAuthority('a:00080'), { ok: true, value: { host: 'a', kind: 'name', port: 80 } });
    assert.deepEqual(parseAuthority('a:65535'), { ok: true, value: { host: 'a', kind: 'name', port: 65535 } });
    // Not dotted-quad (RFC 3986 §3.2.2 reg-name): a name, which the Host check refuses unless allowed.
    for (const h of ['2130706433', '127.1', '0x7f.0.0.1', '01.2.3.4']) assert.equal(parseAuthority(h).ok && (parseAuthority(h) as { value: { kind: string } }).value.kind, 'name', h);
  });

  it('refuses broken authorities: ports out of range, brackets, zones, userinfo, empty hosts, stray characters', () => {
    const cases: [string, RegExp][] = [
      ['a:65536', /out of range/],
      ['a:99999999999999999999', /out of range/],
      ['a:0', /port 0/],
      ['a:00', /port 0/],
      ['a:-1', /digits only/],
      ['a:1:2', /digits only/],
      ['a: 1', /digits only/],
      ['::1', /empty/],
      ['::1:9900', /empty/],
      ['[::1', /without closing/],
      ['[::1]x', /after "\]"/],
      ['[fe80::1%25eth0]', /not an IPv6 address/],
      ['[v1.x]', /not an IPv6 address/],
      ['[1.2.3.4]', /not an IPv6 address/],
      ['[]', /not an IPv6 address/],
      ['', /empty/],
      [':80', /empty/],
      ['u@a', /userinfo/],
      ['a:1@b', /userinfo/],
      ['a b', /not allowed in a host name/],
      ['a/b', /not allowed in a host name/],
      ['a%2', /two hex digits/],
      ['é', /not allowed in a host name/],
    ];
    for (const [text, why] of cases) {
      const r = parseAuthority(text);
      assert.equal(r.ok, false, `${JSON.stringify(text)} accepted`);
      assert.match(r.ok ? '' : r.reason, why, text);
    }
  });

  it('never throws; an accepted port is 1..65535 and a host is lowercase (seed 15101, 3000 runs)', () => {
    check(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom(...'[]:.%@09afAF'), maxLength: 30 })), (t) => {
        const r = parseAuthority(t);
        if (!r.ok) return;
        assert.equal(r.value.host, r.value.host.toLowerCase());
        assert.ok(r.value.host.length > 0);
        if (r.value.port !== undefined) assert.ok(Number.isInteger(r.value.port) && r.value.port >= 1 && r.value.port <= 65535);
      }),
      15101,
      3000,
    );
  });
});
