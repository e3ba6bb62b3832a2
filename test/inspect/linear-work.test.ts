/**
 * Inspection work is linear in the bytes received: a first message delivered one byte per segment
 * must not be re-read from its first byte on every segment. Counted, not timed: every indexed read
 * a parser makes goes through a counting view, and the total over a whole one-byte-per-segment
 * delivery (through Facts, as the inspector drives it) must stay within a small multiple of the
 * message length — on every TCP parser of the protocol table, on messages up to the limits each
 * allows. Also the peek buffer (copies), `bytes.prefix` (compares) and `bytes.regex` (text passes).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import { PeekBuffer } from '../../src/inspect/peek-buffer.js';
import { PARSERS, type ParserKey } from '../../src/protocols/table.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable } from '../../src/router/route-table.js';
import { firstMessagesFor, longHttpHead } from '../helpers/first-messages.js';

/** Reads per received byte a whole delivery may cost: a resumed parse re-reads the few bytes of the header or token it stopped in (a TLS record header, a SOCKS4 header: up to ~13). */
const READS_PER_BYTE = 16;
const SLACK = 256;

interface Counter {
  reads: number;
  /** Bytes the view spanned each time its backing ArrayBuffer was taken (a bulk decode of everything). */
  spanned: number;
}

/** `bytes` behind a Proxy that counts indexed reads (and, for `.buffer`, the whole length). */
function counting(bytes: Uint8Array, c: Counter): Uint8Array {
  return new Proxy(bytes, {
    get(target, prop) {
      if (typeof prop === 'string') {
        const ch = prop.charCodeAt(0);
        if (ch >= 0x30 && ch <= 0x39) c.reads++;
        else if (prop === 'buffer') c.spanned += target.length;
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Feeds `message` one byte per segment through a PeekBuffer and Facts, asking `key` after each. */
function dripThroughFacts(key: ParserKey, message: Buffer): { reads: number; kind: string } {
  const c: Counter = { reads: 0, spanned: 0 };
  const peek = new PeekBuffer();
  const facts = new Facts(16384);
  let kind = 'none';
  for (let i = 0; i < message.length; i++) {
    peek.append(message.subarray(i, i + 1));
    facts.update(counting(peek.bytes, c));
    kind = facts.get(key).kind;
  }
  return { reads: c.reads, kind };
}

describe('inspection work is linear in the bytes received', () => {
  for (const key of Object.keys(PARSERS) as ParserKey[]) {
    it(`${key}: one byte per segment costs at most ${READS_PER_BYTE} reads per byte`, () => {
      for (const m of firstMessagesFor(key)) {
        const { reads, kind } = dripThroughFacts(key, m);
        assert.equal(kind, 'ok', `${key}: ${m.subarray(0, 48).toString('hex')} did not parse`);
        assert.ok(reads <= READS_PER_BYTE * m.length + SLACK, `${key}: ${reads} reads for a ${m.length}-byte message delivered one byte per segment (bound ${READS_PER_BYTE * m.length + SLACK})`);
      }
    });
  }

  it('the peek buffer grows geometrically: one-byte appends past 1 MiB do not copy everything each time', () => {
    const peek = new PeekBuffer();
    const one = Buffer.from([0x61]);
    let copies = 0;
    let backing: ArrayBufferLike | undefined;
    // Stop at the first sign of trouble: a copy per append past 1 MiB would take minutes.
    for (let i = 0; i < (1 << 20) + 65536 && copies <= 40; i++) {
      peek.append(one);
      const b = peek.bytes.buffer;
      if (b !== backing) {
        copies++;
        backing = b;
      }
    }
    assert.ok(copies <= 40, `${copies} reallocations (a copy of everything) for ${peek.length} one-byte appends`);
    assert.equal(peek.bytes.length, peek.length);
  });

  it('bytes.prefix: a 4 KB prefix sent one byte per segment has each byte compared about once', () => {
    const prefix = Buffer.alloc(4096, 0xab);
    const r = compileRulesText(`listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\nroutes:\n  - { name: r, when: { bytes: { prefix: ["${'cd'.repeat(8)}", "${prefix.toString('hex')}"] } }, to: a }\ndefault: a\n`, 't.yaml');
    assert.ok(r.ok);
    const table = new RouteTable(r.rules);
    const c: Counter = { reads: 0, spanned: 0 };
    const peek = new PeekBuffer();
    const facts = new Facts(16384);
    let route = 'wait';
    for (let i = 0; i < prefix.length && route === 'wait'; i++) {
      peek.append(prefix.subarray(i, i + 1));
      const bytes = counting(peek.bytes, c);
      facts.update(bytes);
      const d = table.decide({ bytes, final: false, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 1, localAddress: '127.0.0.1', localPort: 443, facts });
      if (d.kind === 'route') route = d.route?.name ?? 'default';
    }
    assert.equal(route, 'r');
    assert.ok(c.reads <= 4 * prefix.length, `${c.reads} reads to match a ${prefix.length}-byte prefix sent one byte per segment`);
  });

  it('bytes.regex: a head that never matches, one byte per segment, is decoded and searched about 9 times its length, not once per segment', () => {
    const r = compileRulesText('listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\nroutes:\n  - { name: r, when: { bytes: { regex: "NEVER-THERE" } }, to: a }\ndefault: a\n', 't.yaml');
    assert.ok(r.ok);
    const table = new RouteTable(r.rules);
    const message = longHttpHead(4000);
    const c: Counter = { reads: 0, spanned: 0 };
    const peek = new PeekBuffer();
    const facts = new Facts(16384);
    for (let i = 0; i < message.length; i++) {
      peek.append(message.subarray(i, i + 1));
      const bytes = counting(peek.bytes, c);
      facts.update(bytes);
      const ctx: MatchContext = { bytes, final: false, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 1, localAddress: '127.0.0.1', localPort: 443, facts };
      assert.equal(table.decide(ctx).kind, 'wait');
    }
    // Something was decoded (the count measures the regex's input), and not quadratically much.
    assert.ok(c.spanned >= message.length, `only ${c.spanned} bytes decoded`);
    assert.ok(c.spanned <= 12 * message.length, `${c.spanned} bytes decoded for regex passes over a ${message.length}-byte head delivered one byte per segment`);
  });
});
