import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { parseAdbConnect, type AdbConnect } from '../../../src/protocols/adb/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const parse = parseAdbConnect;

const A_CNXN = 0x4e584e43;
const byteSum = (p: Buffer): number => p.reduce((s, x) => s + x, 0) >>> 0;

/** A message: six little-endian words (command, arg0, arg1, data_length, data_check, magic), then the payload (protocol.txt). */
function message(
  payload: Buffer,
  o: { command?: number; version?: number; maxData?: number; dataLength?: number; check?: number | 'sum'; magic?: number } = {},
): Buffer {
  const command = o.command ?? A_CNXN;
  const h = Buffer.alloc(24);
  h.writeUInt32LE(command, 0);
  h.writeUInt32LE(o.version ?? 0x01000000, 4);
  h.writeUInt32LE(o.maxData ?? 256 * 1024, 8);
  h.writeUInt32LE(o.dataLength ?? payload.length, 12);
  h.writeUInt32LE(o.check === undefined || o.check === 'sum' ? byteSum(payload) : o.check, 16);
  h.writeUInt32LE(o.magic ?? (command ^ 0xffffffff) >>> 0, 20);
  return Buffer.concat([h, payload]);
}

/** sslh probe.c empty_message: 20 zero bytes, then magic 0xffffffff. */
const EMPTY = hex('00000000 00000000 00000000 00000000 00000000 ffffffff');

const cnxn = (version: number, maxData: number, systemIdentity: string, length: number): ParseResult<AdbConnect> =>
  ok({ version, maxData, systemIdentity }, length);

// --- accepted, byte-exact from protocol.txt ---

test('CONNECT(0x01000000, 4096, "host::\\0") as old adb sent it, data_check = byte sum 0x232', () => {
  const bytes = hex(`
    434e584e 00000001 00100000 07000000 32020000 bcb1a7b1
    686f73743a3a00`);
  assert.deepEqual(bytes, message(b('host::\u0000'), { version: 0x01000000, maxData: 4096 }));
  assertSameForEveryDelivery(parse, bytes, cnxn(0x01000000, 4096, 'host::', 31));
});

test('CONNECT(0x01000001, 1 MiB, "host::features=...") with data_check 0 (A_VERSION_SKIP_CHECKSUM)', () => {
  const payload = b('host::features=shell_v2,cmd,stat_v2,ls_v2');
  const bytes = message(payload, { version: 0x01000001, maxData: 1024 * 1024, check: 0 });
  assertSameForEveryDelivery(parse, bytes, cnxn(0x01000001, 1024 * 1024, 'host::features=shell_v2,cmd,stat_v2,ls_v2', 24 + payload.length));
});

test('serial number and banner fields, UTF-8 banner, 4096-byte payload', () => {
  assertSameForEveryDelivery(parse, message(b('host:ABC123:my-laptop')), cnxn(0x01000000, 256 * 1024, 'host:ABC123:my-laptop', 24 + 21));
  const utf8 = Buffer.from('host::ro.product.name=t\u00e9l\u00e9phone', 'utf8');
  assertSameForEveryDelivery(parse, message(utf8), cnxn(0x01000000, 256 * 1024, 'host::ro.product.name=t\u00e9l\u00e9phone', 24 + utf8.length));
  const big = b('host::' + 'f'.repeat(4090));
  assert.equal(big.length, 4096);
  assertSameForEveryDelivery(parse, message(big), cnxn(0x01000000, 256 * 1024, big.toString('latin1'), 24 + 4096));
});

test('sslh variant: an empty message (ADB v26.0.0 rc1) before CNXN; the ok length covers both', () => {
  const bytes = Buffer.concat([EMPTY, message(b('host::\u0000'))]);
  assertSameForEveryDelivery(parse, bytes, cnxn(0x01000000, 256 * 1024, 'host::', 24 + 24 + 7));
});

test('bytes after the CNXN message are not part of it', () => {
  const m = message(b('host::'));
  // e.g. an AUTH(RSAPUBLICKEY) header sent right after
  assertSameForEveryDelivery(parse, Buffer.concat([m, message(b('key'), { command: 0x48545541 })]), cnxn(0x01000000, 256 * 1024, 'host::', m.length));
});

// --- recorded from adb 29.0.6 (Debian's adb; see test/fixtures/README.md) ---

test('recorded: adb connect 127.0.0.1:<port> (adb-connect.bin)', () => {
  const bytes = fixture('adb-connect.bin');
  assertSameForEveryDelivery(
    parse,
    bytes,
    cnxn(
      0x01000001,
      1024 * 1024,
      'host::features=remount_shell,abb_exec,abb,apex,fixed_push_mkdir,ls_v2,stat_v2,fixed_push_symlink_timestamp,cmd,shell_v2',
      143,
    ),
  );
});

// --- invalid ---

test('not CNXN: other commands, other protocols', () => {
  for (const command of [0x48545541 /* AUTH */, 0x4e45504f /* OPEN */, 0x534c5453 /* STLS */, 0x4d584e43 /* CNXM */]) {
    assertSameForEveryDelivery(parse, message(b('host::'), { command }), invalid('not an ADB CNXN message'));
  }
  assertSameForEveryDelivery(parse, b('CONNECT example.com:443 HTTP/1.1\r\n\r\n'), invalid('not an ADB CNXN message'));
  assertSameForEveryDelivery(parse, b('000chost:version'), invalid('not an ADB CNXN message')); // smart-socket request (port 5037)
  assert.equal(firstInvalidAt(parse, b('OPEN')), 1);
  assert.equal(firstInvalidAt(parse, b('CNXX')), 4);
});

test('magic, version, maxdata', () => {
  assertSameForEveryDelivery(parse, message(b('host::'), { magic: 0 }), invalid('ADB magic is not command ^ 0xffffffff'));
  assertSameForEveryDelivery(parse, message(b('host::'), { magic: A_CNXN }), invalid('ADB magic is not command ^ 0xffffffff'));
  for (const version of [0, 0x00ffffff, 0x02000000, 0xffffffff]) {
    const bytes = message(b('host::'), { version });
    assertSameForEveryDelivery(parse, bytes, invalid('unknown ADB protocol version'));
    assert.equal(firstInvalidAt(parse, bytes), 8);
  }
  // newer minor versions are accepted, as adb does (min(version, A_VERSION))
  assertSameForEveryDelivery(parse, message(b('host::'), { version: 0x01000005 }), cnxn(0x01000005, 256 * 1024, 'host::', 30));
  assertSameForEveryDelivery(parse, message(b('host::'), { maxData: 0 }), invalid('ADB CNXN with maxdata 0'));
});

test('payload length 5..4096, "host:" prefix, data_check', () => {
  const tooLong = message(b('host::' + 'f'.repeat(4091)));
  assertSameForEveryDelivery(parse, tooLong, invalid('ADB CNXN payload exceeds 4096 bytes'));
  assert.equal(firstInvalidAt(parse, tooLong), 16);
  assertSameForEveryDelivery(parse, message(Buffer.alloc(0), { dataLength: 0xffffffff }), invalid('ADB CNXN payload exceeds 4096 bytes'));
  assertSameForEveryDelivery(parse, message(b('host')), invalid('ADB CNXN payload too short for "host:"'));
  assertSameForEveryDelivery(parse, message(Buffer.alloc(0)), invalid('ADB CNXN payload too short for "host:"'));
  assertSameForEveryDelivery(parse, message(b('device::ro.product.name=x')), invalid('ADB CNXN payload does not start with "host:"'));
  assertSameForEveryDelivery(parse, message(b('bootloader::')), invalid('ADB CNXN payload does not start with "host:"'));
  assertSameForEveryDelivery(parse, message(b('host::'), { check: 1 }), invalid('ADB data_check is neither 0 nor the payload byte sum'));
  // a CRC-32 is not what adb sends (calculate_apacket_checksum is a byte sum)
  assertSameForEveryDelivery(parse, message(b('host::'), { check: crc32(b('host::')) }), invalid('ADB data_check is neither 0 nor the payload byte sum'));
});

test('payload bytes: NUL only as the last byte, no control bytes', () => {
  assertSameForEveryDelivery(parse, message(b('host::\u0000x')), invalid('NUL inside the ADB system identity'));
  assertSameForEveryDelivery(parse, message(b('host::\u0000\u0000')), invalid('NUL inside the ADB system identity'));
  assertSameForEveryDelivery(parse, message(b('host::a\nb')), invalid('control byte in the ADB system identity'));
});

test('the empty-message variant must match sslh\'s 24 bytes exactly and be followed by CNXN', () => {
  const notEmpty = Buffer.from(EMPTY);
  notEmpty[12] = 1;
  assertSameForEveryDelivery(parse, Buffer.concat([notEmpty, message(b('host::'))]), invalid('not an ADB CNXN message'));
  assertSameForEveryDelivery(parse, Buffer.concat([EMPTY, EMPTY, message(b('host::'))]), invalid('not an ADB CNXN message'));
  assertSameForEveryDelivery(parse, Buffer.concat([EMPTY, b('GET / HTTP/1.1\r\n\r\n')]), invalid('not an ADB CNXN message'));
  assert.equal(firstInvalidAt(parse, hex('00 01')), 2);
});

test('truncated, then garbage: "hos" then X', () => {
  const whole = message(b('host::'));
  const bytes = Buffer.concat([whole.subarray(0, 27), b('X'), whole.subarray(28)]);
  assertSameForEveryDelivery(parse, bytes, invalid('ADB CNXN payload does not start with "host:"'));
  assert.equal(firstInvalidAt(parse, bytes), 28);
});

test('prefixes are incomplete: no needed length while a byte can refuse the header or "host:", then the payload end', () => {
  // A `needed` would stop facts.ts asking again before that length (test/inspect/needed-promise.test.ts).
  assert.deepEqual(parse(new Uint8Array(0)), incomplete());
  assert.deepEqual(parse(b('CNX')), incomplete());
  const m = message(b('host::features=cmd'));
  assert.deepEqual(parse(m.subarray(0, 23)), incomplete());
  assert.deepEqual(parse(m.subarray(0, 24)), incomplete());
  assert.deepEqual(parse(m.subarray(0, 30)), incomplete(24 + 18));
  assert.deepEqual(parse(EMPTY.subarray(0, 10)), incomplete());
  assert.deepEqual(parse(Buffer.concat([EMPTY, m.subarray(0, 4)])), incomplete());
  assert.deepEqual(parse(Buffer.concat([EMPTY, m.subarray(0, 26)])), incomplete());
  assert.deepEqual(parse(Buffer.concat([EMPTY, m.subarray(0, 30)])), incomplete(48 + 18));
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('adb-connect.bin'),
    message(b('host::\u0000'), { maxData: 4096 }),
    message(b('host:SER1AL:banner'), { version: 0x01000001, check: 0 }),
    Buffer.concat([EMPTY, message(b('host::'))]),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0xadb,
    mutate: { interesting: [0x00, 0x01, 0x0a, 0x10, 0x3a, 0x43, 0x4e, 0x58, 0x68, 0x7f, 0xb1, 0xbc, 0xff], maxEdits: 3 },
    // random inputs: half get a valid CNXN header (with a random payload length) in front
    shape: (input, { random, rng }) => {
      if (!random || rng() < 0.5) return input;
      const payload = Buffer.concat([b('host:'), input]);
      const m = message(payload, { check: rng() < 0.5 ? 0 : 'sum', dataLength: rng() < 0.8 ? payload.length : Math.floor(rng() * 5000) });
      return m;
    },
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      const base = input[0] === 0 ? 24 : 0;
      assert.equal(input.readUInt32LE(base), A_CNXN);
      assert.equal(r.length, base + 24 + input.readUInt32LE(base + 12));
      assert.ok(r.length - base - 24 >= 5 && r.length - base - 24 <= 4096);
      assert.equal(r.value.version >>> 24, 1);
      assert.ok(r.value.maxData >= 1);
      assert.ok(r.value.systemIdentity?.startsWith('host:'));
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
