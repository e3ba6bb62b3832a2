import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSyslog, type SyslogMessage } from '../../../src/protocols/syslog/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<SyslogMessage> => parseSyslog(b);
const BOM = '\u00ef\u00bb\u00bf'; // EF BB BF as latin1 characters
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG. */
const octet = (msg: Buffer): Buffer => Buffer.concat([b(`${msg.length} `), msg]);
/** RFC 6587 §3.4.2: SYSLOG-MSG TRAILER. */
const line = (msg: Buffer, trailer = '\n'): Buffer => Buffer.concat([msg, b(trailer)]);

function expected(framing: SyslogMessage['framing'], pri: number, version: number | undefined, messageLength: number, length: number): ParseResult<SyslogMessage> {
  const v: { framing: SyslogMessage['framing']; pri: number; facility: number; severity: number; version?: number; messageLength: number } = {
    framing,
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    messageLength,
  };
  if (version !== undefined) v.version = version;
  return ok(v, length);
}

/** Every message in both framings (and with a NUL trailer), through every delivery. */
function accepts(msg: Buffer, pri: number, version: number | undefined): void {
  const o = octet(msg);
  assertSameForEveryDelivery(parse, o, expected('octet-counting', pri, version, msg.length, o.length));
  for (const trailer of ['\n', '\u0000']) {
    const l = line(msg, trailer);
    assertSameForEveryDelivery(parse, l, expected('non-transparent', pri, version, msg.length, l.length));
  }
}

// RFC 5424 §6.5, examples 1-4 (BOM = EF BB BF).
const RFC5424_EXAMPLES: readonly (readonly [string, string, number])[] = [
  ['example 1 (no STRUCTURED-DATA, BOM)', `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`, 34],
  ['example 2 (no MSGID)', "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", 165],
  ['example 3 (STRUCTURED-DATA and MSG)', `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${BOM}An application event log entry...`, 165],
  ['example 4 (STRUCTURED-DATA only)', '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]', 165],
];

for (const [name, msg, pri] of RFC5424_EXAMPLES) {
  test(`RFC 5424 §6.5 ${name}, octet-counted and LF/NUL-terminated`, () => accepts(b(msg), pri, 1));
}

// RFC 3164 §5.4 examples (the relayed forms, which carry a PRI).
const RFC3164_EXAMPLES: readonly (readonly [string, string, number])[] = [
  ['example 1', "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", 34],
  ['example 2 (as relayed, PRI 13)', '<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!', 13],
  ['example 3', "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%", 165],
  // "<0>1990 " must not be read as an RFC 5424 VERSION: VERSION has at most 3 digits.
  ['example 4 (PRI 0, a year right after PRI)', "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!", 0],
];

for (const [name, msg, pri] of RFC3164_EXAMPLES) {
  test(`RFC 3164 §5.4 ${name}, octet-counted and LF/NUL-terminated`, () => accepts(b(msg), pri, undefined));
}

test('recorded: util-linux logger --tcp --octet-count --rfc5424 (syslog-logger-rfc5424-octet-counting.bin)', () => {
  const bytes = fixture('syslog-logger-rfc5424-octet-counting.bin');
  assert.ok(bytes.toString('latin1').startsWith('112 <165>1 '));
  assertSameForEveryDelivery(parse, bytes, expected('octet-counting', 165, 1, 112, 116));
});

test('recorded: util-linux logger --tcp --rfc5424, LF-terminated (syslog-logger-rfc5424-lf.bin)', () => {
  const bytes = fixture('syslog-logger-rfc5424-lf.bin');
  assert.equal(bytes[bytes.length - 1], 0x0a);
  assertSameForEveryDelivery(parse, bytes, expected('non-transparent', 35, 1, bytes.length - 1, bytes.length));
});

test('recorded: util-linux logger --tcp --rfc3164, LF-terminated (syslog-logger-rfc3164-lf.bin)', () => {
  const bytes = fixture('syslog-logger-rfc3164-lf.bin');
  assert.ok(bytes.toString('latin1').startsWith('<12>'));
  assertSameForEveryDelivery(parse, bytes, expected('non-transparent', 12, undefined, bytes.length - 1, bytes.length));
});

test('PRI range: <0> to <191>, no leading zeros (RFC 5424 §6.2.1, RFC 3164 §4.1.1)', () => {
  accepts(b('<0>x'), 0, undefined);
  accepts(b('<191>1 - - - - - -'), 191, 1);
  accepts(b('<7>'), 7, undefined); // the shortest message: PRI alone
  assertSameForEveryDelivery(parse, line(b('<192>x')), invalid('syslog PRI out of range'));
  assertSameForEveryDelivery(parse, line(b('<1000>x')), invalid('syslog PRI out of range'));
  assertSameForEveryDelivery(parse, line(b('<00>x')), invalid('leading zero in syslog PRI'));
  assertSameForEveryDelivery(parse, line(b('<013>x')), invalid('leading zero in syslog PRI'));
  assertSameForEveryDelivery(parse, line(b('<>x')), invalid('malformed syslog PRI'));
  assertSameForEveryDelivery(parse, line(b('< 13>x')), invalid('malformed syslog PRI'));
  assertSameForEveryDelivery(parse, line(b('<-1>x')), invalid('malformed syslog PRI'));
  assertSameForEveryDelivery(parse, line(b('<13x')), invalid('malformed syslog PRI'));
  assertSameForEveryDelivery(parse, octet(b('<13x>')), invalid('malformed syslog PRI'));
  // Decided at the offending byte: "<19" can still be 190/191, "<192" cannot.
  assert.equal(firstInvalidAt(parse, b('<192>x\n')), 4);
  assert.equal(firstInvalidAt(parse, b('<01>x\n')), 3);
});

test('RFC 5424 VERSION is reported when PRI is followed by NONZERO-DIGIT 0*2DIGIT SP (§6.2.2)', () => {
  accepts(b('<13>1 - - - - - -'), 13, 1);
  accepts(b('<13>12 - - - - - -'), 13, 12);
  accepts(b('<13>999 x'), 13, 999);
  accepts(b('<13>1x'), 13, undefined);
  accepts(b('<13>0 x'), 13, undefined);
  accepts(b('<13>1'), 13, undefined); // no SP after it: not a HEADER
});

test('octet-counting: MSG-LEN = NONZERO-DIGIT *DIGIT, one SP, at least "<0>" long; the frame may hold LFs', () => {
  accepts(b('<0>'), 0, undefined);
  const withLf = b('<14>first line\nsecond line');
  const o = octet(withLf);
  assertSameForEveryDelivery(parse, o, expected('octet-counting', 14, undefined, withLf.length, o.length));
  assertSameForEveryDelivery(parse, b('2 <0'), invalid('syslog octet count too small'));
  assertSameForEveryDelivery(parse, b('03 <0>'), invalid('not a syslog frame'));
  assertSameForEveryDelivery(parse, b('0 <13>x'), invalid('not a syslog frame'));
  assertSameForEveryDelivery(parse, b('5<13>x'), invalid('malformed syslog octet count'));
  assertSameForEveryDelivery(parse, b('5  <13>x'), invalid('syslog message does not start with PRI'));
  assertSameForEveryDelivery(parse, b('5 x<13>'), invalid('syslog message does not start with PRI'));
  // The PRI must close inside the frame: "<134" fills a 4-byte frame.
  assertSameForEveryDelivery(parse, b('4 <134>x'), invalid('malformed syslog PRI'));
});

test('frames after the first are not part of it', () => {
  const first = octet(b('<13>one'));
  assertSameForEveryDelivery(parse, Buffer.concat([first, octet(b('<13>two'))]), expected('octet-counting', 13, undefined, 7, first.length));
  assertSameForEveryDelivery(parse, b('<13>one\n<13>two\n'), expected('non-transparent', 13, undefined, 7, 8));
  assertSameForEveryDelivery(parse, b('<13>one\r\n'), expected('non-transparent', 13, undefined, 8, 9)); // CR stays in the message
});

test('cap: the whole frame within maxBytes (default 8192)', () => {
  const at = line(b(`<13>${'x'.repeat(8192 - 5)}`));
  assert.equal(at.length, 8192);
  assert.equal(parse(at).kind, 'ok');
  const over = line(b(`<13>${'x'.repeat(8192 - 4)}`));
  assert.deepEqual(parse(over), invalid('syslog message exceeds cap'));
  assert.equal(firstInvalidAt(parse, over), 8192);
  // Octet count: the frame "8187 " + 8187 bytes is 8192; "8188 " is refused at its count.
  assert.deepEqual(parse(b('8187 <13>')), incomplete(8192));
  assert.deepEqual(parse(b('8188 ')), invalid('syslog message exceeds cap'));
  assert.equal(firstInvalidAt(parse, b('99999 <13>x')), 4); // 9999 already passes the cap
  // A custom cap.
  const small = (x: Uint8Array): ParseResult<SyslogMessage> => parseSyslog(x, 16);
  assert.equal(small(b('<13>0123456789a\n')).kind, 'ok');
  assert.deepEqual(small(b('<13>0123456789ab\n')), invalid('syslog message exceeds cap'));
  assert.deepEqual(small(b('13 <13>0123')), incomplete(16)); // 2 + 1 + 13 = 16 fits
  assert.equal(small(b('13 <13>012345678')).kind, 'ok');
  assert.deepEqual(small(b('14 <13>0123456789')), invalid('syslog message exceeds cap'));
});

test('not syslog: decided at the first byte', () => {
  assert.equal(firstInvalidAt(parse, b('GET / HTTP/1.1\r\n\r\n')), 1);
  assert.equal(firstInvalidAt(parse, b('SSH-2.0-x\r\n')), 1);
  assert.equal(firstInvalidAt(parse, hex('16 03 01 02 00')), 1);
  assert.equal(firstInvalidAt(parse, b(' <13>x\n')), 1);
  // sslh's sscanf("<%d>") accepts these; they are not syslog PRIs.
  for (const s of ['<+13>x\n', '< 13>x\n', '<13 x\n']) assert.equal(parse(b(s)).kind, 'invalid', s);
});

test('prefixes are incomplete, with needed once the octet count is known', () => {
  const msg = b('<34>1 2003-10-11T22:14:15.003Z host app - - -');
  const l = line(msg);
  for (let n = 0; n < l.length; n++) assert.deepEqual(parse(l.subarray(0, n)), incomplete(), `line prefix ${n}`);
  const o = octet(msg);
  const sp = o.indexOf(0x20);
  for (let n = 0; n <= sp; n++) assert.deepEqual(parse(o.subarray(0, n)), incomplete(), `count prefix ${n}`);
  for (let n = sp + 1; n < o.length; n++) assert.deepEqual(parse(o.subarray(0, n)), incomplete(o.length), `frame prefix ${n}`);
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('syslog-logger-rfc5424-octet-counting.bin'),
    fixture('syslog-logger-rfc5424-lf.bin'),
    fixture('syslog-logger-rfc3164-lf.bin'),
    octet(b('<0>')),
    line(b('<191>1 - - - - - -'), '\u0000'),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x5359534c,
    mutate: { interesting: [0x00, 0x0a, 0x0d, 0x20, 0x30, 0x31, 0x39, 0x3c, 0x3e, 0x2d], maxEdits: 3 },
    parserFor: ({ rng }) => (rng() < 0.2 ? (x: Uint8Array) => parseSyslog(x, 64) : parse),
    check: (input, r) => {
      if (r.kind === 'ok') {
        const v = r.value;
        assert.ok(v.pri >= 0 && v.pri <= 191 && v.facility === v.pri >> 3 && v.severity === (v.pri & 7));
        assert.ok(r.length <= 8192);
        if (v.framing === 'non-transparent') {
          assert.equal(input[0], 0x3c);
          assert.equal(v.messageLength, r.length - 1);
          assert.ok(input[r.length - 1] === 0x0a || input[r.length - 1] === 0x00);
        } else {
          assert.equal(input.subarray(0, r.length - v.messageLength).toString('latin1'), `${v.messageLength} `);
        }
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
