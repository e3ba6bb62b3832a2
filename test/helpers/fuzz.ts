/**
 * Seeded fuzzing and prefix walks shared by the parser tests.
 *
 * Deterministic: every input comes from a seeded PRNG (mulberry32), and a failure message names
 * the seed and the iteration, so it reproduces. No Math.random.
 *
 * fuzzParser checks the parser contract of src/protocols/result.ts on every generated input:
 * - it never throws, and answers one of ok / incomplete / invalid;
 * - ok: 0 < length <= input length, and the accepted bytes alone give the same answer;
 * - incomplete: `needed`, when given, is more than it has; a random prefix is incomplete too;
 * - invalid: a non-empty reason, and more bytes never rescue it;
 * - now and then, along every prefix: incomplete*, then one final answer that never changes.
 * Parser-specific assertions go in `check`.
 *
 * Datagram parsers (result.ts DatagramParseResult: one whole UDP datagram in, never incomplete) get
 * their own contract with `datagram: true`, since a truncated datagram is invalid and the whole one ok
 * (more bytes DO rescue it, and an ok grows invalid with bytes after it): see assertDatagramContract.
 */
import assert from 'node:assert/strict';
import type { ParseResult } from '../../src/protocols/result.js';
import type { Parser } from './feed.js';

/** Uniform in [0, 1). */
export type Rng = () => number;

/** mulberry32: a small, fast, seeded 32-bit PRNG. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole number in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** One of `items` (which must not be empty). */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[randInt(rng, items.length)]!;
}

/** `n` random bytes. */
export function randomBytes(rng: Rng, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let k = 0; k < n; k++) out[k] = randInt(rng, 256);
  return out;
}

export interface MutateOptions {
  /** Bytes worth trying (delimiters, edges of ranges), used for half of the written bytes. */
  readonly interesting?: ArrayLike<number>;
  /** 1 to maxEdits edits per input; default 4. */
  readonly maxEdits?: number;
  /** The longest run of one byte an edit inserts; default 16. */
  readonly maxRun?: number;
}

const DEFAULT_INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x2d, 0x2e, 0x3a, 0x7f, 0x80, 0xff];

/**
 * A copy of `bytes` with 1..maxEdits random edits: overwrite a byte (random or interesting), flip a
 * bit, insert a byte or a run of one byte, delete 1-4 bytes, truncate, duplicate a slice
 * elsewhere (repeated fields and records), or write a big-endian u16 (length fields).
 */
export function mutate(rng: Rng, bytes: Uint8Array, options: MutateOptions = {}): Buffer {
  const int = (n: number): number => randInt(rng, n);
  const interesting = options.interesting ?? DEFAULT_INTERESTING;
  const maxRun = options.maxRun ?? 16;
  const byte = (): number => (interesting.length > 0 && rng() < 0.5 ? interesting[int(interesting.length)]! : int(256));
  let out = Buffer.from(bytes);
  for (let e = 1 + int(options.maxEdits ?? 4); e > 0; e--) {
    const at = int(out.length + 1);
    const last = Math.min(at, out.length - 1);
    switch (int(9)) {
      case 0:
        if (out.length > 0) out[last] = int(256);
        break;
      case 1:
        if (out.length > 0) out[last] = byte();
        break;
      case 2:
        if (out.length > 0) out[last] = out[last]! ^ (1 << int(8));
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), Buffer.from([byte()]), out.subarray(at)]);
        break;
      case 4:
        out = Buffer.concat([out.subarray(0, at), Buffer.alloc(1 + int(maxRun), byte()), out.subarray(at)]);
        break;
      case 5:
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(4)))]);
        break;
      case 6:
        out = out.subarray(0, at);
        break;
      case 7: {
        const s = int(out.length + 1);
        const slice = out.subarray(s, Math.min(out.length, s + 1 + int(64)));
        out = Buffer.concat([out.subarray(0, at), slice, out.subarray(at)]);
        break;
      }
      default:
        if (out.length >= 2) out.writeUInt16BE(int(4) === 0 ? 0xffff : Math.min(0xffff, int(out.length + 8)), int(out.length - 1));
    }
  }
  return out;
}

export interface FuzzContext {
  readonly rng: Rng;
  readonly iteration: number;
  /** Whether this input is random bytes (rather than a mutated seed). */
  readonly random: boolean;
}

export interface FuzzOptions<T> {
  readonly iterations: number;
  readonly seed: number;
  /** The share of inputs that are random bytes instead of a mutated seed; default 0.25. */
  readonly random?: number;
  /** Random inputs are 0 to maxRandomLength - 1 bytes long; default 300. */
  readonly maxRandomLength?: number;
  readonly mutate?: MutateOptions;
  /** Adjusts a generated input (a signature in front, a payload behind, a length field fixed up). */
  readonly shape?: (input: Buffer, ctx: FuzzContext) => Buffer;
  /** The parser for one input (e.g. with a random cap); default the `parse` argument. */
  readonly parserFor?: (ctx: FuzzContext) => Parser<T>;
  /** Appended to an invalid input, which must stay invalid; default 1-16 random bytes. */
  readonly suffix?: Uint8Array;
  /** Walk the prefixes of one input in this many; default 50. */
  readonly prefixEvery?: number;
  /** Prefix walks advance by 1 to prefixStride bytes; default 1 (every prefix). */
  readonly prefixStride?: number;
  /**
   * The parser takes one whole datagram: check assertDatagramContract instead of the stream contract,
   * on the input, on a copy of it at another offset of a larger buffer, and now and then on every prefix.
   */
  readonly datagram?: boolean;
  /** Parser-specific assertions on each answer. */
  readonly check?: (input: Buffer, r: ParseResult<T>, ctx: FuzzContext & { readonly parse: Parser<T> }) => void;
}

export interface FuzzStats {
  ok: number;
  incomplete: number;
  invalid: number;
}

/**
 * Runs `parse` over `options.iterations` random and mutated inputs (mutations of `seeds`) and
 * asserts the parser contract listed at the top of this file; returns how often each answer came.
 */
export function fuzzParser<T>(parse: Parser<T>, seeds: readonly Uint8Array[], options: FuzzOptions<T>): FuzzStats {
  const rng = mulberry32(options.seed);
  const randomShare = options.random ?? 0.25;
  const prefixEvery = options.prefixEvery ?? 50;
  const stride = options.prefixStride ?? 1;
  const step = stride === 1 ? undefined : (): number => 1 + randInt(rng, stride);
  const stats: FuzzStats = { ok: 0, incomplete: 0, invalid: 0 };
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    const random = seeds.length === 0 || rng() < randomShare;
    const ctx: FuzzContext = { rng, iteration, random };
    let input = random ? randomBytes(rng, randInt(rng, options.maxRandomLength ?? 300)) : mutate(rng, pick(rng, seeds), options.mutate);
    if (options.shape !== undefined) input = options.shape(input, ctx);
    const p = options.parserFor?.(ctx) ?? parse;
    try {
      let r: ParseResult<T>;
      try {
        r = p(input);
      } catch (e) {
        assert.fail(`the parser threw: ${String(e)}`);
      }
      assert.ok(r.kind === 'ok' || r.kind === 'incomplete' || r.kind === 'invalid', `unknown answer ${JSON.stringify(r)}`);
      stats[r.kind]++;
      if (options.datagram === true) {
        assertDatagramContract(input, r);
        // A datagram read into a larger receive buffer is a view at an offset: same answer, no peeking.
        const before = 1 + randInt(rng, 8);
        const big = Buffer.concat([randomBytes(rng, before), input, randomBytes(rng, 1 + randInt(rng, 8))]);
        assert.deepEqual(p(big.subarray(before, before + input.length)), r, 'the same datagram at another offset answers differently');
        if (iteration % prefixEvery === 0) {
          for (let k = 0; k <= input.length; k += step?.() ?? 1) assertDatagramContract(input.subarray(0, k), p(input.subarray(0, k)));
        }
      } else {
        assertContract(p, input, r, options.suffix ?? randomBytes(rng, 1 + randInt(rng, 16)), rng);
        if (iteration % prefixEvery === 0) assertPrefixesSettle(p, input, step);
      }
      options.check?.(input, r, { ...ctx, parse: p });
    } catch (e) {
      // Whatever failed, say how to get the input back.
      if (e instanceof Error) e.message += `\n(fuzz seed 0x${options.seed.toString(16)}, iteration ${iteration}, input ${input.toString('hex')})`;
      throw e;
    }
  }
  return stats;
}

/**
 * A datagram parser's answer on one datagram: never incomplete; an ok covers exactly the datagram; an
 * invalid has a reason.
 */
export function assertDatagramContract<T>(datagram: Uint8Array, r: ParseResult<T>): void {
  assert.ok(r.kind === 'ok' || r.kind === 'invalid', `a datagram parser answered ${JSON.stringify(r)}`);
  if (r.kind === 'ok') assert.equal(r.length, datagram.length, 'ok length is not the datagram length');
  else if (r.kind === 'invalid') assert.ok(typeof r.reason === 'string' && r.reason.length > 0, 'empty reason');
}

/** The per-answer part of the contract (see the top of this file). */
function assertContract<T>(parse: Parser<T>, input: Buffer, r: ParseResult<T>, suffix: Uint8Array, rng: Rng): void {
  if (r.kind === 'ok') {
    assert.ok(r.length > 0 && r.length <= input.length, `ok length ${r.length} not within the input`);
    assert.deepEqual(parse(input.subarray(0, r.length)), r, 'the accepted bytes alone answer differently');
  } else if (r.kind === 'incomplete') {
    assert.ok(r.needed === undefined || r.needed > input.length, `needed ${r.needed} <= ${input.length}`);
    const k = randInt(rng, input.length + 1);
    assert.equal(parse(input.subarray(0, k)).kind, 'incomplete', `prefix ${k} of an incomplete input is not incomplete`);
  } else {
    assert.ok(typeof r.reason === 'string' && r.reason.length > 0, 'empty reason');
    assert.equal(parse(Buffer.concat([input, suffix])).kind, 'invalid', 'more bytes rescued an invalid input');
  }
}

/**
 * Along the prefixes of `bytes` (every one, or advancing by `step()`): incomplete until a final
 * answer, which never changes afterwards (the same ok, or invalid).
 */
export function assertPrefixesSettle<T>(parse: Parser<T>, bytes: Uint8Array, step?: () => number): void {
  let settled: ParseResult<T> | undefined;
  for (let k = 0; k <= bytes.length; k += step?.() ?? 1) {
    const a = parse(bytes.subarray(0, k));
    if (settled === undefined) {
      if (a.kind !== 'incomplete') settled = a;
    } else if (settled.kind === 'ok') {
      assert.deepEqual(a, settled, `prefix ${k} changed the ok answer`);
    } else {
      assert.equal(a.kind, settled.kind, `prefix ${k} changed the answer`);
    }
  }
}

/** The first prefix length at which `parse` answers invalid (-1 if none does). */
export function firstInvalidAt<T>(parse: Parser<T>, bytes: Uint8Array): number {
  for (let k = 0; k <= bytes.length; k++) if (parse(bytes.subarray(0, k)).kind === 'invalid') return k;
  return -1;
}

export type Signature = 'yes' | 'no' | 'maybe';

/**
 * A signature function's answer along every prefix of `bytes` (length 0..n): `maybe` until it
 * decides at prefix length `at`, and the same answer for every longer prefix.
 */
export function signatureDecision(sig: (bytes: Uint8Array) => Signature, bytes: Uint8Array): { answer: Signature; at: number } {
  let answer: Signature = 'maybe';
  let at = -1;
  for (let n = 0; n <= bytes.length; n++) {
    const a = sig(bytes.subarray(0, n));
    if (at === -1) {
      if (a !== 'maybe') {
        answer = a;
        at = n;
      }
    } else {
      assert.equal(a, answer, `answer changed at prefix ${n}`);
    }
  }
  return { answer, at };
}
