/**
 * Resumable parsers (src/protocols/result.ts Suspended): for every TCP parser of the protocol
 * table, carrying on from the state of the previous answer gives exactly the answer a parse from
 * byte 0 gives, at every length, whatever the chunking — on real first messages, long built ones
 * and seeded mutations of them. Also: resuming twice from one state answers the same (the state is
 * not changed by use), a resumed parse reads nothing outside its view, and only incomplete answers
 * carry a state.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PARSERS, type ParserKey } from '../../src/protocols/table.js';
import { PeekBuffer } from '../../src/inspect/peek-buffer.js';
import { resumeOf, type ParseResult } from '../../src/protocols/result.js';
import { firstMessagesFor } from '../helpers/first-messages.js';
import { mulberry32, mutate, randInt, randomBytes } from '../helpers/fuzz.js';
import { recordingView } from '../property/support.js';

const CAPS = [16384, 16384, 300, 64];
const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x26, 0x27, 0x2f, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x7f, 0x80, 0xc3, 0xef, 0xff];

/** Cut points of a delivery: one byte at a time, or 1-64 byte chunks. */
function cuts(rng: () => number, n: number): number[] {
  const out: number[] = [];
  const byteByByte = rng() < 0.3;
  for (let k = 0; k < n; ) {
    k = Math.min(n, k + (byteByByte ? 1 : 1 + randInt(rng, 64)));
    out.push(k);
  }
  return out;
}

function walk(key: ParserKey, input: Buffer, cap: number, points: readonly number[]): void {
  const parse = PARSERS[key]!;
  const peek = new PeekBuffer();
  let prev: ParseResult<unknown> | undefined;
  let at = 0;
  for (const k of points) {
    peek.append(Buffer.from(input.subarray(at, k)));
    at = k;
    const bytes = peek.bytes;
    const from = resumeOf(prev);
    const scratch = parse(bytes, cap);
    const { view, outside } = recordingView(bytes);
    const resumed = parse(view, cap, from);
    const where = `${key}, cap ${cap}, ${k} of ${input.length} bytes, input ${input.subarray(0, 96).toString('hex')}`;
    assert.deepEqual(resumed, scratch, `resumed differs from scratch: ${where}`);
    assert.deepEqual(outside, [], `a resumed parse read outside its view: ${where}`);
    if (from !== undefined) assert.deepEqual(parse(bytes, cap, from), scratch, `resuming twice from one state differs: ${where}`);
    if (scratch.kind !== 'incomplete') {
      assert.equal(resumeOf(scratch), undefined, `a ${scratch.kind} answer carries a state: ${where}`);
      return;
    }
    prev = resumed;
  }
}

describe('resumable parsers answer as if parsing from byte 0', () => {
  for (const key of Object.keys(PARSERS) as ParserKey[]) {
    it(`${key}: first messages and 300 mutations, in random chunks and byte by byte (seeded)`, () => {
      const messages = firstMessagesFor(key);
      for (const m of messages) {
        assert.equal(PARSERS[key]!(m, 16384).kind, 'ok', `a ${key} first message does not parse: ${m.subarray(0, 64).toString('hex')}`);
        walk(key, m, 16384, Array.from({ length: m.length }, (_, i) => i + 1));
      }
      const rng = mulberry32(0x5e5 + key.length * 131 + key.charCodeAt(0));
      for (let it = 0; it < 300; it++) {
        const seed = messages[randInt(rng, messages.length)]!;
        const input = rng() < 0.1 ? randomBytes(rng, randInt(rng, 200)) : mutate(rng, seed, { interesting: INTERESTING, maxEdits: 3 });
        walk(key, input, CAPS[randInt(rng, CAPS.length)]!, cuts(rng, input.length));
      }
    });
  }
});
