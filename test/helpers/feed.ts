/**
 * Feeding helpers shared by every parser test: a parser must give the same answer when its
 * input arrives whole, split in two at every offset, or one byte at a time.
 *
 * Parsers in src/protocols are pure functions over "all bytes received so far", so a delivery
 * pattern is simulated by accumulating chunks exactly as the inspect buffer does and calling the
 * parser after every chunk.
 */
import assert from 'node:assert/strict';
import type { ParseResult } from '../../src/protocols/result.js';

export type Parser<T> = (bytes: Uint8Array) => ParseResult<T>;

/** Accumulates `chunks` one after another and returns the parser's answer after each one. */
export function feedChunks<T>(parse: Parser<T>, chunks: readonly Uint8Array[]): ParseResult<T>[] {
  const answers: ParseResult<T>[] = [];
  let acc: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    acc = Buffer.concat([acc, chunk]);
    answers.push(parse(acc));
  }
  return answers;
}

/** Every way of splitting `bytes` in two non-empty chunks, plus whole and byte-by-byte. */
export function* deliveries(bytes: Uint8Array): Generator<{ name: string; chunks: Uint8Array[] }> {
  yield { name: 'whole', chunks: [bytes] };
  for (let k = 1; k < bytes.length; k++) {
    yield { name: `split at ${k}`, chunks: [bytes.subarray(0, k), bytes.subarray(k)] };
  }
  const single: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
  yield { name: 'byte by byte', chunks: single };
}

/**
 * Asserts that `parse` reaches `expected` (deep-equal) on the whole input for every delivery,
 * and that no earlier answer was `invalid` or a different `ok` (a valid prefix is never refused).
 */
export function assertSameForEveryDelivery<T>(parse: Parser<T>, bytes: Uint8Array, expected: ParseResult<T>): void {
  for (const { name, chunks } of deliveries(bytes)) {
    const answers = feedChunks(parse, chunks);
    const last = answers[answers.length - 1];
    assert.deepEqual(last, expected, `${name}: final answer differs`);
    for (let i = 0; i < answers.length - 1; i++) {
      const a = answers[i]!;
      if (expected.kind === 'invalid') continue;
      assert.notEqual(a.kind, 'invalid', `${name}: chunk ${i} answered invalid on a valid prefix`);
      if (a.kind === 'ok') assert.deepEqual(a, expected, `${name}: chunk ${i} answered a different ok`);
    }
  }
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
