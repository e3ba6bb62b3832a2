import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDigit, latin1, u16, u32 } from '../../src/protocols/bytes.js';

describe('protocols/bytes: the shared byte reads', () => {
  const b = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0xff]);
  it('reads big-endian integers (network order)', () => {
    assert.equal(u16(b, 0), 0x1234);
    assert.equal(u16(b, 3), 0x78ff);
    assert.equal(u32(b, 0), 0x12345678);
    assert.equal(u32(b, 1), 0x345678ff);
  });
  it('answers -1 for a read past either end, never a partial value', () => {
    assert.equal(u16(b, 4), -1);
    assert.equal(u16(b, -1), -1);
    assert.equal(u32(b, 2), -1);
    assert.equal(u32(new Uint8Array(0), 0), -1);
  });
  it('decodes latin1 one code point per byte, short and long, and clips a range to the bytes there', () => {
    const long = Uint8Array.from({ length: 300 }, (_, i) => 0x20 + (i % 0xe0));
    assert.equal(latin1(long), Buffer.from(long).toString('latin1'));
    assert.equal(latin1(long, 10, 20), Buffer.from(long.subarray(10, 20)).toString('latin1'));
    assert.equal(latin1(b, 3, 99), '\x78\xff');
    assert.equal(latin1(b, 4, 2), '');
    // A view into a larger buffer reads its own bytes only.
    assert.equal(latin1(long.subarray(100, 140)), Buffer.from(long.subarray(100, 140)).toString('latin1'));
  });
  it('knows the ASCII digits', () => {
    assert.deepEqual([0x2f, 0x30, 0x39, 0x3a].map(isDigit), [false, true, true, false]);
  });
});
