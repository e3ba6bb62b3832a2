import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseHttp2Preface, type Http2Preface } from '../../../src/protocols/http2/preface.js';
import { parseHttpRequest } from '../../../src/protocols/http/request.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<Http2Preface> => parseHttp2Preface(b);

/** RFC 9113 §3.4: the 24 octets 0x505249202a20485454502f322e300d0a0d0a534d0d0a0d0a. */
const MAGIC = hex('505249202a20485454502f322e300d0a0d0a534d0d0a0d0a');
const OK: ParseResult<Http2Preface> = ok({ length: 24 }, 24);

/** RFC 9113 §4.1 frame header: Length (24), Type (8), Flags (8), R + Stream Identifier (32). */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** RFC 9113 §6.5.1: each setting is a 16-bit identifier and a 32-bit value. */
function settings(...pairs: (readonly [number, number])[]): Buffer {
  return frame(0x4, 0, 0, Buffer.concat(pairs.map(([id, v]) => {
    const b = Buffer.alloc(6);
    b.writeUInt16BE(id);
    b.writeUInt32BE(v, 2);
    return b;
  })));
}

test('the 24-octet preface is the ASCII string of RFC 9113 §3.4', () => {
  assert.deepEqual(MAGIC, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
  assert.equal(MAGIC.length, 24);
  assertSameForEveryDelivery(parse, MAGIC, OK);
});

test('the preface followed by an empty SETTINGS frame (RFC 9113 §3.4: "MAY be empty")', () => {
  assertSameForEveryDelivery(parse, Buffer.concat([MAGIC, settings()]), OK);
});

test('the preface followed by SETTINGS and WINDOW_UPDATE, as clients send them', () => {
  const bytes = Buffer.concat([
    MAGIC,
    settings([0x3, 100], [0x4, 10485760], [0x2, 0]), // MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, ENABLE_PUSH
    frame(0x8, 0, 0, hex('3fff0001')), // WINDOW_UPDATE on the connection
  ]);
  assertSameForEveryDelivery(parse, bytes, OK);
});

test('recorded: curl 7.88.1 --http2-prior-knowledge, whole first flight (h2-curl-prior-knowledge.bin)', () => {
  const bytes = fixture('h2-curl-prior-knowledge.bin');
  assert.deepEqual(bytes.subarray(0, 24), MAGIC);
  // What curl sent after the magic: SETTINGS (18 bytes: 3 settings), WINDOW_UPDATE, HEADERS.
  assert.deepEqual(bytes.subarray(24, 33), hex('000012 04 00 00000000'));
  assertSameForEveryDelivery(parse, bytes, OK);
});

test('the SETTINGS frame is not judged: ok depends on the 24 octets alone', () => {
  // A DATA frame right after the magic is a connection error for the HTTP/2 server to raise.
  assertSameForEveryDelivery(parse, Buffer.concat([MAGIC, frame(0x0, 0, 1, Buffer.from('x'))]), OK);
  assertSameForEveryDelivery(parse, Buffer.concat([MAGIC, hex('ffffffff')]), OK);
});

test('any differing byte is invalid at that byte', () => {
  assert.equal(firstInvalidAt(parse, Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, Buffer.from('PUT / HTTP/1.1\r\n\r\n')), 2);
  assert.equal(firstInvalidAt(parse, Buffer.from('PRI * HTTP/1.1\r\n\r\n')), 12);
  assert.equal(firstInvalidAt(parse, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\n')), 23);
  assert.equal(firstInvalidAt(parse, Buffer.from('PRI * HTTP/2.0\n\nSM\n\n')), 15);
  assert.equal(firstInvalidAt(parse, Buffer.from('pri * http/2.0\r\n\r\nSM\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, hex('16 03 01 02 00 01')), 1);
  assertSameForEveryDelivery(parse, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r'), invalid('not the HTTP/2 client connection preface'));
});

test('prefixes are incomplete, without a needed length: each next byte can refuse the preface', () => {
  for (let n = 0; n < 24; n++) assert.deepEqual(parse(MAGIC.subarray(0, n)), incomplete(), `prefix ${n}`);
});

test('the HTTP/1 parser refuses the preface, and this parser refuses HTTP/1', () => {
  assert.equal(parseHttpRequest(MAGIC).kind, 'invalid');
  assert.equal(parseHttpRequest(fixture('h2-curl-prior-knowledge.bin')).kind, 'invalid');
  assert.equal(parse(Buffer.from('GET / HTTP/1.1\r\n\r\n')).kind, 'invalid');
});

test('fuzz: ~10k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [MAGIC, fixture('h2-curl-prior-knowledge.bin'), Buffer.concat([MAGIC, settings()])];
  const stats = fuzzParser(parse, seeds, {
    iterations: 10000,
    seed: 0x68320000,
    mutate: { interesting: [0x0a, 0x0d, 0x20, 0x2a, 0x2e, 0x32, 0x4d, 0x50, 0x53, 0x00, 0x04], maxEdits: 2 },
    check: (input, r) => {
      if (r.kind === 'ok') assert.deepEqual(input.subarray(0, 24), MAGIC);
      else if (r.kind === 'incomplete') assert.ok(input.length < 24 && r.needed === undefined);
      else assert.ok(!input.subarray(0, Math.min(24, input.length)).equals(MAGIC.subarray(0, Math.min(24, input.length))));
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
