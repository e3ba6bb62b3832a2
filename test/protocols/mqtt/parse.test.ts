import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseMqttConnect, type MqttConnect } from '../../../src/protocols/mqtt/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser, randInt } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<MqttConnect> => parseMqttConnect(b);

// --- Builders, byte for byte from the specs -------------------------------------------------

const u8 = (n: number): Buffer => Buffer.from([n]);
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
/** UTF-8 Encoded String: two-byte length + bytes (3.1.1 §1.5.3; 5.0 §1.5.4). */
const str = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(b.length), b]);
};
/** Variable Byte Integer (3.1.1 §2.2.3; 5.0 §1.5.5), minimal encoding. */
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
/** A 5.0 property block: Variable Byte Integer length + properties (5.0 §2.2.2). */
const props = (...p: Buffer[]): Buffer => {
  const body = Buffer.concat(p);
  return Buffer.concat([varint(body.length), body]);
};

interface ConnectSpec {
  level?: 3 | 4 | 5;
  name?: string;
  levelByte?: number;
  /** Overrides the flags computed from the fields. */
  flags?: number;
  cleanSession?: boolean;
  keepAlive?: number;
  properties?: Buffer; // 5.0 CONNECT properties, already with their length
  clientId?: string | Buffer;
  will?: { properties?: Buffer; topic: string | Buffer; payload: Buffer; qos?: number; retain?: boolean };
  username?: string | Buffer;
  password?: Buffer;
  /** Bytes appended inside the packet after the payload. */
  extra?: Buffer;
  /** Remaining Length encoded as given instead of minimally. */
  remainingLength?: (n: number) => Buffer;
}

/** CONNECT: fixed header (§2.2), variable header (§3.1.2), payload (§3.1.3). */
function connect(spec: ConnectSpec = {}): Buffer {
  const level = spec.level ?? 4;
  const name = spec.name ?? (level === 3 ? 'MQIsdp' : 'MQTT');
  let flags = spec.cleanSession === false ? 0 : 0x02;
  if (spec.will) flags |= 0x04 | ((spec.will.qos ?? 0) << 3) | (spec.will.retain ? 0x20 : 0);
  if (spec.password !== undefined) flags |= 0x40;
  if (spec.username !== undefined) flags |= 0x80;
  const variable = Buffer.concat([
    str(name),
    u8(spec.levelByte ?? level),
    u8(spec.flags ?? flags),
    u16(spec.keepAlive ?? 60),
    level === 5 ? (spec.properties ?? props()) : Buffer.alloc(0),
  ]);
  const payload = Buffer.concat([
    str(spec.clientId ?? 'client-1'),
    ...(spec.will
      ? [level === 5 ? (spec.will.properties ?? props()) : Buffer.alloc(0), str(spec.will.topic), str(spec.will.payload)]
      : []),
    ...(spec.username !== undefined ? [str(spec.username)] : []),
    ...(spec.password !== undefined ? [str(spec.password)] : []),
    spec.extra ?? Buffer.alloc(0),
  ]);
  const rest = Buffer.concat([variable, payload]);
  return Buffer.concat([u8(0x10), (spec.remainingLength ?? varint)(rest.length), rest]);
}

function connectOk(bytes: Buffer, value: MqttConnect): ParseResult<MqttConnect> {
  return ok(value, bytes.length);
}

// --- Accepted --------------------------------------------------------------------------------

test('MQTT 3.1.1 CONNECT, the smallest useful one (§3.1: flags 0x02, keep alive, client id)', () => {
  const bytes = connect({ clientId: 'c1' });
  assert.deepEqual(bytes, hex('10 0e 0004 4d515454 04 02 003c 0002 6331'));
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 4, clientId: 'c1' }));
});

test('MQTT 3.1.1 with will (QoS 1, retain), user name and password', () => {
  const bytes = connect({
    clientId: 'sensor-9',
    will: { topic: 'status/sensor-9', payload: Buffer.from('offline'), qos: 1, retain: true },
    username: 'alice',
    password: Buffer.from([0, 1, 2, 0xff]),
  });
  assert.equal(bytes[9], 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80);
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 4, clientId: 'sensor-9', username: 'alice' }));
});

test('MQTT 3.1 ("MQIsdp", level 3)', () => {
  const bytes = connect({ level: 3, clientId: 'old-client', username: 'u', password: Buffer.from('p') });
  assert.deepEqual(bytes.subarray(2, 11), hex('0006 4d5149736470 03'));
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 3, clientId: 'old-client', username: 'u' }));
});

test('MQTT 5.0 with CONNECT properties and will properties (§3.1.2.11, §3.1.3.2)', () => {
  const bytes = connect({
    level: 5,
    clientId: 'v5-client',
    properties: props(
      Buffer.concat([u8(0x11), u32(3600)]), // Session Expiry Interval
      Buffer.concat([u8(0x21), u16(20)]), // Receive Maximum
      Buffer.concat([u8(0x27), u32(1 << 20)]), // Maximum Packet Size
      Buffer.concat([u8(0x22), u16(10)]), // Topic Alias Maximum
      Buffer.concat([u8(0x19), u8(1)]), // Request Response Information
      Buffer.concat([u8(0x17), u8(0)]), // Request Problem Information
      Buffer.concat([u8(0x26), str('region'), str('eu')]), // User Property
      Buffer.concat([u8(0x26), str('region'), str('us')]), // User Property may repeat
      Buffer.concat([u8(0x15), str('SCRAM-SHA-256')]), // Authentication Method
      Buffer.concat([u8(0x16), str(Buffer.from([1, 2, 3]))]), // Authentication Data
    ),
    will: {
      properties: props(
        Buffer.concat([u8(0x18), u32(30)]), // Will Delay Interval
        Buffer.concat([u8(0x01), u8(1)]), // Payload Format Indicator
        Buffer.concat([u8(0x02), u32(60)]), // Message Expiry Interval
        Buffer.concat([u8(0x03), str('text/plain')]), // Content Type
        Buffer.concat([u8(0x08), str('replies/v5')]), // Response Topic
        Buffer.concat([u8(0x09), str(Buffer.from('id-1'))]), // Correlation Data
        Buffer.concat([u8(0x26), str('k'), str('v')]), // User Property
      ),
      topic: 'lwt/v5-client',
      payload: Buffer.from('gone'),
      qos: 2,
    },
    username: 'bob',
    password: Buffer.from('pw'),
  });
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 5, clientId: 'v5-client', username: 'bob' }));
});

test('MQTT 5.0 allows a password without a user name (§3.1.2.9); 3.1.1 does not ([MQTT-3.1.2-22])', () => {
  const v5 = connect({ level: 5, password: Buffer.from('token') });
  assertSameForEveryDelivery(parse, v5, connectOk(v5, { level: 5, clientId: 'client-1' }));
  assertSameForEveryDelivery(parse, connect({ password: Buffer.from('token') }), invalid('password flag set without the user name flag'));
  assertSameForEveryDelivery(parse, connect({ level: 3, password: Buffer.from('token') }), invalid('password flag set without the user name flag'));
});

test('an empty client id is a well-formed CONNECT (the server decides, [MQTT-3.1.3-8])', () => {
  const bytes = connect({ clientId: '' });
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 4, clientId: '' }));
  const v5 = connect({ level: 5, clientId: '' });
  assertSameForEveryDelivery(parse, v5, connectOk(v5, { level: 5, clientId: '' }));
});

test('UTF-8 client id and user name are decoded', () => {
  const bytes = connect({ clientId: 'capteur-été-🌡', username: 'zoë' });
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 4, clientId: 'capteur-été-🌡', username: 'zoë' }));
});

test('Mosquitto bridge levels 0x83 / 0x84 (try_private) are accepted with bridge: true', () => {
  const b4 = connect({ levelByte: 0x84, clientId: 'bridge-1' });
  assertSameForEveryDelivery(parse, b4, connectOk(b4, { level: 4, clientId: 'bridge-1', bridge: true }));
  const b3 = connect({ level: 3, levelByte: 0x83, clientId: 'bridge-1' });
  assertSameForEveryDelivery(parse, b3, connectOk(b3, { level: 3, clientId: 'bridge-1', bridge: true }));
  assertSameForEveryDelivery(parse, connect({ level: 5, levelByte: 0x85 }), invalid('unsupported MQTT protocol level'));
});

test('recorded: mosquitto_pub 2.0.11 -V mqttv311 -i sensor-17 -u alice -P secret -k 30 (mqtt-mosquitto-pub-v311.bin)', () => {
  const bytes = fixture('mqtt-mosquitto-pub-v311.bin');
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 4, clientId: 'sensor-17', username: 'alice' }));
  assert.deepEqual(bytes, connect({ clientId: 'sensor-17', keepAlive: 30, username: 'alice', password: Buffer.from('secret') }));
});

test('recorded: mosquitto_pub 2.0.11 -V mqttv5 with properties and a will (mqtt-mosquitto-pub-v5.bin)', () => {
  const bytes = fixture('mqtt-mosquitto-pub-v5.bin');
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 5, clientId: 'sensor-17', username: 'alice' }));
  const built = connect({
    level: 5,
    clientId: 'sensor-17',
    keepAlive: 30,
    properties: props(Buffer.concat([u8(0x11), u32(3600)]), Buffer.concat([u8(0x26), str('app'), str('demo')]), Buffer.concat([u8(0x21), u16(20)])),
    will: { topic: 'status/sensor-17', payload: Buffer.from('offline'), qos: 1 },
    username: 'alice',
    password: Buffer.from('secret'),
  });
  assert.deepEqual(bytes, built);
});

test('recorded: mosquitto_pub 2.0.11 -V mqttv31 -i sensor-17 (mqtt-mosquitto-pub-v31.bin)', () => {
  const bytes = fixture('mqtt-mosquitto-pub-v31.bin');
  assertSameForEveryDelivery(parse, bytes, connectOk(bytes, { level: 3, clientId: 'sensor-17' }));
  assert.deepEqual(bytes, connect({ level: 3, clientId: 'sensor-17' }));
});

test('bytes after the CONNECT (a pipelined PUBLISH) are not part of it', () => {
  const c = connect({ clientId: 'c1' });
  const publish = Buffer.concat([hex('30 08'), str('a/b'), Buffer.from('hi!')]);
  assertSameForEveryDelivery(parse, Buffer.concat([c, publish]), connectOk(c, { level: 4, clientId: 'c1' }));
});

test('a non-minimal Remaining Length: accepted for 3.1.1, invalid for 5.0 ([MQTT-1.5.5-1])', () => {
  const nonMinimal = (n: number): Buffer => Buffer.from([(n & 0x7f) | 0x80, n >> 7]);
  const v4 = connect({ clientId: 'c1', remainingLength: nonMinimal });
  assert.equal(v4[2], 0x00);
  assertSameForEveryDelivery(parse, v4, connectOk(v4, { level: 4, clientId: 'c1' }));
  assertSameForEveryDelivery(parse, connect({ level: 5, remainingLength: nonMinimal }), invalid('remaining length is not minimally encoded'));
  // A property length padded the same way.
  assertSameForEveryDelivery(parse, connect({ level: 5, properties: hex('80 00') }), invalid('property length is not minimally encoded'));
});

// --- Refused -----------------------------------------------------------------------------------

test('other first bytes: another packet type, or CONNECT with flags set ([MQTT-2.2.2-2])', () => {
  assertSameForEveryDelivery(parse, hex('11 0e 0004 4d515454 04 02 003c 0002 6331'), invalid('reserved flags set in the CONNECT fixed header'));
  assertSameForEveryDelivery(parse, hex('20 02 00 00'), invalid('not an MQTT CONNECT packet'));
  assertSameForEveryDelivery(parse, hex('30 08 0003 612f62 686921'), invalid('not an MQTT CONNECT packet'));
  assert.equal(firstInvalidAt(parse, Buffer.from('GET / HTTP/1.1\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, hex('16 03 01 02 00')), 1);
  assert.equal(firstInvalidAt(parse, hex('00 00 00 08 04 d2 16 2f')), 1); // PostgreSQL SSLRequest
});

test('Remaining Length: at most 4 bytes; cap on the whole packet', () => {
  const big = (b: Uint8Array): ParseResult<MqttConnect> => parseMqttConnect(b, 300_000_000);
  assertSameForEveryDelivery(big, hex('10 ff ff ff ff 01'), invalid('malformed remaining length'));
  // Default cap 16384: a packet declaring 16384 - 3 remaining bytes fits, one more does not.
  assert.deepEqual(parse(Buffer.concat([hex('10'), varint(16381)])), incomplete(16384));
  assert.deepEqual(parse(Buffer.concat([hex('10'), varint(16382)])), invalid('CONNECT exceeds cap'));
  // Decided while reading the Remaining Length: ff ff (16383 so far) already passes the cap.
  assert.equal(firstInvalidAt(parse, hex('10 ff ff 7f')), 3);
  // A custom cap.
  const bytes = connect({ clientId: 'c1' });
  assert.deepEqual(parseMqttConnect(bytes, bytes.length), ok({ level: 4, clientId: 'c1' }, bytes.length));
  assert.deepEqual(parseMqttConnect(bytes, bytes.length - 1), invalid('CONNECT exceeds cap'));
});

test('protocol name and level ([MQTT-3.1.2-1], §3.1.2.2)', () => {
  const mqtx = connect({ name: 'MQTX' });
  assertSameForEveryDelivery(parse, mqtx, invalid('unknown MQTT protocol name'));
  assert.equal(firstInvalidAt(parse, mqtx), 8); // 10 0e 00 04 'M' 'Q' 'T' 'X'
  assertSameForEveryDelivery(parse, connect({ name: 'mqtt' }), invalid('unknown MQTT protocol name'));
  assertSameForEveryDelivery(parse, connect({ name: 'MQTTT' }), invalid('unknown MQTT protocol name'));
  assertSameForEveryDelivery(parse, connect({ levelByte: 6 }), invalid('unsupported MQTT protocol level'));
  assertSameForEveryDelivery(parse, connect({ levelByte: 3 }), invalid('unsupported MQTT protocol level')); // "MQTT" is not 3.1
  assertSameForEveryDelivery(parse, connect({ level: 3, levelByte: 4 }), invalid('unsupported MQTT protocol level')); // "MQIsdp" is 3.1 only
  assertSameForEveryDelivery(parse, hex('10 04 0004 4d51'), invalid('protocol name exceeds the remaining length'));
});

test('connect flags ([MQTT-3.1.2-3], [MQTT-3.1.2-13..15]; 5.0 [MQTT-3.1.2-11..13])', () => {
  for (const level of [4, 5] as const) {
    assertSameForEveryDelivery(parse, connect({ level, flags: 0x03 }), invalid('reserved connect flag is set'));
    assertSameForEveryDelivery(parse, connect({ level, flags: 0x02 | 0x08 }), invalid('will QoS or retain set without the will flag'));
    assertSameForEveryDelivery(parse, connect({ level, flags: 0x02 | 0x20 }), invalid('will QoS or retain set without the will flag'));
    assertSameForEveryDelivery(parse, connect({ level, will: { topic: 't', payload: Buffer.alloc(0), qos: 3 } }), invalid('will QoS 3 is invalid'));
  }
});

test('fields must fill the Remaining Length exactly', () => {
  const good = connect({ clientId: 'c1' });
  // One byte more declared than the fields use.
  const extra = connect({ clientId: 'c1', extra: hex('00') });
  assertSameForEveryDelivery(parse, extra, invalid('bytes after the last CONNECT payload field'));
  // One byte less declared: the client id runs past the packet.
  const short = Buffer.concat([hex('10'), varint(good.length - 3), good.subarray(2, good.length - 1)]);
  assertSameForEveryDelivery(parse, short, invalid('client identifier exceeds the remaining length'));
  // Flags announce a user name that is not there.
  assertSameForEveryDelivery(parse, connect({ clientId: 'c1', flags: 0x82 }), invalid('user name exceeds the remaining length'));
});

test('UTF-8 strings must be well-formed and without U+0000 ([MQTT-1.5.3-1], [MQTT-1.5.3-2])', () => {
  assertSameForEveryDelivery(parse, connect({ clientId: hex('61ff62') }), invalid('client identifier is not a valid UTF-8 string'));
  assertSameForEveryDelivery(parse, connect({ clientId: hex('610062') }), invalid('client identifier is not a valid UTF-8 string'));
  assertSameForEveryDelivery(parse, connect({ clientId: hex('eda080') }), invalid('client identifier is not a valid UTF-8 string')); // U+D800
  assertSameForEveryDelivery(parse, connect({ username: hex('c0af') }), invalid('user name is not a valid UTF-8 string')); // overlong
});

test('the will topic is a topic name: not empty, no wildcards', () => {
  assertSameForEveryDelivery(parse, connect({ will: { topic: '', payload: Buffer.from('x') } }), invalid('will topic is not a valid topic name'));
  assertSameForEveryDelivery(parse, connect({ will: { topic: 'a/#', payload: Buffer.from('x') } }), invalid('will topic is not a valid topic name'));
  assertSameForEveryDelivery(parse, connect({ will: { topic: 'a/+/b', payload: Buffer.from('x') } }), invalid('will topic is not a valid topic name'));
});

test('5.0 properties: unknown, repeated, out-of-range, and authentication data without a method', () => {
  const p = (...x: Buffer[]): Buffer => connect({ level: 5, properties: props(...x) });
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x01), u8(1)])), invalid('unknown CONNECT property 0x01'));
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x11), u32(1)]), Buffer.concat([u8(0x11), u32(2)])), invalid('repeated CONNECT property 0x11'));
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x21), u16(0)])), invalid('CONNECT property 0x21 must not be 0'));
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x27), u32(0)])), invalid('CONNECT property 0x27 must not be 0'));
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x17), u8(2)])), invalid('CONNECT property 0x17 must be 0 or 1'));
  assertSameForEveryDelivery(parse, p(Buffer.concat([u8(0x16), str(Buffer.from('x'))])), invalid('authentication data without an authentication method'));
  // A property running past its block.
  assertSameForEveryDelivery(parse, connect({ level: 5, properties: Buffer.concat([varint(3), u8(0x11), u32(7)]) }), invalid('CONNECT property exceeds the property length'));
  // A block longer than the packet.
  assertSameForEveryDelivery(parse, connect({ level: 5, properties: Buffer.concat([varint(200), u8(0x11), u32(7)]) }), invalid('property length exceeds the remaining length'));
  const w = (...x: Buffer[]): Buffer => connect({ level: 5, will: { properties: props(...x), topic: 't', payload: Buffer.alloc(0) } });
  assertSameForEveryDelivery(parse, w(Buffer.concat([u8(0x11), u32(1)])), invalid('unknown will property 0x11'));
  assertSameForEveryDelivery(parse, w(Buffer.concat([u8(0x01), u8(2)])), invalid('will property 0x01 must be 0 or 1'));
  assertSameForEveryDelivery(parse, w(Buffer.concat([u8(0x03), str('a')]), Buffer.concat([u8(0x03), str('b')])), invalid('repeated will property 0x03'));
});

test('prefixes are incomplete, with needed once the Remaining Length is known', () => {
  const bytes = fixture('mqtt-mosquitto-pub-v5.bin');
  assert.deepEqual(parse(bytes.subarray(0, 0)), incomplete());
  assert.deepEqual(parse(bytes.subarray(0, 1)), incomplete());
  for (let n = 2; n < bytes.length; n++) assert.deepEqual(parse(bytes.subarray(0, n)), incomplete(bytes.length), `prefix ${n}`);
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('mqtt-mosquitto-pub-v311.bin'),
    fixture('mqtt-mosquitto-pub-v5.bin'),
    fixture('mqtt-mosquitto-pub-v31.bin'),
    connect({ clientId: 'c1' }),
    connect({ levelByte: 0x84, will: { topic: 'a/b', payload: Buffer.from('x'), qos: 2, retain: true }, username: 'u', password: Buffer.from('p') }),
    connect({
      level: 5,
      properties: props(Buffer.concat([u8(0x15), str('m')]), Buffer.concat([u8(0x16), str(Buffer.from('d'))]), Buffer.concat([u8(0x26), str('k'), str('v')])),
      will: { properties: props(Buffer.concat([u8(0x01), u8(1)])), topic: 't', payload: Buffer.from('x') },
      password: Buffer.from('p'),
    }),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x4d515454,
    mutate: { interesting: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x11, 0x16, 0x21, 0x26, 0x7f, 0x80, 0xc2, 0xff], maxEdits: 3 },
    // Half of the inputs get their Remaining Length fixed up to the bytes they have, so the fields are reached.
    shape: (input, { rng }) => {
      if (input.length >= 3 && input.length < 120 && rng() < 0.5) {
        const body = input.subarray(2);
        return Buffer.concat([u8(rng() < 0.9 ? 0x10 : input[0]!), varint(body.length + (rng() < 0.8 ? 0 : randInt(rng, 4))), body]);
      }
      return input;
    },
    check: (input, r) => {
      if (r.kind === 'ok') {
        assert.equal(input[0], 0x10);
        assert.ok(r.length <= 16384);
        assert.ok([3, 4, 5].includes(r.value.level));
        assert.equal(typeof r.value.clientId, 'string');
        if (r.value.bridge !== undefined) assert.ok(r.value.bridge === true && r.value.level !== 5);
      } else if (r.kind === 'incomplete' && r.needed !== undefined) {
        assert.ok(r.needed <= 16384);
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
