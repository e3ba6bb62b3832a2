import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTinc, type TincId } from '../../../src/protocols/tinc/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<TincId> => parseTinc(b);
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function id(line: string, kind: 'node' | 'invitation', name: string, minor?: number): ParseResult<TincId> {
  const v: { kind: 'node' | 'invitation'; name: string; protocolMajor: 17; protocolMinor?: number } = { kind, name, protocolMajor: 17 };
  if (minor !== undefined) v.protocolMinor = minor;
  return ok(v, line.length);
}

/** A throw-away Ed25519 public key as `tinc join` sends it: 43 base64 characters. */
const KEY = 'x7Cq3Vb9Zr_0Jm-KfL2pQw8Ns4Ht6Yd1Ue5Ig7Oa3Sbc';

test('tinc 1.0: "%d %s %d" -> "0 alpha 17\\n" (send_id, protocol_version 17)', () => {
  assertSameForEveryDelivery(parse, b('0 alpha 17\n'), id('0 alpha 17\n', 'node', 'alpha'));
});

test('tinc 1.1: "%d %s %d.%d" -> "0 node_1 17.7\\n", minor 0..999', () => {
  assertSameForEveryDelivery(parse, b('0 node_1 17.7\n'), id('0 node_1 17.7\n', 'node', 'node_1', 7));
  assertSameForEveryDelivery(parse, b('0 Office2 17.0\n'), id('0 Office2 17.0\n', 'node', 'Office2', 0));
  assertSameForEveryDelivery(parse, b('0 x 17.1\n'), id('0 x 17.1\n', 'node', 'x', 1));
  assertSameForEveryDelivery(parse, b('0 x 17.999\n'), id('0 x 17.999\n', 'node', 'x', 999));
});

test('tinc join: "0 ?%s %d.%d" with the invitation key', () => {
  const line = `0 ?${KEY} 17.1\n`;
  assertSameForEveryDelivery(parse, b(line), id(line, 'invitation', KEY, 1));
  const std = '0 ?AbC+/9 17.1\n'; // standard base64 alphabet too
  assertSameForEveryDelivery(parse, b(std), id(std, 'invitation', 'AbC+/9', 1));
});

test('recorded: tincd 1.0.36 connecting to a peer (tinc-1.0.36-id.bin)', () => {
  const bytes = fixture('tinc-1.0.36-id.bin');
  assert.equal(bytes.toString('latin1'), '0 alpha 17\n');
  assertSameForEveryDelivery(parse, bytes, id('0 alpha 17\n', 'node', 'alpha'));
});

test('bytes after the LF are not part of the ID line', () => {
  assertSameForEveryDelivery(parse, b('0 alpha 17.7\n1 garbage\n'), id('0 alpha 17.7\n', 'node', 'alpha', 7));
  assertSameForEveryDelivery(parse, Buffer.concat([b('0 a 17\n'), hex('00ff00ff')]), id('0 a 17\n', 'node', 'a'));
});

test('names: 1..2048 of A-Z a-z 0-9 _ (check_id, MAX_STRING "%2048s")', () => {
  const n2048 = 'n'.repeat(2048);
  assertSameForEveryDelivery(parse, b(`0 ${n2048} 17.7\n`), id(`0 ${n2048} 17.7\n`, 'node', n2048, 7));
  const n2049 = `0 ${'n'.repeat(2049)} 17.7\n`;
  assert.deepEqual(parse(b(n2049)), invalid('tinc name exceeds 2048 bytes'));
  assert.equal(firstInvalidAt(parse, b(n2049)), 2 + 2049); // at the 2049th name byte
  const k2048 = `0 ?${'k'.repeat(2047)} 17.1\n`; // "?" counts
  assert.equal(parse(b(k2048)).kind, 'ok');
  assert.deepEqual(parse(b(`0 ?${'k'.repeat(2048)} 17.1\n`)), invalid('tinc name exceeds 2048 bytes'));
  for (const bad of ['al-pha', 'al.pha', 'alpha!', 'zoë']) {
    assertSameForEveryDelivery(parse, Buffer.from(`0 ${bad} 17\n`, 'utf8'), invalid('invalid tinc node name'));
  }
  assertSameForEveryDelivery(parse, b('0  alpha 17\n'), invalid('invalid tinc node name')); // empty name
  assertSameForEveryDelivery(parse, b('0 ? 17.1\n'), invalid('invalid tinc invitation key'));
  assertSameForEveryDelivery(parse, b('0 ?ab=cd 17.1\n'), invalid('invalid tinc invitation key'));
});

test('the control line of the tinc CLI is not accepted', () => {
  const cookie = 'ab'.repeat(32);
  assertSameForEveryDelivery(parse, b(`0 ^${cookie} 0\n`), invalid('invalid tinc node name'));
});

test('protocol version: major 17, minor 1..3 digits, single SP, LF without CR', () => {
  assertSameForEveryDelivery(parse, b('0 alpha 18\n'), invalid('unsupported tinc protocol version'));
  assertSameForEveryDelivery(parse, b('0 alpha 170\n'), invalid('unsupported tinc protocol version'));
  assertSameForEveryDelivery(parse, b('0 alpha 7\n'), invalid('unsupported tinc protocol version'));
  assertSameForEveryDelivery(parse, b('0 alpha 17.\n'), invalid('malformed tinc protocol minor version'));
  assertSameForEveryDelivery(parse, b('0 alpha 17.1000\n'), invalid('malformed tinc protocol minor version'));
  assertSameForEveryDelivery(parse, b('0 alpha 17.x\n'), invalid('malformed tinc protocol minor version'));
  assertSameForEveryDelivery(parse, b('0 alpha 17\r\n'), invalid('malformed tinc ID request'));
  assertSameForEveryDelivery(parse, b('0 alpha 17.7\r\n'), invalid('malformed tinc ID request'));
  assertSameForEveryDelivery(parse, b('0 alpha 17 \n'), invalid('malformed tinc ID request'));
  assertSameForEveryDelivery(parse, b('0 alpha  17\n'), invalid('unsupported tinc protocol version'));
});

test('not an ID request; decided at the first wrong byte', () => {
  assertSameForEveryDelivery(parse, b('1 alpha 17\n'), invalid('not a tinc ID request'));
  assertSameForEveryDelivery(parse, b('00 alpha 17\n'), invalid('not a tinc ID request'));
  assert.equal(firstInvalidAt(parse, b('GET / HTTP/1.1\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, b('SSH-2.0-x\r\n')), 1);
  assert.equal(firstInvalidAt(parse, hex('16 03 01 02 00')), 1);
  // sslh's is_tinc_protocol matches these ("0 " is all it checks); they are not ID lines.
  assert.equal(firstInvalidAt(parse, b('0 GET / HTTP/1.1\r\n')), 7);
  assert.equal(firstInvalidAt(parse, b('0 alpha 2.0\n')), 9);
});

test('prefixes are incomplete', () => {
  const line = b('0 ?abc 17.12\n');
  for (let n = 0; n < line.length; n++) assert.deepEqual(parse(line.subarray(0, n)), incomplete(), `prefix ${n}`);
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [fixture('tinc-1.0.36-id.bin'), b('0 node_1 17.7\n'), b(`0 ?${KEY} 17.1\n`), b('0 a 17.0\n')];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x74696e63,
    // Runs of up to 2100 name bytes reach the 2048-byte limit.
    mutate: { interesting: [0x0a, 0x0d, 0x20, 0x2e, 0x30, 0x31, 0x37, 0x3f, 0x5e, 0x5f, 0x61, 0x2d], maxEdits: 3, maxRun: 2100 },
    prefixStride: 16,
    suffix: b('\n'),
    check: (input, r) => {
      if (r.kind === 'ok') {
        assert.ok(r.length >= 7 && r.length <= 2 + 2048 + 1 + 6 + 1);
        assert.equal(input[r.length - 1], 0x0a);
        assert.ok(r.value.name.length >= 1);
        assert.ok(/^[A-Za-z0-9_]+$/.test(r.value.name) || r.value.kind === 'invitation');
      } else if (r.kind === 'incomplete') {
        assert.ok(input.length < 2 + 2048 + 1 + 6 + 1);
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
