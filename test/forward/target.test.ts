/** The CONNECT request-target (authority-form, RFC 9112 §3.2.3): what is a tunnel target and what is answered with 400. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostHeaderDisagrees, parseConnectTarget } from '../../src/forward/target.js';

function ok(target: string, host: string, port: number): void {
  assert.deepEqual(parseConnectTarget(target), { ok: true, host, port }, target);
}

function bad(target: string, why: RegExp): void {
  const r = parseConnectTarget(target);
  assert.equal(r.ok, false, `${JSON.stringify(target)} must be refused, got ${JSON.stringify(r)}`);
  if (!r.ok) assert.match(r.reason, why, target);
}

describe('hostHeaderDisagrees (a CONNECT whose Host names another place is answered 400)', () => {
  const t = { host: 'example.com', port: 443 };
  it('agrees when Host is absent, the same host (trailing dot, case already folded by the parser), or the same host without a port', () => {
    assert.equal(hostHeaderDisagrees(undefined, t), undefined);
    assert.equal(hostHeaderDisagrees({ host: 'example.com', port: 443 }, t), undefined);
    assert.equal(hostHeaderDisagrees({ host: 'example.com.', port: 443 }, t), undefined);
    assert.equal(hostHeaderDisagrees({ host: 'example.com', port: undefined }, t), undefined);
    assert.equal(hostHeaderDisagrees({ host: '::ffff:127.0.0.1', port: 22 }, { host: '127.0.0.1', port: 22 }), undefined);
    assert.equal(hostHeaderDisagrees({ host: '2001:db8:0:0::1', port: 22 }, { host: '2001:db8::1', port: 22 }), undefined);
  });
  it('disagrees for another host, another port, or an empty Host', () => {
    assert.match(hostHeaderDisagrees({ host: 'evil.example', port: 443 }, t) ?? '', /Host names evil\.example, the target example\.com/);
    assert.match(hostHeaderDisagrees({ host: 'example.com', port: 8443 }, t) ?? '', /Host names port 8443, the target port 443/);
    assert.match(hostHeaderDisagrees({ host: undefined, port: undefined }, t) ?? '', /Host is empty/);
    assert.match(hostHeaderDisagrees({ host: '127.0.0.2', port: 443 }, { host: '127.0.0.1', port: 443 }) ?? '', /Host names 127\.0\.0\.2/);
    assert.match(hostHeaderDisagrees({ host: '::1', port: 443 }, { host: '127.0.0.1', port: 443 }) ?? '', /Host names \[::1\]/);
    assert.match(hostHeaderDisagrees({ host: 'www.example.com', port: 443 }, t) ?? '', /Host names www\.example\.com/);
  });
});

describe('parseConnectTarget', () => {
  it('takes host:port with a name, an IPv4 address and a bracketed IPv6 address', () => {
    ok('example.com:443', 'example.com', 443);
    ok('192.0.2.7:8080', '192.0.2.7', 8080);
    ok('[2001:db8::1]:443', '2001:db8::1', 443);
    ok('[::1]:22', '::1', 22);
    ok('localhost:1', 'localhost', 1);
    ok('a.example:65535', 'a.example', 65535);
    ok('_acme.under_score.example:443', '_acme.under_score.example', 443);
  });

  it('lowercases the host and drops one trailing dot, so allowlists compare one spelling', () => {
    ok('WWW.Example.COM:443', 'www.example.com', 443);
    ok('example.com.:443', 'example.com', 443);
    ok('[2001:DB8::A]:443', '2001:db8::a', 443);
  });

  it('refuses port 0 and ports above 65535', () => {
    bad('example.com:0', /1 to 65535/);
    bad('example.com:65536', /1 to 65535/);
    bad('example.com:99999', /1 to 65535/);
    bad('[::1]:0', /1 to 65535/);
  });

  it('refuses non-numeric, signed, spaced, empty and over-long ports', () => {
    for (const port of ['abc', '44a', '0x1bb', '+443', '-1', ' 443', '443 ', '4.4', '', '123456']) bad(`example.com:${port}`, /port must be a number/);
  });

  it('refuses an empty target, a missing port and a missing host', () => {
    bad('', /host:port/);
    bad('example.com', /host:port/);
    bad(':443', /host:port/);
    bad('443', /host:port/);
  });

  it('refuses malformed host names', () => {
    for (const host of ['exa mple.com', 'user@example.com', '-bad.example', 'bad-.example', 'a..b', '.example', 'ex/ample', 'ex%41mple', 'a'.repeat(64) + '.example', 'é.example']) {
      bad(`${host}:443`, /not a valid name or address/);
    }
  });

  it('refuses malformed IPv6 literals: unbracketed, unclosed, no port separator, not an address', () => {
    bad('::1:443', /not a valid name or address/); // unbracketed: the last colon cannot be told from the address
    bad('2001:db8::1:443', /not a valid name or address/);
    bad('[::1', /\[addr\]:port/);
    bad('[::1]', /\[addr\]:port/);
    bad('[::1]443', /\[addr\]:port/);
    bad('[::1]:', /port must be a number/);
    bad('[zz::1]:443', /not an IPv6 address/);
    bad('[1.2.3.4]:443', /not an IPv6 address/);
    bad('[example.com]:443', /not an IPv6 address/);
    bad('[]:443', /not an IPv6 address/);
  });

  it('refuses a host that ends in a number but is not four decimal octets: getaddrinfo would read it as an address', () => {
    for (const host of ['127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7F000001', '127.0.0.01', '127.000.0.1', '1.2.3.4.5', 'a.1', 'example.0x10', '10.1.', '0x']) {
      bad(`${host}:443`, /neither a host name nor an IPv4 address in dotted-decimal form/);
    }
    // One trailing dot on a dotted quad is the same address; a name whose last label merely starts
    // with a digit is a name.
    ok('127.0.0.1.:443', '127.0.0.1', 443);
    ok('a.1b:443', 'a.1b', 443);
    ok('1password.example:443', '1password.example', 443);
  });

  it('refuses IPv6 zone ids (a client must not pick the interface), raw or percent-encoded', () => {
    bad('[fe80::1%eth0]:443', /not an IPv6 address/);
    bad('[fe80::1%25eth0]:443', /not an IPv6 address/);
    bad('[fe80::1%1]:443', /not an IPv6 address/);
  });
});
