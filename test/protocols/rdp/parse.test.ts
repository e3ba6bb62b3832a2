import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseRdpConnectionRequest, type RdpConnectionRequest } from '../../../src/protocols/rdp/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const parse = parseRdpConnectionRequest;

/** TPKT header (RFC 1006 §6) + X.224 CR fixed part (X.224 §13.3) around `variable`. */
function cr(variable: Buffer, opts: { classOption?: number; code?: number; li?: number; length?: number } = {}): Buffer {
  const length = opts.length ?? 11 + variable.length;
  const li = opts.li ?? length - 5;
  return Buffer.concat([
    Buffer.from([3, 0, length >> 8, length & 0xff, li & 0xff, opts.code ?? 0xe0, 0, 0, 0x12, 0x34, opts.classOption ?? 0]),
    variable,
  ]);
}

/** RDP_NEG_REQ (MS-RDPBCGR §2.2.1.1.1): type 1, flags, length 8 (LE), requestedProtocols (LE). */
function negReq(requestedProtocols: number, flags = 0, length = 8): Buffer {
  const out = Buffer.from([1, flags, length & 0xff, length >> 8, 0, 0, 0, 0]);
  out.writeUInt32LE(requestedProtocols, 4);
  return out;
}

/** RDP_NEG_CORRELATION_INFO (MS-RDPBCGR §2.2.1.1.2): type 6, flags 0, length 36 (LE), id (16), reserved (16). */
function correlationInfo(type = 6, flags = 0, length = 36): Buffer {
  return Buffer.concat([Buffer.from([type, flags, length & 0xff, length >> 8]), hex('0102030405060708090a0b0c0d0e0f10'), Buffer.alloc(16)]);
}

function request(value: Omit<RdpConnectionRequest, 'length'>, length: number): ParseResult<RdpConnectionRequest> {
  return ok({ ...value, length }, length);
}

// --- accepted, byte-exact from MS-RDPBCGR ---

test('MS-RDPBCGR §4.1.1 example: cookie "eltons" and RDP_NEG_REQ PROTOCOL_RDP', () => {
  const bytes = hex(`
    03 00 00 2c 27 e0 00 00 00 00 00 43 6f 6f 6b 69
    65 3a 20 6d 73 74 73 68 61 73 68 3d 65 6c 74 6f
    6e 73 0d 0a 01 00 08 00 00 00 00 00`);
  assertSameForEveryDelivery(parse, bytes, request({ cookie: 'eltons', requestedProtocols: 0 }, 44));
});

test('bare X.224 CR (11 bytes, no cookie, no negotiation: old rdesktop)', () => {
  const bytes = hex('03 00 00 0b 06 e0 00 00 00 00 00');
  assert.deepEqual(bytes, cr(Buffer.alloc(0), {}).fill(0, 8, 10));
  assertSameForEveryDelivery(parse, bytes, request({ cookie: undefined }, 11));
});

test('cookie without RDP_NEG_REQ, and RDP_NEG_REQ without cookie', () => {
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=Administr\r\n')), request({ cookie: 'Administr' }, 11 + 28));
  assertSameForEveryDelivery(parse, cr(negReq(0x0b)), request({ cookie: undefined, requestedProtocols: 0x0b }, 19));
  // an empty IDENTIFIER is still a cookie
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=\r\n')), request({ cookie: '' }, 11 + 19));
});

test('routing token (MSFT-SDLBTS "Cookie: msts=...") then RDP_NEG_REQ', () => {
  const bytes = cr(Buffer.concat([b('Cookie: msts=3640205228.15629.0000\r\n'), negReq(3)]));
  assertSameForEveryDelivery(parse, bytes, request({ cookie: undefined, routingToken: 'Cookie: msts=3640205228.15629.0000', requestedProtocols: 3 }, bytes.length));
});

test('routing token and cookie together are accepted (MS-RDPBCGR §3.3.5.3.1: the server continues)', () => {
  const bytes = cr(Buffer.concat([b('tsv://MS Terminal Services Plugin.1.Pool\r\n'), b('Cookie: mstshash=bob\r\n'), negReq(1)]));
  assertSameForEveryDelivery(parse, bytes, request({ cookie: 'bob', routingToken: 'tsv://MS Terminal Services Plugin.1.Pool', requestedProtocols: 1 }, bytes.length));
});

test('RDP_NEG_REQ with CORRELATION_INFO_PRESENT (0x08) and the 36-byte RDP_NEG_CORRELATION_INFO', () => {
  const bytes = cr(Buffer.concat([b('Cookie: mstshash=carol\r\n'), negReq(0x0b, 0x08), correlationInfo()]));
  assertSameForEveryDelivery(parse, bytes, request({ cookie: 'carol', requestedProtocols: 0x0b }, bytes.length));
});

test('non-ASCII ANSI bytes in the cookie are reported as latin1; unknown flag and protocol bits accepted', () => {
  const bytes = cr(Buffer.concat([b('Cookie: mstshash=J\u00f6rg\r\n'), negReq(0x8000001f, 0x03)]));
  assertSameForEveryDelivery(parse, bytes, request({ cookie: 'J\u00f6rg', requestedProtocols: 0x8000001f }, bytes.length));
});

test('largest possible CR: TPKT length 259 (LI 254)', () => {
  const token = 'x'.repeat(259 - 11 - 2 - 8);
  const bytes = cr(Buffer.concat([b(token + '\r\n'), negReq(0)]));
  assert.equal(bytes.length, 259);
  assertSameForEveryDelivery(parse, bytes, request({ cookie: undefined, routingToken: token, requestedProtocols: 0 }, 259));
});

test('bytes after the PDU (the client never sends any before the Connection Confirm) are not part of it', () => {
  const pdu = cr(Buffer.concat([b('Cookie: mstshash=a\r\n'), negReq(0)]));
  assertSameForEveryDelivery(parse, Buffer.concat([pdu, hex('03 00 01 a0 02 f0 80')]), request({ cookie: 'a', requestedProtocols: 0 }, pdu.length));
});

// --- recorded from FreeRDP 2.11.7 (xfreerdp; see test/fixtures/README.md) ---

test('recorded: xfreerdp /u:alice (rdp-xfreerdp-connection-request.bin)', () => {
  assertSameForEveryDelivery(parse, fixture('rdp-xfreerdp-connection-request.bin'), request({ cookie: 'alice', requestedProtocols: 3 }, 43));
});

test('recorded: xfreerdp /load-balance-info:tsv://... sends a routing token instead of the cookie (rdp-xfreerdp-routing-token.bin)', () => {
  assertSameForEveryDelivery(
    parse,
    fixture('rdp-xfreerdp-routing-token.bin'),
    request({ cookie: undefined, routingToken: 'tsv://MS Terminal Services Plugin.1.Sessions', requestedProtocols: 3 }, 65),
  );
});

// --- invalid ---

test('TPKT version and reserved byte', () => {
  assertSameForEveryDelivery(parse, hex('02 00 00 0b 06 e0 00 00 00 00 00'), invalid('not a TPKT packet (version 3)'));
  assertSameForEveryDelivery(parse, hex('03 01 00 0b 06 e0 00 00 00 00 00'), invalid('TPKT reserved byte is not 0'));
  assertSameForEveryDelivery(parse, b('GET / HTTP/1.1\r\n\r\n'), invalid('not a TPKT packet (version 3)'));
  assertSameForEveryDelivery(parse, hex('16 03 01 00 05'), invalid('not a TPKT packet (version 3)'));
  // TLS record header for a ClientHello with version 3.0 is the nearest miss: 0x16 is still refused at once
  assert.equal(firstInvalidAt(parse, hex('16 03 00 00 2c')), 1);
});

test('TPKT length below 11 or above 259 is invalid as soon as it is read', () => {
  for (const length of [0, 4, 7, 10]) {
    const bytes = cr(Buffer.alloc(0), { length, li: 6 });
    assertSameForEveryDelivery(parse, bytes, invalid('TPKT length below 11'));
    assert.equal(firstInvalidAt(parse, bytes), 4);
  }
  for (const length of [260, 1000, 0xffff]) {
    const bytes = cr(Buffer.alloc(0), { length, li: 6 });
    assertSameForEveryDelivery(parse, bytes, invalid('TPKT length above 259, the largest X.224 Connection Request'));
    assert.equal(firstInvalidAt(parse, bytes), 4);
  }
});

test('X.224: LI must be TPKT length - 5; code 0xE0; class 0', () => {
  assertSameForEveryDelivery(parse, cr(negReq(0), { li: 13 }), invalid('X.224 length indicator does not match the TPKT length'));
  assertSameForEveryDelivery(parse, cr(negReq(0), { code: 0xd0 }), invalid('not an X.224 Connection Request')); // CC
  assertSameForEveryDelivery(parse, cr(negReq(0), { code: 0xf0 }), invalid('not an X.224 Connection Request')); // DT
  assertSameForEveryDelivery(parse, cr(negReq(0), { code: 0xe1 }), invalid('not an X.224 Connection Request')); // CDT != 0
  assertSameForEveryDelivery(parse, cr(negReq(0), { classOption: 0x20 }), invalid('X.224 Connection Request is not class 0'));
  // option bits are ignored (the server SHOULD ignore them)
  assertSameForEveryDelivery(parse, cr(negReq(0), { classOption: 0x02 }), request({ cookie: undefined, requestedProtocols: 0 }, 19));
});

test('cookie / routing token lines', () => {
  // runs to the end of the PDU without CR LF
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=alice')), invalid('routing token or cookie not terminated by CR LF'));
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=alice\r')), invalid('routing token or cookie not terminated by CR LF'));
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=alice\n\r\n')), invalid('invalid byte in routing token or cookie'));
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=al\rice\r\n')), invalid('bare CR in routing token or cookie'));
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=a\u0000b\r\n')), invalid('invalid byte in routing token or cookie'));
  assertSameForEveryDelivery(parse, cr(b('\r\n')), invalid('empty routing token or cookie'));
  assertSameForEveryDelivery(parse, cr(b('token-one\r\ntoken-two\r\n')), invalid('two routing tokens'));
  assertSameForEveryDelivery(parse, cr(b('Cookie: mstshash=a\r\nCookie: mstshash=b\r\n')), invalid('unexpected bytes in X.224 Connection Request'));
});

test('RDP_NEG_REQ and RDP_NEG_CORRELATION_INFO', () => {
  assertSameForEveryDelivery(parse, cr(negReq(0, 0, 9)), invalid('RDP_NEG_REQ length is not 8'));
  assertSameForEveryDelivery(parse, cr(negReq(0).subarray(0, 6)), invalid('truncated RDP_NEG_REQ'));
  assertSameForEveryDelivery(parse, cr(Buffer.concat([negReq(0), hex('00')])), invalid('trailing bytes in X.224 Connection Request'));
  assertSameForEveryDelivery(parse, cr(Buffer.concat([negReq(0), negReq(0)])), invalid('trailing bytes in X.224 Connection Request'));
  assertSameForEveryDelivery(parse, cr(negReq(3, 0x08)), invalid('missing or truncated RDP_NEG_CORRELATION_INFO'));
  assertSameForEveryDelivery(parse, cr(Buffer.concat([negReq(3, 0x08), correlationInfo(7)])), invalid('RDP_NEG_CORRELATION_INFO type is not 0x06'));
  assertSameForEveryDelivery(parse, cr(Buffer.concat([negReq(3, 0x08), correlationInfo(6, 1)])), invalid('RDP_NEG_CORRELATION_INFO flags are not 0'));
  assertSameForEveryDelivery(parse, cr(Buffer.concat([negReq(3, 0x08), correlationInfo(6, 0, 35)])), invalid('RDP_NEG_CORRELATION_INFO length is not 36'));
  // binary junk where the cookie or negotiation request would be
  assertSameForEveryDelivery(parse, cr(hex('02 00 08 00 00 00 00 00')), invalid('invalid byte in routing token or cookie'));
});

test('truncated, then garbage: a cookie cut off and continued with a NUL', () => {
  const whole = cr(Buffer.concat([b('Cookie: mstshash=alice\r\n'), negReq(3)]));
  const bytes = Buffer.concat([whole.subarray(0, 22), hex('00'), whole.subarray(23)]);
  assertSameForEveryDelivery(parse, bytes, invalid('invalid byte in routing token or cookie'));
  assert.equal(firstInvalidAt(parse, bytes), 23);
});

test('prefixes are incomplete: no needed length while a fixed header byte can refuse the request, then its length', () => {
  // A `needed` would stop facts.ts asking again before that length (test/inspect/needed-promise.test.ts).
  assert.deepEqual(parse(new Uint8Array(0)), incomplete());
  assert.deepEqual(parse(hex('03 00 00')), incomplete());
  assert.deepEqual(parse(hex('03 00 00 2c')), incomplete());
  assert.deepEqual(parse(hex('03 00 00 2c 27 e0 00 00 00 00 00 43 6f')), incomplete(44));
  const pdu = fixture('rdp-xfreerdp-connection-request.bin');
  for (let k = 0; k < pdu.length; k++) assert.deepEqual(parse(pdu.subarray(0, k)), k <= 10 ? incomplete() : incomplete(43), `prefix ${k}`);
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('rdp-xfreerdp-connection-request.bin'),
    fixture('rdp-xfreerdp-routing-token.bin'),
    hex('03 00 00 0b 06 e0 00 00 00 00 00'),
    cr(Buffer.concat([b('Cookie: mstshash=carol\r\n'), negReq(0x0b, 0x08), correlationInfo()])),
    cr(Buffer.concat([b('Cookie: msts=3640205228.15629.0000\r\n'), b('Cookie: mstshash=x\r\n'), negReq(1)])),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x3389,
    mutate: { interesting: [0x00, 0x01, 0x03, 0x06, 0x08, 0x0a, 0x0d, 0x20, 0x24, 0xe0, 0xff], maxEdits: 3 },
    // random inputs: half get a TPKT header whose length matches and an X.224 CR fixed part
    shape: (input, { random, rng }) => (random && rng() < 0.5 ? cr(input.subarray(0, Math.min(input.length, 248))) : input),
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      assert.equal(r.value.length, r.length);
      assert.equal(r.length, input.readUInt16BE(2));
      assert.ok(r.length >= 11 && r.length <= 259);
      if (r.value.cookie !== undefined) assert.ok(input.subarray(0, r.length).includes(b('Cookie: mstshash=' + r.value.cookie + '\r\n')));
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
