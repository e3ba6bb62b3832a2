import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSocks, type SocksRequest } from '../../../src/protocols/socks/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** SOCKS4 request: VN CD DSTPORT DSTIP USERID NUL ["SOCKS: A protocol for TCP proxy across firewalls" §1]. */
function socks4(cd: number, port: number, ip: readonly number[], user: string, host?: string): Buffer {
  const head = Buffer.from([4, cd, port >> 8, port & 0xff, ...ip]);
  const parts = [head, b(user), Buffer.from([0])];
  if (host !== undefined) parts.push(b(host), Buffer.from([0]));
  return Buffer.concat(parts);
}

const v4 = (command: 'connect' | 'bind', port: number, address: string, user: string, length: number): ParseResult<SocksRequest> =>
  ok({ version: 4, command, port, address, user }, length);
const v4a = (command: 'connect' | 'bind', port: number, host: string, user: string, length: number): ParseResult<SocksRequest> =>
  ok({ version: 4, command, port, host, user }, length);
const v5 = (methods: number[]): ParseResult<SocksRequest> => ok({ version: 5, methods }, 2 + methods.length);

// --- accepted, built byte by byte from the specs ---

test('SOCKS4 CONNECT, byte-exact from the SOCKS4 spec layout (VN=4 CD=1 DSTPORT DSTIP USERID NUL)', () => {
  // 66.102.7.99:80, USERID "Fred"
  const bytes = hex('04 01 0050 42660763 46726564 00');
  assert.deepEqual(bytes, socks4(1, 80, [66, 102, 7, 99], 'Fred'));
  assertSameForEveryDelivery(parseSocks, bytes, v4('connect', 80, '66.102.7.99', 'Fred', 13));
});

test('SOCKS4 BIND (CD=2, spec §2) with an empty USERID', () => {
  assertSameForEveryDelivery(parseSocks, hex('04 02 1f90 c0000201 00'), v4('bind', 8080, '192.0.2.1', '', 9));
});

test('SOCKS4a: DSTIP 0.0.0.x (x != 0), then USERID NUL, then the host name NUL (SOCKS 4A extension)', () => {
  const bytes = hex('04 01 0050 00000001 46726564 00 7777772e6578616d706c652e636f6d 00');
  assert.deepEqual(bytes, socks4(1, 80, [0, 0, 0, 1], 'Fred', 'www.example.com'));
  assertSameForEveryDelivery(parseSocks, bytes, v4a('connect', 80, 'www.example.com', 'Fred', bytes.length));
  // any x from 1 to 255 marks 4a; the host is lowercased
  const upper = socks4(2, 443, [0, 0, 0, 255], '', 'WWW.Example.COM');
  assertSameForEveryDelivery(parseSocks, upper, v4a('bind', 443, 'www.example.com', '', upper.length));
});

test('DSTIP 0.0.0.0 is plain SOCKS4 (the 4a marker needs x != 0); port 0 is accepted', () => {
  assertSameForEveryDelivery(parseSocks, socks4(1, 0, [0, 0, 0, 0], 'u'), v4('connect', 0, '0.0.0.0', 'u', 10));
});

test('SOCKS5 greetings (RFC 1928 §3: VER=5 NMETHODS METHODS)', () => {
  assertSameForEveryDelivery(parseSocks, hex('05 01 00'), v5([0]));
  assertSameForEveryDelivery(parseSocks, hex('05 02 00 02'), v5([0, 2]));
  assertSameForEveryDelivery(parseSocks, hex('05 03 00 01 02'), v5([0, 1, 2]));
  // private methods (0x80-0xfe) and duplicates are allowed; sslh's 0..9 limit is not applied
  assertSameForEveryDelivery(parseSocks, hex('05 03 80 fe 80'), v5([0x80, 0xfe, 0x80]));
  // NMETHODS = 255 with every method but 0xff
  const all = Array.from({ length: 255 }, (_, k) => k);
  assertSameForEveryDelivery(parseSocks, Buffer.from([5, 255, ...all]), v5(all));
});

test('bytes after the request or greeting are not part of it', () => {
  // a client that sends its SOCKS5 CONNECT request without waiting for the method reply
  assertSameForEveryDelivery(parseSocks, hex('05 01 00  05 01 00 03 0b 6578616d706c652e636f6d 0050'), v5([0]));
  // SOCKS4 followed by the first bytes of the tunnelled protocol
  assertSameForEveryDelivery(parseSocks, Buffer.concat([socks4(1, 80, [10, 0, 0, 1], 'x'), b('GET / HTTP/1.1\r\n')]), v4('connect', 80, '10.0.0.1', 'x', 10));
});

// --- recorded from curl 7.88.1 (see test/fixtures/README.md) ---

test('recorded: curl --socks4 (socks4-curl-connect.bin)', () => {
  const bytes = fixture('socks4-curl-connect.bin');
  assertSameForEveryDelivery(parseSocks, bytes, v4('connect', 8080, '192.0.2.10', '', 9));
});

test('recorded: curl --socks4a --proxy-user alice: (socks4a-curl-connect.bin)', () => {
  const bytes = fixture('socks4a-curl-connect.bin');
  assertSameForEveryDelivery(parseSocks, bytes, v4a('connect', 8443, 'app.example.test', 'alice', 31));
});

test('recorded: curl --socks5-hostname greetings, without and with --proxy-user', () => {
  assertSameForEveryDelivery(parseSocks, fixture('socks5-curl-greeting.bin'), v5([0, 1]));
  assertSameForEveryDelivery(parseSocks, fixture('socks5-curl-userpass-greeting.bin'), v5([0, 1, 2]));
});

// --- caps ---

test('USERID: 255 bytes accepted, 256 invalid as soon as byte 256 arrives', () => {
  const u255 = socks4(1, 80, [10, 0, 0, 1], 'u'.repeat(255));
  assertSameForEveryDelivery(parseSocks, u255, v4('connect', 80, '10.0.0.1', 'u'.repeat(255), 8 + 256));
  const u256 = socks4(1, 80, [10, 0, 0, 1], 'u'.repeat(256));
  assertSameForEveryDelivery(parseSocks, u256, invalid('SOCKS4 userid exceeds 255 bytes'));
  assert.equal(firstInvalidAt(parseSocks, u256), 8 + 256);
  // no NUL at all, ever
  assertSameForEveryDelivery(parseSocks, Buffer.concat([hex('04 01 0050 0a000001'), Buffer.alloc(400, 0x41)]), invalid('SOCKS4 userid exceeds 255 bytes'));
});

test('SOCKS4a host name: 255 bytes accepted, 256 invalid; empty or with SP/controls/non-ASCII invalid', () => {
  const h255 = 'a'.repeat(251) + '.com';
  const ok255 = socks4(1, 80, [0, 0, 0, 1], '', h255);
  assertSameForEveryDelivery(parseSocks, ok255, v4a('connect', 80, h255, '', ok255.length));
  const bad256 = socks4(1, 80, [0, 0, 0, 1], '', 'a' + h255);
  assertSameForEveryDelivery(parseSocks, bad256, invalid('SOCKS4a host name exceeds 255 bytes'));
  assert.equal(firstInvalidAt(parseSocks, bad256), 9 + 256); // header 8, empty USERID NUL, 256 host bytes
  assertSameForEveryDelivery(parseSocks, socks4(1, 80, [0, 0, 0, 1], 'u', ''), invalid('empty SOCKS4a host name'));
  assertSameForEveryDelivery(parseSocks, socks4(1, 80, [0, 0, 0, 1], 'u', 'a b'), invalid('invalid byte in SOCKS4a host name'));
  assertSameForEveryDelivery(parseSocks, socks4(1, 80, [0, 0, 0, 1], 'u', 'a\nb'), invalid('invalid byte in SOCKS4a host name'));
  assertSameForEveryDelivery(parseSocks, socks4(1, 80, [0, 0, 0, 1], 'u', 'caf\u00e9'), invalid('invalid byte in SOCKS4a host name'));
});

// --- invalid ---

test('wrong version byte is invalid at the first byte', () => {
  for (const first of [0x00, 0x03, 0x06, 0x16, 0x47 /* G */, 0x53 /* S */, 0xff]) {
    const bytes = Buffer.from([first, 1, 0, 80, 1, 2, 3, 4, 0]);
    assertSameForEveryDelivery(parseSocks, bytes, invalid('not a SOCKS request'));
    assert.equal(firstInvalidAt(parseSocks, bytes), 1);
  }
  assertSameForEveryDelivery(parseSocks, b('GET / HTTP/1.1\r\n\r\n'), invalid('not a SOCKS request'));
  assertSameForEveryDelivery(parseSocks, hex('16 03 01 00 05'), invalid('not a SOCKS request'));
});

test('SOCKS4 command other than 1 or 2 is invalid at the second byte', () => {
  for (const cd of [0, 3, 0x80, 0xff]) {
    const bytes = socks4(cd, 80, [10, 0, 0, 1], '');
    assertSameForEveryDelivery(parseSocks, bytes, invalid('SOCKS4 command is neither CONNECT (1) nor BIND (2)'));
    assert.equal(firstInvalidAt(parseSocks, bytes), 2);
  }
});

test('SOCKS5 with no method, or offering 0xff (NO ACCEPTABLE METHODS)', () => {
  assertSameForEveryDelivery(parseSocks, hex('05 00'), invalid('SOCKS5 greeting offers no method'));
  assertSameForEveryDelivery(parseSocks, hex('05 00 00'), invalid('SOCKS5 greeting offers no method'));
  const ff = hex('05 03 00 ff 02');
  assertSameForEveryDelivery(parseSocks, ff, invalid('SOCKS5 greeting offers method 0xff (NO ACCEPTABLE METHODS)'));
  assert.equal(firstInvalidAt(parseSocks, ff), 4);
});

test('truncated, then garbage', () => {
  // SOCKS4a host name cut off and continued with a control byte
  assertSameForEveryDelivery(parseSocks, Buffer.concat([hex('04 01 0050 00000001 00'), b('exa'), hex('0a 00')]), invalid('invalid byte in SOCKS4a host name'));
  // SOCKS5 greeting announcing 3 methods, then 0xff where the third should be
  assertSameForEveryDelivery(parseSocks, hex('05 03 00 02 ff'), invalid('SOCKS5 greeting offers method 0xff (NO ACCEPTABLE METHODS)'));
});

test('prefixes are incomplete, with needed when the size is known', () => {
  assert.deepEqual(parseSocks(new Uint8Array(0)), incomplete());
  assert.deepEqual(parseSocks(hex('05')), incomplete(3));
  assert.deepEqual(parseSocks(hex('05 03')), incomplete(5));
  assert.deepEqual(parseSocks(hex('05 03 00 02')), incomplete(5));
  assert.deepEqual(parseSocks(hex('04')), incomplete(9));
  assert.deepEqual(parseSocks(hex('04 01 0050 0a0000')), incomplete(9));
  assert.deepEqual(parseSocks(hex('04 01 0050 0a000001')), incomplete(9));
  assert.deepEqual(parseSocks(hex('04 01 0050 0a000001 41')), incomplete());
  assert.deepEqual(parseSocks(hex('04 01 0050 00000001 00 6578')), incomplete());
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('socks4-curl-connect.bin'),
    fixture('socks4a-curl-connect.bin'),
    fixture('socks5-curl-greeting.bin'),
    fixture('socks5-curl-userpass-greeting.bin'),
    socks4(2, 21, [192, 0, 2, 7], 'user'),
    socks4(1, 443, [0, 0, 0, 9], 'bob', 'a.example'),
    hex('05 01 00'),
  ];
  const stats = fuzzParser(parseSocks, seeds, {
    iterations: 20000,
    seed: 0x50c55,
    mutate: { interesting: [0x00, 0x01, 0x02, 0x04, 0x05, 0x0a, 0x20, 0x41, 0x7f, 0x80, 0xff], maxEdits: 3, maxRun: 260 },
    shape: (input, { random, rng }) => (random && input.length > 0 ? Buffer.concat([Buffer.from([rng() < 0.5 ? 4 : 5]), input]) : input),
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      const v = r.value;
      if (v.version === 5) {
        assert.ok(v.methods !== undefined && v.methods.length >= 1 && !v.methods.includes(0xff));
        assert.equal(r.length, 2 + v.methods.length);
        assert.equal(v.command, undefined);
      } else {
        assert.equal(v.version, 4);
        assert.ok(v.command === 'connect' || v.command === 'bind');
        assert.ok(v.port !== undefined && v.port >= 0 && v.port <= 0xffff);
        assert.ok(v.user !== undefined && v.user.length <= 255);
        assert.ok((v.address === undefined) !== (v.host === undefined), 'exactly one of address and host');
        if (v.host !== undefined) assert.ok(v.host.length >= 1 && v.host.length <= 255 && v.host === v.host.toLowerCase());
        assert.equal(input[r.length - 1], 0, 'a SOCKS4 request ends with its NUL');
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
