/**
 * Property tests for crc32c (src/protocols/crc32c.ts) against a bit-by-bit reference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '../../src/protocols/proxy/crc32c.js';
import { check, fc, referenceCrc32c } from './support.js';

describe('crc32c', () => {
  it('the check value of "123456789" is 0xE3069283 (RFC 3720 §B.4 parameters)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(referenceCrc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('equals the bit-by-bit reference on arbitrary bytes (seed 9300, 500 runs)', () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        assert.equal(crc32c(b), referenceCrc32c(b));
      }),
      9300,
      500,
    );
  });

  it('continues: crc32c(b, crc32c(a)) === crc32c(a ++ b), and reads only its view (seed 9301, 500 runs)', () => {
    check(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 16 }), (a, b, pad) => {
        const ab = Uint8Array.from([...a, ...b]);
        assert.equal(crc32c(b, crc32c(a)), crc32c(ab));
        const big = Uint8Array.from([...pad, ...a, ...pad]);
        assert.equal(crc32c(big.subarray(pad.length, pad.length + a.length)), crc32c(a));
        const r = crc32c(ab);
        assert.ok(Number.isInteger(r) && r >= 0 && r <= 0xffffffff);
      }),
      9301,
      500,
    );
  });
});
