import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpSignature, parseHttpRequest, type HttpRequestHead } from '../../../src/protocols/http/request.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { fuzzParser, randInt, signatureDecision as decision } from '../../helpers/fuzz.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const parse = (bytes: Uint8Array): ParseResult<HttpRequestHead> => parseHttpRequest(bytes);

function head(
  raw: string,
  method: string,
  target: string,
  version: '1.0' | '1.1',
  host: string | undefined,
  hostPort: number | undefined,
  hostHeader: HttpRequestHead['hostHeader'] = hostHeaderOf(raw, method, host, hostPort),
  headerBytes = Buffer.byteLength(raw, 'latin1'),
): ParseResult<HttpRequestHead> {
  return ok({ method, target, version, host, hostPort, hostHeader, headerBytes }, headerBytes);
}

/** Without a Host line there is no hostHeader; outside CONNECT it is what host/hostPort say. */
function hostHeaderOf(raw: string, method: string, host: string | undefined, port: number | undefined): HttpRequestHead['hostHeader'] {
  if (!/\nhost:/i.test(raw)) return undefined;
  if (method === 'CONNECT') throw new Error('give a CONNECT head with Host its hostHeader');
  return { host, port };
}

// --- valid heads, every delivery ------------------------------------------------------------

/** [test name, request head, then the expected method, target, version, host, hostPort]. */
const VALID_HEADS: readonly (readonly [string, string, string, string, '1.0' | '1.1', string | undefined, number | undefined, HttpRequestHead['hostHeader']?])[] = [
  ['GET with Host (lowercased, no port)', 'GET /index.html?q=1 HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n', 'GET', '/index.html?q=1', '1.1', 'example.com', undefined],
  ['Host with port and surrounding OWS', 'GET / HTTP/1.1\r\nhost: \t example.com:8080 \t\r\n\r\n', 'GET', '/', '1.1', 'example.com', 8080],
  ['IPv6 Host literal with port, brackets stripped, lowercased', 'GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\n', 'GET', '/', '1.1', '2001:db8::1', 8443],
  ['IPv6 Host literal without port', 'HEAD / HTTP/1.1\r\nHost: [::1]\r\n\r\n', 'HEAD', '/', '1.1', '::1', undefined],
  ['IPv4 Host with port', 'GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n', 'GET', '/', '1.1', '192.0.2.1', 80],
  ['empty port ("host:") gives no port', 'GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n', 'GET', '/', '1.1', 'example.com', undefined],
  ['CONNECT example.com:443 with another Host: host from the target (where the tunnel goes), Host as hostHeader', 'CONNECT example.com:443 HTTP/1.1\r\nHost: proxy.Example:8443\r\nProxy-Authorization: x\r\n\r\n', 'CONNECT', 'example.com:443', '1.1', 'example.com', 443, { host: 'proxy.example', port: 8443 }],
  ['CONNECT with the same Host', 'CONNECT Example.com:443 HTTP/1.1\r\nHost: example.COM:443\r\n\r\n', 'CONNECT', 'Example.com:443', '1.1', 'example.com', 443, { host: 'example.com', port: 443 }],
  ['CONNECT with an empty Host: hostHeader with no host', 'CONNECT example.com:443 HTTP/1.1\r\nHost: \r\n\r\n', 'CONNECT', 'example.com:443', '1.1', 'example.com', 443, { host: undefined, port: undefined }],
  ['CONNECT example.com:443 without Host: host from the authority target', 'CONNECT Example.com:443 HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n', 'CONNECT', 'Example.com:443', '1.1', 'example.com', 443, undefined],
  ['CONNECT [v6]:port without Host: host from the authority target', 'CONNECT [2001:db8::5]:22 HTTP/1.1\r\n\r\n', 'CONNECT', '[2001:db8::5]:22', '1.1', '2001:db8::5', 22, undefined],
  ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', 'GET', '/', '1.0', undefined, undefined],
  ['HTTP/1.1 without Host is accepted with host undefined', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'GET', '/', '1.1', undefined, undefined],
  ['empty Host value is allowed (RFC 9110 §7.2) and reported as undefined', 'OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n', 'OPTIONS', '*', '1.1', undefined, undefined],
  ['lowercase method is a token: accepted and reported as sent', 'get /a HTTP/1.1\r\nHOST: a.example\r\n\r\n', 'get', '/a', '1.1', 'a.example', undefined],
  ['lowercase "connect" is not CONNECT (methods are case-sensitive)', 'connect / HTTP/1.1\r\n\r\n', 'connect', '/', '1.1', undefined, undefined],
  ['bare LF line ends are accepted', 'GET / HTTP/1.1\nHost: a.example\n\n', 'GET', '/', '1.1', 'a.example', undefined],
  ['mixed CRLF and bare LF line ends are accepted', 'GET / HTTP/1.1\r\nHost: a.example\n\r\n', 'GET', '/', '1.1', 'a.example', undefined],
  ['absolute-form target and percent-encoded Host', 'GET http://example.com/x HTTP/1.1\r\nHost: ex%41mple.com\r\n\r\n', 'GET', 'http://example.com/x', '1.1', 'ex%41mple.com', undefined],
];

for (const [name, raw, method, target, version, host, hostPort, ...hostHeader] of VALID_HEADS) {
  test(name, () => {
    assertSameForEveryDelivery(parse, b(raw), head(raw, method, target, version, host, hostPort, ...hostHeader));
  });
}

test('bytes after the head (body) are not part of it', () => {
  const headRaw = 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n';
  assertSameForEveryDelivery(parse, b(headRaw + 'hello'), head(headRaw, 'POST', '/x', '1.1', 'a', undefined));
});

test('request-target with 0x80-0xff bytes is accepted and reported as latin1', () => {
  const bytes = Buffer.concat([b('GET /caf'), hex('c3a9'), b(' HTTP/1.1\r\nHost: a\r\n\r\n')]);
  assertSameForEveryDelivery(parse, bytes, head(bytes.toString('latin1'), 'GET', '/caf\u00c3\u00a9', '1.1', 'a', undefined));
});

test('method of exactly 32 chars is accepted, 33 is not', () => {
  const m32 = 'A'.repeat(32);
  const raw = `${m32} / HTTP/1.1\r\n\r\n`;
  assertSameForEveryDelivery(parse, b(raw), head(raw, m32, '/', '1.1', undefined, undefined));
  assertSameForEveryDelivery(parse, b(`${'A'.repeat(33)} / HTTP/1.1\r\n\r\n`), invalid('method too long'));
});

test('a complete request line with incomplete headers is still incomplete', () => {
  assert.deepEqual(parse(b('GET / HTTP/1.1\r\n')), incomplete());
  assert.deepEqual(parse(b('GET / HTTP/1.1\r\nHost: a\r\n')), incomplete());
  assert.deepEqual(parse(b('GET / HTTP/1.1\r\nHost: a\r\n\r')), incomplete());
  assert.deepEqual(parse(new Uint8Array(0)), incomplete());
});

// --- invalid heads, every delivery ----------------------------------------------------------

test('space before colon is invalid (RFC 9112 §5.1)', () => {
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nHost : a\r\n\r\n'), invalid('whitespace between header name and colon'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nX\t: a\r\n\r\n'), invalid('whitespace between header name and colon'));
});

test('two Host headers are invalid (RFC 9112 §3.2)', () => {
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nhost: a\r\n\r\n'), invalid('multiple Host headers'));
});

test('obs-fold is invalid', () => {
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n  b\r\n\r\n'), invalid('obs-fold or whitespace-preceded line'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\n\tHost: a\r\n\r\n'), invalid('obs-fold or whitespace-preceded line'));
});

test('HTTP/2.0 (and other versions) are invalid', () => {
  assertSameForEveryDelivery(parse, b('GET / HTTP/2.0\r\n\r\n'), invalid('unsupported HTTP version'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.2\r\n\r\n'), invalid('unsupported HTTP version'));
  assertSameForEveryDelivery(parse, b('GET / http/1.1\r\n\r\n'), invalid('unsupported HTTP version'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.10\r\n\r\n'), invalid('malformed request line'));
  assertSameForEveryDelivery(parse, b('GET /\r\n\r\n'), invalid('invalid request-target')); // HTTP/0.9
});

test('HTTP/2 preface is invalid', () => {
  assertSameForEveryDelivery(parse, b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), invalid('unsupported HTTP version'));
});

test('oversized head is invalid (small cap, every delivery)', () => {
  const cap = 64;
  const p = (x: Uint8Array) => parseHttpRequest(x, cap);
  const raw = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ' + 'a'.repeat(100);
  assertSameForEveryDelivery(p, b(raw), invalid('head exceeds cap'));
  // exactly at the cap is fine, one byte over is not
  const exact = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ' + 'a'.repeat(cap - 36) + '\r\n\r\n';
  assert.equal(exact.length, cap);
  assertSameForEveryDelivery(p, b(exact), head(exact, 'GET', '/', '1.1', 'a', undefined));
  assertSameForEveryDelivery((x) => parseHttpRequest(x, cap - 1), b(exact), invalid('head exceeds cap'));
});

test('default cap is 16384 bytes', () => {
  const prefix = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ';
  const fits = prefix + 'a'.repeat(16384 - prefix.length - 4) + '\r\n\r\n';
  assert.equal(fits.length, 16384);
  assert.deepEqual(parse(b(fits)), head(fits, 'GET', '/', '1.1', 'a', undefined));
  const over = prefix + 'a'.repeat(16384 - prefix.length - 3) + '\r\n\r\n';
  assert.deepEqual(parse(b(over)), invalid('head exceeds cap'));
  assert.deepEqual(parse(b(over.slice(0, 16383))), incomplete());
});

test('invalid Host values', () => {
  for (const v of ['a b', 'a:b', 'a:70000', '[::1', '[::1]x', '[v1.x]', '[fe80::1%25eth0]', ':80', 'user@host', 'a/b', 'ex%4', 'caf\u00e9']) {
    assertSameForEveryDelivery(parse, b(`GET / HTTP/1.1\r\nHost: ${v}\r\n\r\n`), invalid('invalid Host header'));
  }
});

test('a malformed CONNECT target is still HTTP, with no host taken from it (the proxy answers 400)', () => {
  for (const t of ['/', 'example.com', 'example.com:', 'http://example.com:443/', '[::1]', 'example.com:99999', 'example.com:abc']) {
    const head = b(`CONNECT ${t} HTTP/1.1\r\n\r\n`);
    const r = parse(head);
    assert.equal(r.kind, 'ok', t);
    if (r.kind === 'ok') assert.deepEqual([r.value.method, r.value.target, r.value.host, r.value.hostPort], ['CONNECT', t, undefined, undefined]);
    assertSameForEveryDelivery(parse, head, r);
  }
});

test('on CONNECT, host is never taken from the Host header: a malformed target leaves it undefined, Host or not', () => {
  for (const t of ['example.com', '[::1]', 'example.com:99999']) {
    const r = parse(b(`CONNECT ${t} HTTP/1.1\r\nHost: example.com:443\r\n\r\n`));
    assert.equal(r.kind, 'ok', t);
    if (r.kind === 'ok') assert.deepEqual([r.value.host, r.value.hostPort, r.value.hostHeader], [undefined, undefined, { host: 'example.com', port: 443 }], t);
  }
  const r = parse(b('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: allowed.example:443\r\n\r\n'));
  assert.equal(r.kind, 'ok');
  if (r.kind === 'ok') assert.deepEqual([r.value.host, r.value.hostPort, r.value.hostHeader], ['127.0.0.1', 22, { host: 'allowed.example', port: 443 }]);
});

test('bare CR, NUL and other controls are invalid', () => {
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\rHost: a\r\n\r\n'), invalid('bare CR'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n'), invalid('bare CR'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nHost: a\r\n\rx'), invalid('bare CR'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n'), invalid('invalid character in header value'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nX: a\u007fb\r\n\r\n'), invalid('invalid character in header value'));
});

test('malformed request lines and header names', () => {
  assertSameForEveryDelivery(parse, hex('16 03 01 02 00 01 00 01 fc 03 03'), invalid('not an HTTP request'));
  assertSameForEveryDelivery(parse, b('SSH-2.0-OpenSSH_9.2\r\n'), invalid('invalid method'));
  assertSameForEveryDelivery(parse, b(' GET / HTTP/1.1\r\n\r\n'), invalid('not an HTTP request'));
  assertSameForEveryDelivery(parse, b('\r\nGET / HTTP/1.1\r\n\r\n'), invalid('not an HTTP request'));
  assertSameForEveryDelivery(parse, b('GET  / HTTP/1.1\r\n\r\n'), invalid('empty request-target'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1 \r\n\r\n'), invalid('malformed request line'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\n: a\r\n\r\n'), invalid('empty header name'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nX(y): a\r\n\r\n'), invalid('invalid header name'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\nNoColon\r\n\r\n'), invalid('invalid header name'));
});

test('the parser reads through subarray views at a non-zero offset', () => {
  const raw = 'GET / HTTP/1.1\r\nHost: View.Example:81\r\n\r\n';
  const backing = Buffer.concat([b('junkjunk'), b(raw), b('tail')]);
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, raw.length);
  assert.deepEqual(parse(view), head(raw, 'GET', '/', '1.1', 'view.example', 81));
});

// --- httpSignature --------------------------------------------------------------------------

test('httpSignature: HTTP requests say yes right after "METHOD "', () => {
  assert.deepEqual(decision(httpSignature, b('GET / HTTP/1.1\r\n')), { answer: 'yes', at: 4 });
  for (const m of ['HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'VERSION-CONTROL', 'MKCOL']) {
    assert.deepEqual(decision(httpSignature, b(`${m} / HTTP/1.1\r\n`)), { answer: 'yes', at: m.length + 1 }, m);
  }
});

test('httpSignature: TLS says no on the first byte', () => {
  assert.deepEqual(decision(httpSignature, hex('16 03 01 02 00')), { answer: 'no', at: 1 });
});

test('httpSignature: SSH says no at the 4th byte', () => {
  assert.deepEqual(decision(httpSignature, b('SSH-2.0-OpenSSH_9.2p1\r\n')), { answer: 'no', at: 4 });
});

test('httpSignature: HTTP/2 preface says no once "PRI * HTTP/2.0" is complete', () => {
  assert.deepEqual(decision(httpSignature, b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), { answer: 'no', at: 14 });
  assert.deepEqual(decision(httpSignature, b('PRI /x HTTP/1.1\r\n')), { answer: 'yes', at: 5 });
  assert.deepEqual(decision(httpSignature, b('PRI * HTTP/1.1\r\n')), { answer: 'yes', at: 12 });
});

test('httpSignature: PROXY v1 line says no at the SP; PROXY v2 at the first byte', () => {
  assert.deepEqual(decision(httpSignature, b('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')), { answer: 'no', at: 6 });
  assert.deepEqual(decision(httpSignature, hex('0d0a0d0a000d0a515549540a')), { answer: 'no', at: 1 });
});

test('httpSignature: other bytes', () => {
  assert.deepEqual(decision(httpSignature, b('get / HTTP/1.1\r\n')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(httpSignature, hex('00 01 02')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(httpSignature, b(' GET')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(httpSignature, b('-GET')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(httpSignature, b('GET1')), { answer: 'no', at: 4 });
  assert.deepEqual(decision(httpSignature, b(`${'A'.repeat(32)} /`)), { answer: 'yes', at: 33 });
  assert.deepEqual(decision(httpSignature, b(`${'A'.repeat(33)} /`)), { answer: 'no', at: 33 });
  assert.equal(httpSignature(new Uint8Array(0)), 'maybe');
  assert.equal(httpSignature(b('GE')), 'maybe');
});

// --- seeded fuzz ----------------------------------------------------------------------------

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    'GET /index.html HTTP/1.1\r\nHost: Example.COM:8080\r\nAccept: */*\r\n\r\n',
    'CONNECT example.com:443 HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\nbody',
    'POST /x HTTP/1.0\nContent-Length: 0\n\n',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  ].map(b);
  let cap: number | undefined;
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0xc0ffee,
    maxRandomLength: 80,
    mutate: { interesting: [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x5b, 0x5d, 0x25, 0x7f, 0x80, 0xff, 0x2d] },
    // Invalid is final: not even the end of a head rescues it.
    suffix: b('\r\n\r\n'),
    parserFor: ({ rng, iteration }) => {
      cap = iteration % 3 === 0 ? 1 + randInt(rng, 90) : undefined;
      const c = cap;
      return (x) => parseHttpRequest(x, c);
    },
    check: (input, r) => {
      const sig = httpSignature(input);
      assert.ok(sig === 'yes' || sig === 'no' || sig === 'maybe');
      if (r.kind === 'ok') {
        assert.ok(r.length <= (cap ?? 16384));
        assert.equal(r.value.headerBytes, r.length);
        // a valid HTTP/1 request with an uppercase method is claimed by the signature
        const text = input.toString('latin1');
        if (/^[A-Z][A-Z_-]* /.test(text) && !/^(PROXY |SSH-)/.test(text)) assert.equal(sig, 'yes');
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
