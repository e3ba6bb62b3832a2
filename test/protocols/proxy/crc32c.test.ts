import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from '../../../src/protocols/proxy/crc32c.js';
import { mulberry32, randomBytes } from '../../helpers/fuzz.js';

/** Bit-at-a-time reference (reflected poly 0x82F63B78), independent of the table. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('crc32c check value: crc32c("123456789") = 0xE3069283', () => {
  assert.equal(crc32c(Buffer.from('123456789', 'latin1')), 0xe3069283);
});

test('crc32c of the empty input is 0', () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('crc32c RFC 3720 §B.4 vectors', () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

test('crc32c continues from init: crc32c(b, crc32c(a)) === crc32c(a + b)', () => {
  const all = Buffer.from('The quick brown fox jumps over the lazy dog', 'latin1');
  for (let k = 0; k <= all.length; k++) {
    assert.equal(crc32c(all.subarray(k), crc32c(all.subarray(0, k))), crc32c(all));
  }
});

test('crc32c matches a bitwise reference on pseudo-random data and subarray views', () => {
  const data = randomBytes(mulberry32(12345), 4096);
  for (const len of [1, 2, 3, 7, 64, 1000, 4096]) {
    assert.equal(crc32c(data.subarray(0, len)), crc32cBitwise(data.subarray(0, len)));
  }
  assert.equal(crc32c(data.subarray(5, 77)), crc32cBitwise(data.slice(5, 77)));
  const v = crc32c(data);
  assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
});
