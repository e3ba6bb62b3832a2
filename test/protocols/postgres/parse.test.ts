import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parsePostgresStartup, type PostgresFirstMessage } from '../../../src/protocols/postgres/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser, randInt } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<PostgresFirstMessage> => parsePostgresStartup(b);

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Message Formats, StartupMessage: Int32 length, Int32 version, (String name, String value)*, Byte1(0). */
function startup(version: number, params: readonly (readonly [string, string])[]): Buffer {
  const body = Buffer.concat([
    int32(version),
    ...params.map(([k, v]) => Buffer.from(`${k}\u0000${v}\u0000`, 'utf8')),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(4 + body.length), body]);
}

/** Message Formats, CancelRequest: Int32 length, Int32(80877102), Int32 pid, Byte[n] key. */
function cancel(pid: number, key: Buffer): Buffer {
  return Buffer.concat([int32(12 + key.length), int32(80877102), int32(pid), key]);
}

/** A complete message with its declared length word replaced. */
function withLength(msg: Buffer, length: number): Buffer {
  return Buffer.concat([int32(length), msg.subarray(4)]);
}

function startupOk(bytes: Buffer, protocol: '3.0' | '3.2', user: string, database: string, parameters: Record<string, string>): ParseResult<PostgresFirstMessage> {
  return ok({ kind: 'startup', protocol, user, database, parameters }, bytes.length);
}

test('SSLRequest (Message Formats: Int32(8) Int32(80877103)) is ok after 8 bytes', () => {
  assertSameForEveryDelivery(parse, hex('00000008 04d2162f'), ok({ kind: 'ssl-request' }, 8));
});

test('GSSENCRequest (Int32(8) Int32(80877104)) is ok after 8 bytes', () => {
  assertSameForEveryDelivery(parse, hex('00000008 04d21630'), ok({ kind: 'gssenc-request' }, 8));
});

test('CancelRequest: 4-byte key before protocol 3.2, 4..256-byte key since 3.2', () => {
  const key4 = cancel(4242, hex('deadbeef'));
  assert.equal(key4.length, 16);
  assertSameForEveryDelivery(parse, key4, ok({ kind: 'cancel' }, 16));
  const key32 = cancel(4242, Buffer.alloc(32, 0xab)); // PostgreSQL 18 sends 32-byte keys with 3.2
  assertSameForEveryDelivery(parse, key32, ok({ kind: 'cancel' }, 44));
  const key256 = cancel(1, Buffer.alloc(256, 7));
  assert.deepEqual(parse(key256), ok({ kind: 'cancel' }, 268));
  assertSameForEveryDelivery(parse, cancel(1, Buffer.alloc(257, 7)), invalid('invalid length for this request code'));
  assertSameForEveryDelivery(parse, cancel(1, hex('000000')), invalid('invalid length for this request code'));
  assertSameForEveryDelivery(parse, hex('0000000c 04d2162e 00001092'), invalid('invalid length for this request code'));
});

test('StartupMessage 3.0 with user, database, application_name and options', () => {
  const params = [
    ['user', 'alice'],
    ['database', 'shop'],
    ['application_name', 'billing'],
    ['options', '-c search_path=shop,public -c statement_timeout=5s'],
  ] as const;
  const bytes = startup(196608, params);
  assertSameForEveryDelivery(parse, bytes, startupOk(bytes, '3.0', 'alice', 'shop', Object.fromEntries(params)));
});

test('StartupMessage 3.2 (196610)', () => {
  const bytes = startup(196610, [['user', 'bob'], ['database', 'inventory'], ['_pq_.test_option', 'on']]);
  assertSameForEveryDelivery(parse, bytes, startupOk(bytes, '3.2', 'bob', 'inventory', { user: 'bob', database: 'inventory', '_pq_.test_option': 'on' }));
});

test('database defaults to the user name: absent or empty, while parameters show what was sent', () => {
  const absent = startup(196608, [['user', 'carol'], ['client_encoding', 'UTF8']]);
  assertSameForEveryDelivery(parse, absent, startupOk(absent, '3.0', 'carol', 'carol', { user: 'carol', client_encoding: 'UTF8' }));
  const empty = startup(196608, [['database', ''], ['user', 'carol']]);
  assertSameForEveryDelivery(parse, empty, startupOk(empty, '3.0', 'carol', 'carol', { database: '', user: 'carol' }));
});

test('a repeated parameter keeps its last value; empty values are kept; UTF-8 is decoded', () => {
  const bytes = startup(196608, [['user', 'x'], ['user', 'zoë'], ['application_name', '']]);
  assertSameForEveryDelivery(parse, bytes, startupOk(bytes, '3.0', 'zoë', 'zoë', { user: 'zoë', application_name: '' }));
});

test('a parameter named "__proto__" is a plain own key', () => {
  const bytes = startup(196608, [['user', 'u'], ['__proto__', 'p']]);
  const r = parse(bytes);
  assert.equal(r.kind, 'ok');
  const params = (r as { value: PostgresFirstMessage }).value.parameters!;
  assert.equal(Object.getPrototypeOf(params), Object.prototype);
  assert.ok(Object.hasOwn(params, '__proto__'));
  assert.equal(Object.getOwnPropertyDescriptor(params, '__proto__')?.value, 'p');
});

test('recorded: psql 15 sslmode=require sends an SSLRequest (postgres-psql15-sslrequest.bin)', () => {
  const bytes = fixture('postgres-psql15-sslrequest.bin');
  assert.equal(bytes.toString('hex'), '0000000804d2162f');
  assertSameForEveryDelivery(parse, bytes, ok({ kind: 'ssl-request' }, 8));
});

test('recorded: psql 15 sslmode=disable user=alice dbname=shop (postgres-psql15-startup.bin)', () => {
  const bytes = fixture('postgres-psql15-startup.bin');
  assertSameForEveryDelivery(parse, bytes, startupOk(bytes, '3.0', 'alice', 'shop', { user: 'alice', database: 'shop', application_name: 'psql' }));
  // The recording is byte for byte what the builder makes from the spec.
  assert.deepEqual(bytes, startup(196608, [['user', 'alice'], ['database', 'shop'], ['application_name', 'psql']]));
});

test('recorded: psql 15 cancel on SIGINT, pid 4242, key 0xdeadbeef (postgres-psql15-cancel.bin)', () => {
  const bytes = fixture('postgres-psql15-cancel.bin');
  assert.deepEqual(bytes, cancel(4242, hex('deadbeef')));
  assertSameForEveryDelivery(parse, bytes, ok({ kind: 'cancel' }, 16));
});

test('bytes after the first message are not part of it', () => {
  // SSLRequest, then (after the server's 'S') a TLS ClientHello in the same buffer.
  assertSameForEveryDelivery(parse, hex('00000008 04d2162f 1603010200 0100'), ok({ kind: 'ssl-request' }, 8));
  const s = startup(196608, [['user', 'u']]);
  assertSameForEveryDelivery(parse, Buffer.concat([s, Buffer.from('Q\u0000\u0000\u0000\u000dselect 1\u0000', 'latin1')]), startupOk(s, '3.0', 'u', 'u', { user: 'u' }));
});

test('cap: a first message may be 10000 bytes past its length word (10004 in all), like the server', () => {
  const base = startup(196608, [['user', 'u'], ['options', '']]);
  const pad = 10004 - base.length;
  const at = startup(196608, [['user', 'u'], ['options', 'x'.repeat(pad)]]);
  assert.equal(at.length, 10004);
  assert.equal(parse(at).kind, 'ok');
  const over = startup(196608, [['user', 'u'], ['options', 'x'.repeat(pad + 1)]]);
  assert.equal(over.length, 10005);
  assert.deepEqual(parse(over), invalid('invalid length of startup packet'));
  // Decided at the length word: 10005 = 00 00 27 15, and 00 00 28 .. is over whatever follows.
  assert.equal(firstInvalidAt(parse, over), 4);
  assert.equal(firstInvalidAt(parse, hex('00 00 28 00')), 3);
  assert.deepEqual(parse(hex('7fffffff')), invalid('invalid length of startup packet'));
});

test('length below 8 is invalid; the first two length bytes must be zero', () => {
  assertSameForEveryDelivery(parse, hex('00000007 04d2162f'), invalid('invalid length of startup packet'));
  assertSameForEveryDelivery(parse, hex('00000000'), invalid('invalid length of startup packet'));
  assert.equal(firstInvalidAt(parse, hex('16 03 01 02 00 01 00 01 fc 03 03')), 1); // TLS ClientHello
  assert.equal(firstInvalidAt(parse, Buffer.from('GET / HTTP/1.1\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, Buffer.from('SSH-2.0-x\r\n')), 1);
  assert.equal(firstInvalidAt(parse, hex('00 01 00 00')), 2);
});

test('unsupported protocol versions and unknown codes are invalid at the first wrong byte', () => {
  // Protocol 2.0 (131072 = 00 02 00 00), 3.1 (196609), 4.0, an unknown request code.
  const v2 = startup(131072, [['user', 'u']]);
  assertSameForEveryDelivery(parse, v2, invalid('unsupported protocol version or request code'));
  assert.equal(firstInvalidAt(parse, v2), 6);
  const v31 = startup(196609, [['user', 'u']]);
  assertSameForEveryDelivery(parse, v31, invalid('unsupported protocol version or request code'));
  assert.equal(firstInvalidAt(parse, v31), 8);
  assert.equal(firstInvalidAt(parse, startup(0x00040000, [['user', 'u']])), 6);
  assertSameForEveryDelivery(parse, hex('00000008 04d21631'), invalid('unsupported protocol version or request code'));
});

test('SSLRequest/GSSENCRequest of another length than 8 are invalid', () => {
  assertSameForEveryDelivery(parse, hex('0000000c 04d2162f 00000000'), invalid('invalid length for this request code'));
  assertSameForEveryDelivery(parse, hex('0000000c 04d21630 00000000'), invalid('invalid length for this request code'));
  // Length 8 leaves only SSL/GSSENC: a startup version is then impossible.
  assertSameForEveryDelivery(parse, hex('00000008 00030000'), invalid('invalid length for this request code'));
});

test('a StartupMessage needs a non-empty user', () => {
  assertSameForEveryDelivery(parse, startup(196608, [['database', 'shop']]), invalid('no PostgreSQL user name specified in startup packet'));
  assertSameForEveryDelivery(parse, startup(196608, [['user', '']]), invalid('no PostgreSQL user name specified in startup packet'));
  assertSameForEveryDelivery(parse, startup(196608, []), invalid('no PostgreSQL user name specified in startup packet'));
});

test('StartupMessage layout errors (the terminator must be the last byte)', () => {
  const good = startup(196608, [['user', 'u']]); // ... 'user' 00 'u' 00 00
  // One extra NUL: the terminator comes before the end.
  assertSameForEveryDelivery(parse, withLength(Buffer.concat([good, hex('00')]), good.length + 1), invalid('invalid startup packet layout: terminator before the end'));
  // No terminator: the last byte ends the value.
  assertSameForEveryDelivery(parse, withLength(good.subarray(0, good.length - 1), good.length - 1), invalid('invalid startup packet layout: expected terminator as last byte'));
  // A name whose value cannot fit: 'x' 00 00 leaves the value '' and no room for the terminator.
  assertSameForEveryDelivery(parse, withLength(Buffer.concat([int32(0), int32(196608), Buffer.from('user\u0000u\u0000x\u0000\u0000', 'latin1')]), 18), invalid('invalid startup packet layout: missing parameter value'));
  // A value running into the last byte.
  assertSameForEveryDelivery(parse, withLength(Buffer.concat([int32(0), int32(196608), Buffer.from('user\u0000uvw', 'latin1')]), 16), invalid('invalid startup packet layout: expected terminator as last byte'));
  // A name running into the last byte.
  assertSameForEveryDelivery(parse, withLength(Buffer.concat([int32(0), int32(196608), Buffer.from('username', 'latin1')]), 16), invalid('invalid startup packet layout: missing parameter value'));
  // The smallest startup (9 bytes: version + terminator) is a layout without a user.
  assertSameForEveryDelivery(parse, hex('00000009 00030000 00'), invalid('no PostgreSQL user name specified in startup packet'));
});

test('layout errors are found at the byte that makes them', () => {
  // Declared 16 bytes: 'user' 00 'uvw' fills it without a terminator. Once 'v' (index 14) is not a NUL,
  // the value's NUL could only be the last byte, leaving none for the terminator: invalid at prefix 15.
  const bytes = withLength(Buffer.concat([int32(0), int32(196608), Buffer.from('user\u0000uvw', 'latin1')]), 16);
  assert.equal(firstInvalidAt(parse, bytes), 15);
});

test('prefixes are incomplete, with needed once the length is known', () => {
  const s = fixture('postgres-psql15-startup.bin');
  for (let n = 0; n < 4; n++) assert.deepEqual(parse(s.subarray(0, n)), incomplete(), `prefix ${n}`);
  for (let n = 4; n < s.length; n++) assert.deepEqual(parse(s.subarray(0, n)), incomplete(56), `prefix ${n}`);
  assert.deepEqual(parse(hex('00000008')), incomplete(8));
  assert.deepEqual(parse(hex('00000010 04d216')), incomplete(16));
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('postgres-psql15-sslrequest.bin'),
    fixture('postgres-psql15-startup.bin'),
    fixture('postgres-psql15-cancel.bin'),
    hex('00000008 04d21630'),
    cancel(7, Buffer.alloc(32, 1)),
    startup(196610, [['user', 'bob'], ['database', 'x'], ['options', '-c a=b'], ['application_name', 'fuzz']]),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x50475351,
    mutate: { interesting: [0x00, 0x03, 0x04, 0x08, 0x10, 0x16, 0x2e, 0x2f, 0x30, 0x75, 0xd2, 0xff], maxEdits: 3 },
    // Half of the inputs get a length word that matches their size, so the layout checks are reached.
    shape: (input, { rng }) => {
      if (input.length >= 8 && rng() < 0.5) {
        const out = Buffer.from(input);
        out.writeUInt32BE(rng() < 0.8 ? out.length : out.length + randInt(rng, 8));
        return out;
      }
      return input;
    },
    check: (input, r) => {
      if (r.kind === 'ok') {
        assert.ok(r.length >= 8 && r.length <= 10004);
        assert.equal(r.length, input.readUInt32BE(0));
        const v = r.value;
        if (v.kind === 'startup') {
          assert.ok(v.user !== undefined && v.user.length > 0);
          assert.ok(v.database !== undefined && v.database.length > 0);
          assert.ok(v.protocol === '3.0' || v.protocol === '3.2');
        } else {
          assert.equal(v.protocol, undefined);
          assert.equal(v.kind === 'cancel' ? r.length >= 16 && r.length <= 268 : r.length === 8, true);
        }
      } else if (r.kind === 'incomplete' && r.needed !== undefined) {
        assert.ok(r.needed <= 10004);
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
