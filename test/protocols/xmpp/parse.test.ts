import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseXmppStreamHeader, type XmppStreamHeader } from '../../../src/protocols/xmpp/parse.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { firstInvalidAt, fuzzParser } from '../../helpers/fuzz.js';

const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const u = (s: string): Buffer => Buffer.from(s, 'utf8');
const parse = parseXmppStreamHeader;
const NS = "xmlns:stream='http://etherx.jabber.org/streams'";

function header(value: XmppStreamHeader, length: number): ParseResult<XmppStreamHeader> {
  return ok(value, length);
}

// --- accepted, byte-exact from RFC 6120 ---

test('RFC 6120 §9.1.1 step 1: client stream header, after an XML declaration (§11.5)', () => {
  const text =
    "<?xml version='1.0'?>\n" +
    '<stream:stream\n' +
    "     from='juliet@im.example.com'\n" +
    "     to='im.example.com'\n" +
    "     version='1.0'\n" +
    "     xml:lang='en'\n" +
    "     xmlns='jabber:client'\n" +
    "     xmlns:stream='http://etherx.jabber.org/streams'>";
  assertSameForEveryDelivery(parse, u(text), header({ to: 'im.example.com', from: 'juliet@im.example.com', version: '1.0', namespace: 'jabber:client' }, text.length));
});

test('RFC 6120 §9.2.1 step 1: server-to-server stream header (jabber:server)', () => {
  const text = `<stream:stream from='im.example.com' to='example.net' version='1.0' xml:lang='en' xmlns='jabber:server' ${NS}>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: 'example.net', from: 'im.example.com', version: '1.0', namespace: 'jabber:server' }, text.length));
});

test('RFC 6120 §4.8.2 prefix-free style: no content namespace declared', () => {
  const text = `<stream:stream from='juliet@im.example.com' to='im.example.com' version='1.0' xml:lang='en' ${NS}>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: 'im.example.com', from: 'juliet@im.example.com', version: '1.0', namespace: undefined }, text.length));
});

test('an unprefixed <stream> in the stream namespace (default namespace = stream namespace)', () => {
  const text = `<stream xmlns='http://etherx.jabber.org/streams' to='im.example.com' version='1.0'>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: 'im.example.com', version: '1.0', namespace: undefined }, text.length));
});

test('any prefix for the stream namespace (RFC 6120 §4.8.5 only recommends "stream")', () => {
  const text = `<toto:stream to='im.example.com' xmlns='jabber:client' xmlns:toto='http://etherx.jabber.org/streams'>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: 'im.example.com', namespace: 'jabber:client' }, text.length));
});

test('double quotes, any attribute order, tabs and CR LF between attributes, spaces around =', () => {
  const text = '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\r\n\t<stream:stream\r\n\txmlns:stream = "http://etherx.jabber.org/streams"\txmlns="jabber:client"\r\n version="1.0" to =\t"Im.Example.COM." >';
  assertSameForEveryDelivery(parse, u(text), header({ to: 'im.example.com', version: '1.0', namespace: 'jabber:client' }, text.length));
});

test('to: IPv6 literal, IDN U-label, no to at all', () => {
  const v6 = `<stream:stream to='[2001:DB8::1]' xmlns='jabber:client' ${NS}>`;
  assertSameForEveryDelivery(parse, u(v6), header({ to: '[2001:db8::1]', namespace: 'jabber:client' }, v6.length));
  const idn = `<stream:stream to='Ünïcode.例え.test' xmlns='jabber:client' ${NS}>`;
  assertSameForEveryDelivery(parse, u(idn), header({ to: 'ünïcode.例え.test', namespace: 'jabber:client' }, Buffer.byteLength(idn)));
  const none = `<stream:stream xmlns='jabber:client' ${NS} version='1.0'>`;
  assertSameForEveryDelivery(parse, u(none), header({ to: undefined, version: '1.0', namespace: 'jabber:client' }, none.length));
});

test('entity and character references in values are decoded; raw whitespace becomes SP', () => {
  const text = `<stream:stream from='o&apos;brien&#64;example.com&#x2F;a&#10;b&amp;c&lt;&gt;&quot;	d' to='example.com' xmlns='jabber:client' ${NS}>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: 'example.com', from: "o'brien@example.com/a\nb&c<>\" d", namespace: 'jabber:client' }, text.length));
});

test('to at the 255-byte cap is accepted (RFC 7622 allows 1023; DNS names stop at 255)', () => {
  const domain = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(63)].join('.');
  assert.equal(domain.length, 255);
  const text = `<stream:stream to='${domain}' xmlns='jabber:client' ${NS}>`;
  assertSameForEveryDelivery(parse, u(text), header({ to: domain, namespace: 'jabber:client' }, text.length));
});

test('bytes after the start tag (whitespace, <starttls/>) are not part of it', () => {
  const tag = `<stream:stream to='example.com' xmlns='jabber:client' ${NS} version='1.0'>`;
  const bytes = u(tag + "\n<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  assertSameForEveryDelivery(parse, bytes, header({ to: 'example.com', version: '1.0', namespace: 'jabber:client' }, tag.length));
});

// --- recorded (see test/fixtures/README.md) ---

test('recorded: slixmpp 1.8.3 (xmpp-slixmpp-stream-header.bin, no XML declaration)', () => {
  assertSameForEveryDelivery(parse, fixture('xmpp-slixmpp-stream-header.bin'), header({ to: 'chat.example.test', version: '1.0', namespace: 'jabber:client' }, 136));
});

test('recorded: go-sendxmpp 0.5.6 (xmpp-go-sendxmpp-stream-header.bin, XML declaration, trailing LF)', () => {
  const bytes = fixture('xmpp-go-sendxmpp-stream-header.bin');
  assert.equal(bytes[bytes.length - 1], 0x0a);
  assertSameForEveryDelivery(parse, bytes, header({ to: 'chat.example.test', version: '1.0', namespace: 'jabber:client' }, bytes.length - 1));
});

// --- invalid ---

test('not XML, or not a stream element: refused as early as possible', () => {
  for (const [text, at] of [
    ['GET / HTTP/1.1\r\n\r\n', 1],
    ['SSH-2.0-x\r\n', 1],
    ['\u0016\u0003\u0001', 1],
    ['<stream:features>', 9], // 'f' where the local part must be "stream"
    ['<foo:bar>', 6],
    ['<stream:streams>', 15],
    ['< stream:stream>', 2],
  ] as const) {
    assert.equal(firstInvalidAt(parse, u(text)), at, text);
  }
  assertSameForEveryDelivery(parse, u('GET / HTTP/1.1\r\n\r\n'), invalid('not an XML stream header'));
  assertSameForEveryDelivery(parse, u(`<stream:features ${NS}>`), invalid('not a stream element'));
  assertSameForEveryDelivery(parse, u(`<stream:stream:stream ${NS}>`), invalid('malformed element name'));
  assertSameForEveryDelivery(parse, u(`<streamx to='a' xmlns='http://etherx.jabber.org/streams'>`), invalid('not a stream element'));
  assertSameForEveryDelivery(parse, u(`<message to='a' xmlns='jabber:client'>`), invalid('not a stream element'));
});

test('wrong or missing stream namespace, content namespace = stream namespace (RFC 6120 §4.8)', () => {
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/stream'>`), invalid('stream element not in the stream namespace'));
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example' xmlns='jabber:client'>`), invalid('stream element not in the stream namespace'));
  assertSameForEveryDelivery(parse, u(`<stream to='a.example' xmlns='jabber:client'>`), invalid('stream element not in the stream namespace'));
  assertSameForEveryDelivery(parse, u(`<x:stream to='a.example' ${NS}>`), invalid('stream element not in the stream namespace'));
  assertSameForEveryDelivery(parse, u(`<stream:stream xmlns='http://etherx.jabber.org/streams' ${NS}>`), invalid('content namespace is the stream namespace'));
  assertSameForEveryDelivery(parse, u(`<stream:stream foo:bar='1' xmlns='jabber:client' ${NS}>`), invalid('undeclared namespace prefix foo'));
});

test('XML declaration: only first, version 1.x, UTF-8 only, no other processing instructions, comments or DTDs', () => {
  const tag = `<stream:stream to='a.example' xmlns='jabber:client' ${NS}>`;
  assertSameForEveryDelivery(parse, u(`<?xml version='1.0' encoding='ISO-8859-1'?>${tag}`), invalid('XMPP requires UTF-8'));
  assertSameForEveryDelivery(parse, u(`<?xml version='2.0'?>${tag}`), invalid('unsupported XML version'));
  assertSameForEveryDelivery(parse, u(`<?xml encoding='UTF-8'?>${tag}`), invalid('malformed XML declaration'));
  assertSameForEveryDelivery(parse, u(`<?xml encoding='UTF-8' version='1.0'?>${tag}`), invalid('malformed XML declaration'));
  assertSameForEveryDelivery(parse, u(`<?xml version='1.0'standalone='yes'?>${tag}`), invalid('malformed XML declaration'));
  assertSameForEveryDelivery(parse, u(`<?xml version='1&#46;0'?>${tag}`), invalid('reference in XML declaration'));
  assertSameForEveryDelivery(parse, u(`<?xml?>${tag}`), invalid('processing instruction before the stream header'));
  assertSameForEveryDelivery(parse, u(`<?xml-stylesheet href='a'?>${tag}`), invalid('processing instruction before the stream header'));
  assertSameForEveryDelivery(parse, u(` <?xml version='1.0'?>${tag}`), invalid('processing instruction or misplaced XML declaration'));
  assertSameForEveryDelivery(parse, u(`<?xml version='1.0'?><?xml version='1.0'?>${tag}`), invalid('processing instruction or misplaced XML declaration'));
  assertSameForEveryDelivery(parse, u(`<!-- hello -->${tag}`), invalid('comment or DTD before the stream header'));
  assertSameForEveryDelivery(parse, u(`<!DOCTYPE stream>${tag}`), invalid('comment or DTD before the stream header'));
  assertSameForEveryDelivery(parse, Buffer.concat([hex('ef bb bf'), u(tag)]), invalid('not an XML stream header')); // BOM
});

test('malformed start tags', () => {
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example' xmlns='jabber:client' ${NS}/>`), invalid('empty stream element'));
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example' to='b.example' xmlns='jabber:client' ${NS}>`), invalid('duplicate attribute to'));
  assertSameForEveryDelivery(parse, u(`<stream:stream to=a.example xmlns='jabber:client' ${NS}>`), invalid('attribute value not quoted'));
  // the value runs to the next ' and "jabber:client'" follows it without whitespace
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example"  xmlns='jabber:client' ${NS}>`), invalid('malformed stream header'));
  assertSameForEveryDelivery(parse, u(`<stream:stream to='a.example'xmlns='jabber:client' ${NS}>`), invalid('malformed stream header'));
  assertSameForEveryDelivery(parse, u(`<stream:stream to ${NS}>`), invalid('malformed attribute'));
  assertSameForEveryDelivery(parse, u(`<stream:stream from='a<b' ${NS}>`), invalid("'<' in attribute value"));
  assertSameForEveryDelivery(parse, u(`<stream:stream from='a&b' ${NS}>`), invalid('malformed reference in attribute value'));
  assertSameForEveryDelivery(parse, u(`<stream:stream from='a&nbsp;' ${NS}>`), invalid('malformed reference in attribute value'));
  assertSameForEveryDelivery(parse, u(`<stream:stream from='&#0;' ${NS}>`), invalid('malformed reference in attribute value'));
  assertSameForEveryDelivery(parse, u(`<stream:stream from='a\u0001b' ${NS}>`), invalid('control character in attribute value'));
  assertSameForEveryDelivery(parse, Buffer.concat([u(`<stream:stream from='a`), hex('ff'), u(`' ${NS}>`)]), invalid('invalid UTF-8'));
  assertSameForEveryDelivery(parse, Buffer.concat([u(`<stream:stream from='a`), hex('ed a0 80'), u(`' ${NS}>`)]), invalid('invalid UTF-8')); // surrogate
  assertSameForEveryDelivery(parse, u(`<stream:stream :to='a' ${NS}>`), invalid('malformed attribute name'));
  assertSameForEveryDelivery(parse, u(`<:stream ${NS}>`), invalid('malformed element name'));
  assertSameForEveryDelivery(parse, u(`<stream:stream version='1' xmlns='jabber:client' ${NS}>`), invalid('malformed version'));
});

test('to must be a plausible domain of at most 255 bytes', () => {
  for (const to of ['', '.', 'juliet@im.example.com', 'im.example.com/res', 'a b.example', 'a..example', '-a.example', 'a-.example', `${'x'.repeat(64)}.example`, '[::1', '[not-v6]', 'a!b.example']) {
    assertSameForEveryDelivery(parse, u(`<stream:stream to='${to}' xmlns='jabber:client' ${NS}>`), invalid('invalid domain in to'));
  }
  const d256 = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62), 'e'].join('.');
  assert.equal(d256.length, 256);
  assertSameForEveryDelivery(parse, u(`<stream:stream to='${d256}' xmlns='jabber:client' ${NS}>`), invalid('invalid domain in to'));
});

test('truncated, then garbage', () => {
  const bytes = Buffer.concat([u(`<stream:stream to='im.exa`), hex('00'), u(`mple.com' ${NS}>`)]);
  assertSameForEveryDelivery(parse, bytes, invalid('control character in attribute value'));
  assert.equal(firstInvalidAt(parse, bytes), 26);
});

test('the header must fit in 4096 bytes', () => {
  const open = `<stream:stream to='example.com' xmlns='jabber:client' ${NS} from='`;
  const fits = open + 'x'.repeat(4096 - open.length - 2) + "'>";
  assert.equal(fits.length, 4096);
  assertSameForEveryDelivery(parse, u(fits), header({ to: 'example.com', from: 'x'.repeat(4096 - open.length - 2), namespace: 'jabber:client' }, 4096));
  const over = open + 'x'.repeat(4096 - open.length - 1) + "'>";
  assertSameForEveryDelivery(parse, u(over), invalid('stream header exceeds 4096 bytes'));
  // whitespace forever
  assertSameForEveryDelivery(parse, Buffer.alloc(5000, 0x20), invalid('stream header exceeds 4096 bytes'));
});

test('prefixes are incomplete', () => {
  const text = "<?xml version='1.0'?>\n" + `<stream:stream to='a.example' xmlns='jabber:client' ${NS}>`;
  for (let k = 0; k < text.length; k++) assert.deepEqual(parse(u(text.slice(0, k))), incomplete(), `prefix ${k}`);
  // a multi-byte character cut in the middle is incomplete, not invalid
  assert.deepEqual(parse(Buffer.concat([u(`<stream:stream to='`), hex('e4 be')])), incomplete());
  assert.deepEqual(parse(u('   ')), incomplete());
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = [
    fixture('xmpp-slixmpp-stream-header.bin'),
    fixture('xmpp-go-sendxmpp-stream-header.bin'),
    u(`<?xml version="1.0" encoding="utf-8"?><s:stream to="Caf\u00e9.example." from='a&amp;b' xmlns:s='http://etherx.jabber.org/streams'>`),
    u(`<stream xmlns='http://etherx.jabber.org/streams' to='[::1]' version='1.0'>`),
  ];
  const stats = fuzzParser(parse, seeds, {
    iterations: 20000,
    seed: 0x5222,
    mutate: { interesting: u(` \t\r\n<>/?:='"&;#x.@-[]`), maxEdits: 3, maxRun: 64 },
    shape: (input, { random, rng }) => (random && rng() < 0.5 ? Buffer.concat([u('<stream:stream '), input]) : input),
    suffix: u('\u0000'),
    prefixStride: 7,
    check: (input, r) => {
      if (r.kind !== 'ok') return;
      assert.ok(r.length <= 4096);
      assert.equal(input[r.length - 1], 0x3e, 'ok ends at the start tag\'s >');
      const { to } = r.value;
      if (to !== undefined) {
        assert.equal(to, to.toLowerCase());
        assert.ok(to.length > 0 && Buffer.byteLength(to) <= 255 && !to.endsWith('.') && !/[@/\s]/.test(to));
      }
      assert.notEqual(r.value.namespace, 'http://etherx.jabber.org/streams');
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
