/**
 * Rule regexes run over client-controlled text on the event loop: a pattern with nested
 * quantifiers must not let a crafted SNI, Host, Postgres user or first-bytes blob stall the
 * worker. With a backtracking engine each of these inputs takes far longer than the generous
 * deadline (exponential in the input length); with RE2 they finish at once. No timing is
 * asserted: the deadline is the failure. Each decision runs in a worker thread, so a blocked one
 * fails its test instead of freezing the test process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideNow, decideOffThread } from '../helpers/decide-off-thread.js';
import { buildClientHello } from '../helpers/tls-hello-builder.js';

const DEADLINE_MS = 10_000;

const rules = (when: string): string =>
  `listeners: ["127.0.0.1:0"]\nbackends:\n  a: { servers: ["127.0.0.1:1"] }\n  b: { servers: ["127.0.0.1:2"] }\nroutes:\n  - name: r\n    when: ${when}\n    to: a\ndefault: b\n`;

const decide = (when: string, bytes: Uint8Array, final = true): Promise<string> => decideOffThread({ rules: rules(when), bytes, final }, DEADLINE_MS);

/** A valid 255-byte host name (labels of at most 63) that `^(a+\.?)+$` almost matches: only its last letter differs. */
const CRAFTED_NAME = [...Array<string>(3).fill('a'.repeat(63)), 'a'.repeat(62) + 'b'].join('.');
const MATCHING_NAME = CRAFTED_NAME.slice(0, -1) + 'a';

describe('rule regexes take time linear in the input (RE2)', () => {
  it('the crafted name is what the test claims', () => {
    assert.equal(CRAFTED_NAME.length, 255);
    assert.match(CRAFTED_NAME, /^[a.]+b$/);
  });

  it('tls.sni ~^(a+\\.?)+$ over a crafted 255-byte SNI', async () => {
    const when = '{ tls: { sni: ["~^(a+\\\\.?)+$"] } }';
    assert.equal(await decide(when, buildClientHello({ sni: CRAFTED_NAME })), 'default');
    assert.equal(await decide(when, buildClientHello({ sni: MATCHING_NAME })), 'r');
  });

  it('http.host ~^(a+\\.?)+$ over a crafted Host header', async () => {
    const when = '{ http: { host: ["~^(a+\\\\.?)+$"] } }';
    const get = (host: string): Buffer => Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.equal(await decide(when, get(CRAFTED_NAME)), 'default');
    assert.equal(await decide(when, get(MATCHING_NAME)), 'r');
  });

  it('postgres.user ~^(a|a)+$ over a crafted user name', async () => {
    const when = '{ postgres: { user: ["~^(a|a)+$"] } }';
    const startup = (user: string): Buffer => {
      const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from(`user\0${user}\0\0`)]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length + 4);
      return Buffer.concat([len, body]);
    };
    assert.equal(await decide(when, startup('a'.repeat(5000) + '!')), 'default');
    assert.equal(await decide(when, startup('a'.repeat(5000))), 'r');
  });

  it('bytes.regex ^(a+)+$ over a 16 KB first flight, final and not', async () => {
    const when = '{ bytes: { regex: "^(a+)+$" } }';
    const bytes = Buffer.alloc(16384, 'a');
    bytes[bytes.length - 1] = 0x21;
    assert.equal(await decide(when, bytes, false), 'wait');
    assert.equal(await decide(when, bytes, true), 'default');
    bytes[bytes.length - 1] = 0x61;
    assert.equal(await decide(when, bytes), 'r');
  });
});

describe('bytes.regex reads the bytes as latin1: \\xHH addresses one byte, 0x80-0xff included', () => {
  const cases: [string, number[], string][] = [
    ['^\\x16\\x03[\\x00-\\x04]', [0x16, 0x03, 0x01], 'r'],
    ['^\\x80\\xff$', [0x80, 0xff], 'r'],
    // Not UTF-8: C2 80 is two bytes, not the one character U+0080.
    ['^\\x80$', [0xc2, 0x80], 'default'],
    ['^[\\x80-\\xff]{3}$', [0x80, 0xc3, 0xff], 'r'],
    ['^[\\x80-\\xff]{3}$', [0x80, 0x7f, 0xff], 'default'],
    ['^\\xe9', [0xe9], 'r'],
    // Case-sensitive unless (?i): 0xc9 is latin1 É.
    ['^\\xe9', [0xc9], 'default'],
    ['(?i)^\\xe9', [0xc9], 'r'],
    ['^.\\x00', [0xff, 0x00], 'r'],
    ['^[^\\x00-\\x7f]', [0x41], 'default'],
  ];
  for (const [re, bytes, want] of cases) {
    it(`${re} over ${Buffer.from(bytes).toString('hex')}: ${want}`, () => {
      const when = `{ bytes: { regex: "${re.replace(/\\/g, '\\\\')}" } }`;
      assert.equal(decideNow({ rules: rules(when), bytes: Buffer.from(bytes), final: true }), want);
    });
  }
});
