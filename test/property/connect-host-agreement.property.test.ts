/**
 * Property: a CONNECT request's `http.host` (what routes match) and the tunnel's target (what is
 * dialled and what the allowlist judges) are one spelling of one place. Were they not, a target
 * written "admin.internal." or "[::ffff:10.0.0.5]" would slip past an earlier route written for
 * "admin.internal" or "10.0.0.5" and be tunnelled by a later, laxer one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConnectTarget } from '../../src/forward/target.js';
import { parseHttpRequest } from '../../src/protocols/http/request.js';
import { check, fc, ipv4BytesArb, ipv4Text, ipv6TextForms } from './support.js';

function routedHost(target: string): string | undefined {
  const r = parseHttpRequest(Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`, 'latin1'));
  assert.equal(r.kind, 'ok', target);
  return r.kind === 'ok' ? r.value.host : undefined;
}

function dialled(target: string): string | undefined {
  const t = parseConnectTarget(target);
  return t.ok ? t.host : undefined;
}

describe('CONNECT: the routed host is the dialled host', () => {
  it('for the spellings that once differed', () => {
    for (const [target, host] of [
      ['admin.internal.:443', 'admin.internal'],
      ['ADMIN.Internal:443', 'admin.internal'],
      ['[::ffff:10.0.0.5]:443', '10.0.0.5'],
      ['[0:0:0:0:0:ffff:a00:5]:443', '10.0.0.5'],
      ['[::ffff:0:a00:5]:443', '10.0.0.5'],
      ['[2001:DB8:0:0::1]:443', '2001:db8::1'],
    ] as const) {
      assert.equal(routedHost(target), host, target);
      assert.equal(dialled(target), host, target);
    }
  });

  it('for every IPv6 text form of a random IPv4-mapped address, and for names with and without a trailing dot', () => {
    check(
      fc.property(ipv4BytesArb, fc.integer({ min: 1, max: 65535 }), (v4, port) => {
        const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
        for (const text of ipv6TextForms(mapped)) {
          const target = `[${text}]:${port}`;
          assert.equal(routedHost(target), ipv4Text(v4), target);
          assert.equal(dialled(target), ipv4Text(v4), target);
        }
      }),
      4101,
      200,
    );
    check(
      fc.property(fc.stringMatching(/^[a-z]([a-z0-9-]{0,18}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,18}[a-z0-9])?){0,3}$/), fc.boolean(), fc.boolean(), (name, dot, upper) => {
        const written = `${upper ? name.toUpperCase() : name}${dot ? '.' : ''}`;
        const target = `${written}:443`;
        assert.equal(routedHost(target), name, target);
        assert.equal(dialled(target), name, target);
      }),
      4102,
      300,
    );
  });
});
