/**
 * Facts (src/inspect/facts.ts): when a parser is asked again as the bytes grow. A resumable parser
 * is carried on at every growth, so its answer is exact at every length; one that said how many
 * bytes it needs is asked again once they are in, and in any case once nothing more will come.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Facts } from '../../src/inspect/facts.js';

describe('Facts', () => {
  it('a forbidden byte in the middle of a request head is refused on the segment that brings it', () => {
    const facts = new Facts(16384);
    const head = Buffer.from('GET / HTTP/1.1\r\nX-A: ok\r\nX-B: a\x01b\r\n\r\n', 'latin1');
    const bad = head.indexOf(0x01);
    for (let n = 1; n <= head.length; n++) {
      facts.update(head.subarray(0, n));
      assert.equal(facts.http().kind, n <= bad ? 'incomplete' : 'invalid', `after ${n} bytes`);
    }
  });

  it('a message that said its length is judged once it is whole, and over every byte once nothing more will come', () => {
    // A StartupMessage announcing 100 bytes with a NUL where the first parameter name must start.
    const startup = Buffer.concat([Buffer.from('0000006400030000', 'hex'), Buffer.alloc(12)]);
    const facts = new Facts(16384);
    facts.update(startup.subarray(0, 8));
    assert.deepEqual(facts.get('postgres'), { kind: 'incomplete', needed: 100 });
    facts.update(startup);
    assert.equal(facts.get('postgres').kind, 'incomplete', 'asked again before the 100 bytes it needs');
    facts.update(startup, true);
    assert.equal(facts.get('postgres').kind, 'invalid', 'the answer at the end is not over every byte');
  });
});
