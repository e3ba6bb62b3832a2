/**
 * Shared machinery for the fast-check property suites in this directory (not a test file itself).
 *
 * Every parser in src/protocols is a pure function over "all bytes received so far" (result.ts).
 * `parserProperties` registers, for one parser, the properties that hold for all of them:
 *
 *  1. never throws on arbitrary bytes, and answers within the ParseResult contract;
 *  2. never throws on mutations of a seed corpus (real recordings and built inputs): byte flips,
 *     overwrites, insertions, runs, deletions, truncations, duplicated slices, length-field edits;
 *  3. reads nothing outside its view: the input placed inside a larger ArrayBuffer whose other
 *     bytes are poison (a valid hello, 0x16 0x03, CRLFs, ...) answers exactly like an exact-size copy;
 *  4. indexes nothing outside its view: through a Proxy that records every indexed read, no index
 *     below 0 or at/after `length` is read (the "bound-checks every read" promise of result.ts);
 *  5. answer stability: the answer on the whole input equals the final answer when the same bytes
 *     arrive in random chunks, or one byte at a time, accumulated in the real PeekBuffer (views into
 *     a larger buffer with stale bytes after them); no intermediate answer is invalid when the whole
 *     is not, an intermediate ok is the whole's ok, an intermediate `needed` is above what it has,
 *     never beyond the whole's ok length, and never below a `needed` given earlier;
 *  6. an ok answer's length is within the input and the first `length` bytes alone give the same
 *     ok; appending bytes never changes an ok or rescues an invalid.
 *
 * Reproducible: every property runs with a fixed seed (printed by fast-check on failure together
 * with the counterexample and its shrink path). PROPERTY_RUNS_SCALE=<factor> multiplies every
 * numRuns for a longer soak, e.g. PROPERTY_RUNS_SCALE=20 node --test dist/test/property/, and
 * PROPERTY_SEED_OFFSET=<n> shifts every seed to explore other inputs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PeekBuffer } from '../../src/inspect/peek-buffer.js';
import type { ParseResult } from '../../src/protocols/result.js';

export { fc };

export type Parse<T, O> = (bytes: Uint8Array, options: O) => ParseResult<T>;

const SCALE = (() => {
  const v = Number(process.env['PROPERTY_RUNS_SCALE'] ?? '1');
  return Number.isFinite(v) && v > 0 ? v : 1;
})();

/** `n` scaled by PROPERTY_RUNS_SCALE (at least 1). */
export function runs(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}

const SEED_OFFSET = (() => {
  const v = Number(process.env['PROPERTY_SEED_OFFSET'] ?? '0');
  return Number.isInteger(v) ? v : 0;
})();

/**
 * fc.assert with a fixed seed and a scaled number of runs. PROPERTY_SEED_OFFSET=<n> shifts every
 * seed (to explore beyond the fixed runs; a failure prints the effective seed to reproduce with).
 */
export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IPropertyWithHooks<Ts>, seed: number, numRuns: number): void {
  fc.assert(property, { seed: seed + SEED_OFFSET, numRuns: runs(numRuns) });
}

/** `check` for asynchronous properties (one real socket exchange per run, say). */
export async function checkAsync<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncPropertyWithHooks<Ts>, seed: number, numRuns: number): Promise<void> {
  await fc.assert(property, { seed: seed + SEED_OFFSET, numRuns: runs(numRuns) });
}

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** A fixture under test/fixtures (read from the source tree: dist/ holds no .bin files). */
export function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));
}

// ---------------------------------------------------------------------------------------------
// Mutations

export type Mutation =
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'run'; readonly at: number; readonly byte: number; readonly count: number }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'dup'; readonly from: number; readonly count: number; readonly at: number }
  | { readonly op: 'length'; readonly at: number; readonly width: 1 | 2 | 3; readonly delta: number; readonly set?: number };

/** Applies `mutations` in order to a copy of `base`; positions are taken modulo the current length. */
export function applyMutations(base: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(base);
  const pos = (p: number, extra = 0): number => p % (out.length + extra);
  for (const m of mutations) {
    switch (m.op) {
      case 'set':
        if (out.length > 0) out[pos(m.at)] = m.byte;
        break;
      case 'flip':
        if (out.length > 0) {
          const p = pos(m.at);
          out[p] = out[p]! ^ (1 << m.bit);
        }
        break;
      case 'insert': {
        const p = pos(m.at, 1);
        out = Buffer.concat([out.subarray(0, p), m.bytes, out.subarray(p)]);
        break;
      }
      case 'run': {
        const p = pos(m.at, 1);
        out = Buffer.concat([out.subarray(0, p), Buffer.alloc(m.count, m.byte), out.subarray(p)]);
        break;
      }
      case 'delete': {
        if (out.length === 0) break;
        const p = pos(m.at);
        out = Buffer.concat([out.subarray(0, p), out.subarray(Math.min(out.length, p + m.count))]);
        break;
      }
      case 'truncate':
        out = out.subarray(0, pos(m.at, 1));
        break;
      case 'dup': {
        const s = pos(m.from, 1);
        const slice = Buffer.from(out.subarray(s, Math.min(out.length, s + m.count)));
        const p = pos(m.at, 1);
        out = Buffer.concat([out.subarray(0, p), slice, out.subarray(p)]);
        break;
      }
      case 'length': {
        // A big-endian length field of `width` bytes: nudged by `delta`, or overwritten by `set`.
        if (out.length < m.width) break;
        const p = m.at % (out.length - m.width + 1);
        let v = 0;
        for (let k = 0; k < m.width; k++) v = v * 256 + out[p + k]!;
        const max = 2 ** (8 * m.width) - 1;
        v = m.set !== undefined ? Math.min(m.set, max) : Math.max(0, Math.min(max, v + m.delta));
        for (let k = m.width - 1; k >= 0; k--) {
          out[p + k] = v & 0xff;
          v = Math.floor(v / 256);
        }
        break;
      }
    }
  }
  return out;
}

const DEFAULT_INTERESTING = [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x20, 0x2d, 0x2e, 0x3a, 0x7f, 0x80, 0xff];

export function byteArb(interesting: readonly number[] = DEFAULT_INTERESTING): fc.Arbitrary<number> {
  return fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 }));
}

export function mutationArb(interesting?: readonly number[]): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const byte = byteArb(interesting);
  return fc.oneof(
    fc.record({ op: fc.constant('set' as const), at, byte }),
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('run' as const), at, byte, count: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ op: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
    fc.record({ op: fc.constant('dup' as const), from: fc.nat(), count: fc.integer({ min: 1, max: 64 }), at }),
    fc.record(
      {
        op: fc.constant('length' as const),
        at,
        width: fc.constantFrom(1 as const, 2 as const, 3 as const),
        delta: fc.integer({ min: -8, max: 8 }),
        set: fc.constantFrom(0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xff, 0x100, 0x4000, 0x4001, 0x7fff, 0xffff, 0xffffff),
      },
      { requiredKeys: ['op', 'at', 'width', 'delta'] },
    ),
  );
}

/** A corpus entry with 1..maxEdits mutations applied. */
export function mutatedArb(corpus: readonly Uint8Array[], interesting?: readonly number[], maxEdits = 6): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.integer({ min: 0, max: corpus.length - 1 }), fc.array(mutationArb(interesting), { minLength: 1, maxLength: maxEdits }))
    .map(([i, muts]) => applyMutations(corpus[i]!, muts));
}

// ---------------------------------------------------------------------------------------------
// Oracles (each throws an AssertionError naming the input in hex)

function describeInput(input: Uint8Array): string {
  const h = hexOf(input);
  return `input (${input.length} bytes) ${h.length > 4096 ? h.slice(0, 4096) + '...' : h}`;
}

/** Calls the parser, failing (not throwing through) if it throws. */
export function call<T, O>(parse: Parse<T, O>, input: Uint8Array, options: O): ParseResult<T> {
  try {
    return parse(input, options);
  } catch (e) {
    assert.fail(`the parser threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} on ${describeInput(input)}`);
  }
}

/** ParseResult contract on one answer; returns it. */
export function checkContract<T, O>(parse: Parse<T, O>, input: Buffer, options: O): ParseResult<T> {
  const r = call(parse, input, options);
  switch (r.kind) {
    case 'ok':
      assert.ok(Number.isInteger(r.length) && r.length > 0 && r.length <= input.length, `ok length ${r.length} outside 1..${input.length}`);
      assert.deepEqual(call(parse, Buffer.from(input.subarray(0, r.length)), options), r, 'the first `length` bytes alone answer differently');
      break;
    case 'incomplete':
      assert.ok(r.needed === undefined || (Number.isInteger(r.needed) && r.needed > input.length), `needed ${r.needed} <= ${input.length}`);
      break;
    case 'invalid':
      assert.ok(typeof r.reason === 'string' && r.reason.length > 0, 'invalid without a reason');
      break;
    default:
      assert.fail(`unknown answer ${JSON.stringify(r)}`);
  }
  return r;
}

/** `bytes` as a view at offset `before` into a larger buffer: poison before and after it. */
export function poisonedView(bytes: Uint8Array, poison: Uint8Array, before: number, asBuffer: boolean): Uint8Array {
  const ab = new ArrayBuffer(before + bytes.length + poison.length);
  const all = new Uint8Array(ab);
  for (let k = 0; k < before; k++) all[k] = poison.length > 0 ? poison[k % poison.length]! : 0x16;
  all.set(bytes, before);
  all.set(poison, before + bytes.length);
  return asBuffer ? Buffer.from(ab, before, bytes.length) : new Uint8Array(ab, before, bytes.length);
}

export function checkPoisoned<T, O>(parse: Parse<T, O>, input: Uint8Array, options: O, poison: Uint8Array, before: number, asBuffer: boolean): void {
  const exact = asBuffer ? Buffer.from(input) : new Uint8Array(input);
  const expected = call(parse, exact, options);
  const view = poisonedView(input, poison, before, asBuffer);
  assert.deepEqual(call(parse, view, options), expected, 'the answer on a view into a larger (poisoned) buffer differs from the exact-size copy');
  // The parser must not write either.
  assert.deepEqual(Buffer.from(view), Buffer.from(input), 'the parser modified its input');
}

/**
 * `bytes` behind a Proxy that records every indexed read outside [0, length). Methods and
 * accessors (buffer, byteOffset, subarray...) are forwarded to the real array.
 */
export function recordingView(bytes: Uint8Array): { view: Uint8Array; outside: number[] } {
  const outside: number[] = [];
  const n = bytes.length;
  const view = new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string' && prop.length > 0) {
        const c = prop.charCodeAt(0);
        if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
          const i = Number(prop);
          if (Number.isInteger(i) && String(i) === prop && (i < 0 || i >= n)) outside.push(i);
        }
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { view, outside };
}

export function checkStrictReads<T, O>(parse: Parse<T, O>, input: Buffer, options: O): void {
  const expected = call(parse, Buffer.from(input), options);
  const { view, outside } = recordingView(Buffer.from(input));
  const r = call(parse, view, options);
  assert.deepEqual(outside, [], `indexed reads outside [0, ${input.length}): ${[...new Set(outside)].slice(0, 8).join(', ')}`);
  assert.deepEqual(r, expected, 'the answer through the recording view differs');
}

/**
 * Feeds `input` in the chunks delimited by `cuts` through a PeekBuffer, parsing after every chunk,
 * and checks the answers against the answer on the whole input (see the module comment, item 5).
 */
export function checkChunked<T, O>(parse: Parse<T, O>, input: Buffer, options: O, cuts: readonly number[]): void {
  const whole = call(parse, Buffer.from(input), options);
  const peek = new PeekBuffer();
  let prev = 0;
  let lastNeeded = 0;
  const points = [...cuts, input.length];
  for (let k = 0; k < points.length; k++) {
    const at = points[k]!;
    if (at < prev) continue;
    if (at === prev && k < points.length - 1) continue;
    // Chunks are copies, as sockets deliver them (PeekBuffer keeps the first chunk by reference).
    peek.append(Buffer.from(input.subarray(prev, at)));
    prev = at;
    const r = call(parse, peek.bytes, options);
    if (at === input.length) {
      assert.deepEqual(r, whole, `the answer after the last chunk differs from the answer on the whole input (cuts ${cuts.join(',')})`);
      break;
    }
    if (whole.kind !== 'invalid') assert.notEqual(r.kind, 'invalid', `a prefix of ${at} bytes answered invalid (${r.kind === 'invalid' ? r.reason : ''}) but the whole input is ${whole.kind}`);
    if (r.kind === 'ok') assert.deepEqual(r, whole, `a prefix of ${at} bytes answered a different ok`);
    if (r.kind === 'incomplete' && r.needed !== undefined) {
      assert.ok(r.needed > at, `prefix of ${at} bytes: needed ${r.needed} is not above what it has`);
      if (whole.kind === 'ok') assert.ok(r.needed <= whole.length, `prefix of ${at} bytes: needed ${r.needed} overshoots the ok length ${whole.length}`);
      // A lower bound learnt from fewer bytes cannot be undercut by more bytes.
      assert.ok(r.needed >= lastNeeded, `prefix of ${at} bytes: needed ${r.needed} is below the ${lastNeeded} said earlier`);
      lastNeeded = r.needed;
    }
  }
}

/** Every prefix, one byte at a time. */
export function checkByteByByte<T, O>(parse: Parse<T, O>, input: Buffer, options: O): void {
  const cuts: number[] = [];
  for (let k = 1; k < input.length; k++) cuts.push(k);
  checkChunked(parse, input, options, cuts);
}

/** Appending bytes never changes an ok and never rescues an invalid. */
export function checkSuffix<T, O>(parse: Parse<T, O>, input: Buffer, options: O, suffix: Uint8Array): void {
  const r = call(parse, input, options);
  if (r.kind === 'incomplete') return;
  const longer = call(parse, Buffer.concat([input, suffix]), options);
  if (r.kind === 'ok') assert.deepEqual(longer, r, 'bytes after an ok input changed the answer');
  else assert.equal(longer.kind, 'invalid', 'bytes after an invalid input rescued it');
}

// ---------------------------------------------------------------------------------------------
// The common property list

export interface ParserSpec<T, O> {
  readonly name: string;
  readonly parse: Parse<T, O>;
  /** Parser options for one run (caps, limits); default undefined. */
  readonly options?: fc.Arbitrary<O>;
  /** Seed corpus: real recordings and built inputs. */
  readonly corpus: readonly Uint8Array[];
  /** Bytes worth writing in mutations (delimiters, type bytes). */
  readonly interesting?: readonly number[];
  /** Poison placed around views (valid inputs of this or another protocol, signature bytes). */
  readonly poisons: readonly Uint8Array[];
  /** Longest arbitrary input; default 4096. */
  readonly maxRandom?: number;
  /** First of the consecutive seeds used by the properties of this parser. */
  readonly seed: number;
  /** numRuns per property (scaled by PROPERTY_RUNS_SCALE). */
  readonly runs: {
    readonly random: number;
    readonly mutated: number;
    readonly poisoned: number;
    readonly strict: number;
    readonly chunked: number;
    readonly byteByByte: number;
  };
}

export function inputArb(spec: ParserSpec<unknown, unknown>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...spec.corpus).map((b) => Buffer.from(b)) },
    { weight: 4, arbitrary: mutatedArb(spec.corpus, spec.interesting) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: Math.min(spec.maxRandom ?? 4096, 512) }).map((b) => Buffer.from(b)) },
  );
}

export function parserProperties<T, O>(spec: ParserSpec<T, O>): void {
  const options = spec.options ?? (fc.constant(undefined) as unknown as fc.Arbitrary<O>);
  const inputs = inputArb(spec as ParserSpec<unknown, unknown>);
  const poison = fc.oneof(fc.constantFrom(...spec.poisons), fc.uint8Array({ minLength: 1, maxLength: 64 }));
  const s = spec.seed;

  describe(`${spec.name}: generic properties`, () => {
    it('every corpus entry is accepted as it is (the corpus is not stale)', () => {
      for (const c of spec.corpus) {
        // Options may tighten caps; the corpus is checked with the defaults.
        const r = call(spec.parse, Buffer.from(c), undefined as O);
        assert.equal(r.kind, 'ok', `corpus entry ${hexOf(c).slice(0, 80)}... answered ${JSON.stringify(r).slice(0, 200)}`);
      }
    });

    it(`never throws on arbitrary bytes (seed ${s}, ${runs(spec.runs.random)} runs)`, () => {
      check(
        fc.property(fc.uint8Array({ maxLength: spec.maxRandom ?? 4096 }), options, (bytes, o) => {
          checkContract(spec.parse, Buffer.from(bytes), o);
        }),
        s,
        spec.runs.random,
      );
    });

    it(`never throws on mutated corpus entries; extra bytes never change an ok or rescue an invalid (seed ${s + 1}, ${runs(spec.runs.mutated)} runs)`, () => {
      check(
        fc.property(mutatedArb(spec.corpus, spec.interesting), options, fc.uint8Array({ minLength: 1, maxLength: 32 }), (bytes, o, suffix) => {
          checkContract(spec.parse, bytes, o);
          checkSuffix(spec.parse, bytes, o, suffix);
        }),
        s + 1,
        spec.runs.mutated,
      );
    });

    it(`reads nothing outside its view of a larger, poisoned buffer (seed ${s + 2}, ${runs(spec.runs.poisoned)} runs)`, () => {
      check(
        fc.property(inputs, options, poison, fc.integer({ min: 0, max: 64 }), fc.boolean(), (bytes, o, p, before, asBuffer) => {
          checkPoisoned(spec.parse, bytes, o, p, before, asBuffer);
          // Every prefix too: the end of a prefix is where a missing bound check would read poison.
          for (const k of [bytes.length >> 1, bytes.length - 1, bytes.length - 2]) {
            if (k > 0) checkPoisoned(spec.parse, bytes.subarray(0, k), o, p, before, asBuffer);
          }
        }),
        s + 2,
        spec.runs.poisoned,
      );
    });

    it(`indexes nothing outside [0, length) (seed ${s + 3}, ${runs(spec.runs.strict)} runs)`, () => {
      check(
        fc.property(inputs, options, fc.nat(), (bytes, o, cut) => {
          checkStrictReads(spec.parse, bytes, o);
          checkStrictReads(spec.parse, bytes.subarray(0, cut % (bytes.length + 1)), o);
        }),
        s + 3,
        spec.runs.strict,
      );
    });

    it(`same answer whole and in random chunks (seed ${s + 4}, ${runs(spec.runs.chunked)} runs)`, () => {
      check(
        fc.property(inputs, options, fc.array(fc.nat(), { maxLength: 16 }), (bytes, o, raw) => {
          const cuts = raw.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
          checkChunked(spec.parse, bytes, o, cuts);
        }),
        s + 4,
        spec.runs.chunked,
      );
    });

    it(`same answer whole and byte by byte; valid prefixes never invalid (seed ${s + 5}, ${runs(spec.runs.byteByByte)} runs)`, () => {
      check(
        fc.property(inputs, options, (bytes, o) => {
          checkByteByByte(spec.parse, bytes, o);
        }),
        s + 5,
        spec.runs.byteByByte,
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Datagram parsers (result.ts DatagramParseResult): one whole UDP datagram in, never incomplete

/** The datagram contract on one answer: ok covers the whole datagram, invalid has a reason. */
export function checkDatagramContract<T>(parse: (datagram: Uint8Array) => ParseResult<T>, input: Uint8Array): ParseResult<T> {
  const r = call(parse, input, undefined);
  assert.ok(r.kind === 'ok' || r.kind === 'invalid', `a datagram parser answered ${JSON.stringify(r)} on ${describeInput(input)}`);
  if (r.kind === 'ok') assert.equal(r.length, input.length, 'ok length is not the datagram length');
  if (r.kind === 'invalid') assert.ok(typeof r.reason === 'string' && r.reason.length > 0, 'invalid without a reason');
  return r;
}

export interface DatagramParserSpec<T> {
  readonly name: string;
  readonly parse: (datagram: Uint8Array) => ParseResult<T>;
  readonly corpus: readonly Uint8Array[];
  readonly interesting?: readonly number[];
  readonly poisons: readonly Uint8Array[];
  readonly maxRandom?: number;
  /**
   * Every strict prefix of an accepted datagram is invalid with a reason starting "truncated" (true for a
   * self-delimiting format; OpenVPN's random tail makes a cut reset look like a shorter one).
   */
  readonly prefixesTruncated: boolean;
  readonly seed: number;
  readonly runs: { readonly random: number; readonly mutated: number; readonly poisoned: number; readonly strict: number; readonly prefixes: number };
}

/**
 * The properties of a datagram parser: what parserProperties checks minus the stream ones (chunks,
 * suffixes: a datagram is never delivered in pieces nor extended), plus the datagram contract on
 * every prefix (the truncations a short read or a broken sender produces).
 */
export function datagramParserProperties<T>(spec: DatagramParserSpec<T>): void {
  const s = spec.seed;
  const inputs = inputArb(spec as unknown as ParserSpec<unknown, unknown>);
  const poison = fc.oneof(fc.constantFrom(...spec.poisons), fc.uint8Array({ minLength: 1, maxLength: 64 }));
  describe(`${spec.name}: generic datagram properties`, () => {
    it('every corpus entry is accepted as it is, ok length = datagram length', () => {
      for (const c of spec.corpus) assert.equal(checkDatagramContract(spec.parse, Buffer.from(c)).kind, 'ok', hexOf(c).slice(0, 80));
    });
    it(`never throws on arbitrary bytes (seed ${s}, ${runs(spec.runs.random)} runs)`, () => {
      check(fc.property(fc.uint8Array({ maxLength: spec.maxRandom ?? 2048 }), (bytes) => void checkDatagramContract(spec.parse, bytes)), s, spec.runs.random);
    });
    it(`never throws on mutated corpus entries (seed ${s + 1}, ${runs(spec.runs.mutated)} runs)`, () => {
      check(fc.property(mutatedArb(spec.corpus, spec.interesting), (bytes) => void checkDatagramContract(spec.parse, bytes)), s + 1, spec.runs.mutated);
    });
    it(`reads nothing outside its view of a larger, poisoned buffer (seed ${s + 2}, ${runs(spec.runs.poisoned)} runs)`, () => {
      check(
        fc.property(inputs, poison, fc.integer({ min: 0, max: 64 }), fc.boolean(), (bytes, p, before, asBuffer) => {
          checkPoisoned(spec.parse, bytes, undefined, p, before, asBuffer);
          if (bytes.length > 1) checkPoisoned(spec.parse, bytes.subarray(0, bytes.length - 1), undefined, p, before, asBuffer);
        }),
        s + 2,
        spec.runs.poisoned,
      );
    });
    it(`indexes nothing outside [0, length) (seed ${s + 3}, ${runs(spec.runs.strict)} runs)`, () => {
      check(
        fc.property(inputs, fc.nat(), (bytes, cut) => {
          checkStrictReads(spec.parse, bytes, undefined);
          checkStrictReads(spec.parse, bytes.subarray(0, cut % (bytes.length + 1)), undefined);
        }),
        s + 3,
        spec.runs.strict,
      );
    });
    it(`every prefix answers by the datagram contract${spec.prefixesTruncated ? '; those of an ok are "truncated"' : ''} (seed ${s + 4}, ${runs(spec.runs.prefixes)} runs)`, () => {
      check(
        fc.property(inputs, (bytes) => {
          const whole = checkDatagramContract(spec.parse, bytes);
          for (let k = 0; k < bytes.length; k++) {
            const r = checkDatagramContract(spec.parse, bytes.subarray(0, k));
            if (spec.prefixesTruncated && whole.kind === 'ok') {
              assert.ok(r.kind === 'invalid' && r.reason.startsWith('truncated'), `prefix ${k} of an accepted datagram: ${JSON.stringify(r)}`);
            }
          }
        }),
        s + 4,
        spec.runs.prefixes,
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Small shared generators

/** 16 IPv6 bytes, biased towards zero runs, IPv4-mapped and a few well-known prefixes. */
export const ipv6BytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc
    .tuple(fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }))
    .map(([groups]) => {
      const out = new Uint8Array(16);
      groups.forEach((g, k) => {
        out[2 * k] = g >> 8;
        out[2 * k + 1] = g & 0xff;
      });
      return out;
    }),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, ...v4])),
  fc.constantFrom(new Uint8Array(16), Uint8Array.from([...new Array<number>(15).fill(0), 1])),
);

/** Several text forms of one IPv6 address: full, compressed anywhere possible, upper case, IPv4 tail. */
export function ipv6TextForms(b: Uint8Array): string[] {
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push((b[2 * k]! << 8) | b[2 * k + 1]!);
  const forms = new Set<string>();
  forms.add(groups.map((g) => g.toString(16)).join(':'));
  forms.add(groups.map((g) => g.toString(16).padStart(4, '0')).join(':'));
  // "::" over every run of >= 1 zero groups (RFC 4291 allows compressing a single zero group).
  for (let s = 0; s < 8; s++) {
    for (let e = s + 1; e <= 8; e++) {
      if (groups.slice(s, e).some((g) => g !== 0)) break;
      forms.add(`${groups.slice(0, s).map((g) => g.toString(16)).join(':')}::${groups.slice(e).map((g) => g.toString(16)).join(':')}`);
    }
  }
  const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  forms.add(`${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${v4}`);
  for (let s = 0; s < 6; s++) {
    for (let e = s + 1; e <= 6; e++) {
      if (groups.slice(s, e).some((g) => g !== 0)) break;
      const tail = groups.slice(e, 6).map((g) => g.toString(16));
      forms.add(`${groups.slice(0, s).map((g) => g.toString(16)).join(':')}::${[...tail, v4].join(':')}`);
    }
  }
  for (const f of [...forms]) forms.add(f.toUpperCase());
  return [...forms];
}

// ---------------------------------------------------------------------------------------------
// Independent oracles

/** CRC-32C, bit by bit (RFC 3720 §B.4 parameters), to check the table-driven src/protocols/crc32c.ts. */
export function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * RFC 5952 text of 16 bytes computed without src/: the WHATWG URL serializer (lowercase, no leading
 * zeros, first longest run of >= 2 zero groups as "::"), except that IPv4-mapped addresses are
 * written "::ffff:a.b.c.d" (RFC 5952 §5), which URL does not do.
 */
export function canonicalIPv6(b: Uint8Array): string {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let k = 0; k < 10; k++) if (b[k] !== 0) mapped = false;
  if (mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let k = 0; k < 8; k++) groups.push(((b[2 * k]! << 8) | b[2 * k + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export const ipv4BytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.constantFrom(Uint8Array.of(0, 0, 0, 0), Uint8Array.of(255, 255, 255, 255), Uint8Array.of(127, 0, 0, 1), Uint8Array.of(10, 0, 0, 1)),
);

export const ipv4Text = (b: Uint8Array): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
