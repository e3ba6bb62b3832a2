/**
 * Property tests for parseConnectTarget (src/forward/target.ts), the authority-form target of a
 * CONNECT request, and its agreement with parseHttpRequest on the same request line.
 */
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { parseConnectTarget } from '../../src/forward/target.js';
import { parseHttpRequest } from '../../src/protocols/http/request.js';
import { canonicalHostText } from '../../src/protocols/ip/canonical.js';
import { check, fc, ipv4BytesArb, ipv4Text, ipv6BytesArb, ipv6TextForms, latin1 } from './support.js';

/** A last label that getaddrinfo (inet_aton) and WHATWG URL read as a number: no host name (RFC 3696 §2). */
const ENDS_IN_NUMBER = /(^|\.)(\d+|0x[0-9a-f]*)\.?$/i;
const LDH = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const labelArb = fc
  .tuple(fc.constantFrom(...LDH), fc.string({ unit: fc.constantFrom(...LDH, '-'), maxLength: 61 }), fc.constantFrom(...LDH))
  .map(([a, mid, z]) => (mid.length === 0 && a === z ? a : a + mid + z));
const hostNameArb = fc
  .tuple(fc.array(labelArb, { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([labels, dot]) => labels.join('.') + (dot ? '.' : ''))
  .filter((h) => h.length <= 253 && !ENDS_IN_NUMBER.test(h));

type Target = { text: string; host: string; port: number };
const portArb = fc.integer({ min: 1, max: 65535 });
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  fc.tuple(hostNameArb, portArb).map(([h, port]) => ({ text: `${h}:${port}`, host: h.toLowerCase().replace(/\.$/, ''), port })),
  fc.tuple(ipv4BytesArb, portArb).map(([b, port]) => ({ text: `${ipv4Text(b)}:${port}`, host: ipv4Text(b), port })),
  fc.tuple(ipv6BytesArb, fc.nat(), portArb).map(([b, k, port]) => {
    const forms = ipv6TextForms(b);
    const t = forms[k % forms.length]!;
    // Dialled in its one spelling (connect-host-agreement.property checks that spelling).
    return { text: `[${t}]:${port}`, host: canonicalHostText(t), port };
  }),
);

describe('parseConnectTarget', () => {
  it('never throws on arbitrary strings; an ok host is lowercase without a trailing dot, the port 1..65535 (seed 9100, 1000 runs)', () => {
    const anyText = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(...'ab09.-_:[]%@ '), maxLength: 40 }),
      targetArb.map((t) => t.text),
    );
    check(
      fc.property(anyText, (t) => {
        const r = parseConnectTarget(t);
        if (!r.ok) {
          assert.ok(r.reason.length > 0);
          return;
        }
        assert.ok(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535);
        assert.equal(r.host, r.host.toLowerCase());
        assert.ok(!r.host.endsWith('.'));
        assert.ok(isIPv4(r.host) || isIPv6(r.host) || /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(r.host), r.host);
      }),
      9100,
      1000,
    );
  });

  it('host:port, IPv4:port and [IPv6]:port round trip (seed 9101, 600 runs)', () => {
    check(
      fc.property(targetArb, (t) => {
        assert.deepEqual(parseConnectTarget(t.text), { ok: true, host: t.host, port: t.port });
      }),
      9101,
      600,
    );
  });

  it('a host that ends in a number but is not a dotted quad (127.1, 2130706433, 0177.0.0.1, 0x7f.1, a.9) is refused (seed 9104, 600 runs)', () => {
    const octet = fc.oneof(fc.nat(255).map(String), fc.nat(0xffffffff).map(String), fc.nat(255).map((n) => '0' + n.toString(8)), fc.nat(255).map((n) => '0x' + n.toString(16)), fc.nat(255).map((n) => '0X' + n.toString(16).toUpperCase()));
    const numericHost = fc.oneof(
      fc.array(octet, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
      fc.tuple(hostNameArb, octet).map(([h, o]) => `${h.replace(/\.$/, '')}.${o}`),
    ).chain((h) => fc.constantFrom(h, h + '.'));
    check(
      fc.property(numericHost, portArb, (h, port) => {
        const r = parseConnectTarget(`${h}:${port}`);
        if (isIPv4(h.replace(/\.$/, ''))) assert.deepEqual(r, { ok: true, host: h.replace(/\.$/, ''), port }, h);
        else assert.equal(r.ok, false, `${h} must be refused, got ${JSON.stringify(r)}`);
      }),
      9104,
      600,
    );
  });

  it('port 0, above 65535, missing or not decimal is refused (seed 9102, 400 runs)', () => {
    const badPort = fc.oneof(fc.constant('0'), fc.integer({ min: 65536, max: 99999 }).map(String), fc.constant(''), fc.string({ unit: fc.constantFrom(...'0123456789x+- '), minLength: 1, maxLength: 6 }).filter((p) => !/^\d{1,5}$/.test(p) || Number(p) === 0 || Number(p) > 65535));
    check(
      fc.property(targetArb, badPort, (t, p) => {
        const text = t.text.slice(0, t.text.lastIndexOf(':') + 1) + p;
        assert.equal(parseConnectTarget(text).ok, false, text);
      }),
      9102,
      400,
    );
  });

  it('whatever it accepts, parseHttpRequest accepts as a CONNECT target with the same host and port (seed 9103, 600 runs)', () => {
    check(
      fc.property(fc.oneof(targetArb.map((t) => t.text), fc.string({ unit: fc.constantFrom(...'ab09.-_:[]'), maxLength: 30 })), (t) => {
        const r = parseConnectTarget(t);
        if (!r.ok) return;
        const h = parseHttpRequest(latin1(`CONNECT ${t} HTTP/1.1\r\n\r\n`));
        assert.equal(h.kind, 'ok', `${t}: ${JSON.stringify(h)}`);
        if (h.kind !== 'ok') return;
        assert.equal(h.value.host?.replace(/\.$/, ''), r.host);
        assert.equal(h.value.hostPort, r.port);
      }),
      9103,
      600,
    );
  });
});
