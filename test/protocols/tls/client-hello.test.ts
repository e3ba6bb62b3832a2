import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import {
  parseClientHello,
  tlsSignature,
  tlsVersionName,
  type ClientHello,
} from '../../../src/protocols/tls/client-hello.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, feedChunks, hex } from '../../helpers/feed.js';
import { fuzzParser, randInt } from '../../helpers/fuzz.js';
import {
  EXT,
  alpnData,
  buildClientHello,
  buildHandshake,
  ext,
  record,
  serverNameData,
  supportedVersionsData,
  u16,
  u24,
  u8,
  pattern,
} from '../../helpers/tls-hello-builder.js';

// Compiled to dist/test/protocols/tls/: fixtures stay in the source tree.
const FIXTURES = new URL('../../../../test/fixtures/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

const parse = (b: Uint8Array): ParseResult<ClientHello> => parseClientHello(b);

function expectOk(r: ParseResult<ClientHello>): ClientHello {
  assert.equal(r.kind, 'ok', r.kind === 'invalid' ? `invalid: ${r.reason}` : `got ${r.kind}`);
  return (r as { value: ClientHello }).value;
}

function expectInvalid(r: ParseResult<ClientHello>, reason: RegExp): void {
  assert.equal(r.kind, 'invalid', `expected invalid, got ${r.kind}`);
  assert.match((r as { reason: string }).reason, reason);
}

const isGrease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

/** Re-frames a handshake message into handshake records of `size` bytes (the last one shorter). */
function reframe(handshake: Uint8Array, size: number | readonly number[], version = 0x0301): Buffer {
  const sizes = typeof size === 'number' ? [size] : size;
  const out: Buffer[] = [];
  let i = 0;
  for (let p = 0; p < handshake.length; i++) {
    const n = Math.min(sizes[Math.min(i, sizes.length - 1)]!, handshake.length - p);
    out.push(record(0x16, version, handshake.subarray(p, p + n)));
    p += n;
  }
  return Buffer.concat(out);
}

/**
 * For inputs too large for assertSameForEveryDelivery's O(n^2) walk: whole, splits at every
 * `stride`-th offset plus every offset near a record boundary, and in small chunks (byte by byte up
 * to 4 KB; 7-byte chunks above, which still cut every record at a varying offset).
 */
function assertSameForManyDeliveries(bytes: Buffer, expected: ParseResult<ClientHello>, stride: number): void {
  const splits = new Set<number>();
  for (let k = 1; k < bytes.length; k += stride) splits.add(k);
  // Around the boundaries of the first 64 records (for 1-byte records that is every early offset).
  for (let p = 0, r = 0; p + 5 <= bytes.length && r < 64; p += 5 + bytes.readUInt16BE(p + 3), r++) {
    for (let d = -1; d <= 9; d++) if (p + d > 0 && p + d < bytes.length) splits.add(p + d);
  }
  const patterns: { name: string; chunks: Uint8Array[] }[] = [{ name: 'whole', chunks: [bytes] }];
  for (const k of splits) patterns.push({ name: `split at ${k}`, chunks: [bytes.subarray(0, k), bytes.subarray(k)] });
  const step = bytes.length <= 4096 ? 1 : 7;
  const small: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += step) small.push(bytes.subarray(i, i + step));
  patterns.push({ name: `${step}-byte chunks`, chunks: small });
  for (const { name, chunks } of patterns) {
    const answers = feedChunks(parse, chunks);
    assert.deepEqual(answers[answers.length - 1], expected, `${name}: final answer differs`);
    for (const a of answers.slice(0, -1)) {
      assert.notEqual(a.kind, 'invalid', `${name}: invalid on a valid prefix`);
      if (a.kind === 'ok') assert.deepEqual(a, expected, `${name}: a different ok`);
    }
  }
}

/** Captures the first TLS flight the running Node sends (one connection to a local TCP server). */
async function recordLiveHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  const got = new Promise<Buffer>((resolve, reject) => {
    server.on('connection', (socket) => {
      let buf = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const r = parseClientHello(buf);
        if (r.kind === 'incomplete') return;
        socket.destroy();
        if (r.kind === 'ok') resolve(buf.subarray(0, r.length));
        else reject(new Error(`live hello invalid: ${r.reason}`));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = tls.connect({ host: '127.0.0.1', port, ...options });
  client.on('error', () => {});
  try {
    return await got;
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const CHROMIUM_EXTENSIONS = [
  0x8a8a, 0xff01, 0x0012, 0x0010, 0x000d, 0x0023, 0x001b, 0xca34, 0x0017, 0x0000, 0x000a, 0x0033, 0x002b, 0x002d,
  0xfe0d, 0x0005, 0x000b, 0x44cd, 0x5a5a,
];

/** A TLS 1.3 hello in one record, as Chromium and Node send it (record 0x0301, legacy 0x0303); `fields` has the rest. */
function tls13Hello(fields: Pick<ClientHello, 'sni' | 'alpn' | 'ech' | 'cipherSuites' | 'extensions'>): ClientHello {
  const common = { sslv2: false, recordVersion: 0x0301, legacyVersion: 0x0303, version: 0x0304, records: 1 } as const;
  return { ...common, sniStatus: 'ok', supportedVersions: [0x0304, 0x0303], ...fields };
}

/** What a hello without extensions reports for everything that extensions carry. */
const NOTHING_FROM_EXTENSIONS = { sni: undefined, sniStatus: 'absent', alpn: [], ech: false, supportedVersions: [], extensions: [] } as const;

describe('tlsSignature', () => {
  it('recognises TLS handshake records and SSLv2-compatible hellos', () => {
    assert.equal(tlsSignature(hex('')), 'maybe');
    assert.equal(tlsSignature(hex('16')), 'maybe');
    assert.equal(tlsSignature(hex('1603')), 'maybe');
    assert.equal(tlsSignature(hex('160301')), 'yes');
    assert.equal(tlsSignature(hex('160304')), 'yes');
    assert.equal(tlsSignature(hex('160305')), 'no');
    assert.equal(tlsSignature(hex('1602')), 'no');
    assert.equal(tlsSignature(hex('170303')), 'no');
    assert.equal(tlsSignature(Buffer.from('GET / HTTP/1.1\r\n')), 'no');
    assert.equal(tlsSignature(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n')), 'no');
    assert.equal(tlsSignature(hex('80')), 'maybe');
    assert.equal(tlsSignature(hex('802e')), 'maybe');
    assert.equal(tlsSignature(hex('802e01')), 'maybe');
    assert.equal(tlsSignature(hex('802e0100')), 'maybe');
    assert.equal(tlsSignature(hex('802e0103')), 'yes');
    assert.equal(tlsSignature(hex('802e010301')), 'yes');
    assert.equal(tlsSignature(hex('802e010002')), 'yes');
    assert.equal(tlsSignature(hex('802e010001')), 'no');
    assert.equal(tlsSignature(hex('802e0104')), 'no');
    assert.equal(tlsSignature(hex('802e02')), 'no');
    assert.equal(tlsSignature(fixture('chromium-156-pq-clienthello.bin')), 'yes');
  });
});

describe('tlsVersionName', () => {
  it('names known versions and prints others as hex', () => {
    assert.equal(tlsVersionName(0x0300), 'ssl3');
    assert.equal(tlsVersionName(0x0301), '1.0');
    assert.equal(tlsVersionName(0x0302), '1.1');
    assert.equal(tlsVersionName(0x0303), '1.2');
    assert.equal(tlsVersionName(0x0304), '1.3');
    assert.equal(tlsVersionName(0x0002), 'ssl2');
    assert.equal(tlsVersionName(0x7f1c), '0x7f1c');
    assert.equal(tlsVersionName(0x0a0a), '0x0a0a');
    assert.equal(tlsVersionName(0xfefd), '0xfefd');
  });
});

describe('parseClientHello: recorded hellos', () => {
  const chromium = fixture('chromium-156-pq-clienthello.bin');
  const chromiumValue = tls13Hello({ sni: 'a.test', alpn: ['h2', 'http/1.1'], ech: true, cipherSuites: 16, extensions: CHROMIUM_EXTENSIONS });

  it('parses the Chromium 156 post-quantum hello (one 1946-byte record) for every delivery', () => {
    assert.equal(chromium.length, 1946);
    const v = expectOk(parse(chromium));
    assert.equal(v.sni, 'a.test');
    assert.deepEqual(v.alpn, ['h2', 'http/1.1']);
    assert.equal(v.version, 0x0304);
    assert.equal(v.records, 1);
    assert.ok(v.extensions.some(isGrease), 'GREASE extension types are kept');
    assert.ok(!v.supportedVersions.some(isGrease), 'GREASE versions are dropped');
    assertSameForEveryDelivery(parse, chromium, ok(chromiumValue, 1946));
  });

  it('reports a lower bound of the total while the Chromium hello arrives', () => {
    assert.deepEqual(parse(chromium.subarray(0, 0)), incomplete());
    assert.deepEqual(parse(chromium.subarray(0, 3)), incomplete(9));
    assert.deepEqual(parse(chromium.subarray(0, 5)), incomplete(1946));
    assert.deepEqual(parse(chromium.subarray(0, 9)), incomplete(1946));
    assert.deepEqual(parse(chromium.subarray(0, 1460)), incomplete(1946)); // first TCP segment
  });

  it('stops at the end of the hello: what follows the record is not part of it', () => {
    const ccs = record(0x14, 0x0303, hex('01'));
    assert.deepEqual(parse(Buffer.concat([chromium, ccs])), ok(chromiumValue, 1946));
  });

  it('parses the hello recorded from Node 20 (test/fixtures/node20-clienthello.bin)', () => {
    const bytes = fixture('node20-clienthello.bin');
    const expected = tls13Hello({
      sni: 'example.com',
      alpn: ['h2', 'http/1.1'],
      ech: false,
      cipherSuites: 59,
      extensions: [0x0000, 0x000b, 0x000a, 0x0023, 0x0010, 0x0016, 0x0017, 0x000d, 0x002b, 0x002d, 0x0033],
    });
    assertSameForEveryDelivery(parse, bytes, ok(expected, bytes.length));
  });

  it('parses a hello recorded live from the running Node/OpenSSL', async () => {
    const bytes = await recordLiveHello({ servername: 'Live.Example.ORG', ALPNProtocols: ['h2', 'http/1.1'] });
    const v = expectOk(parse(bytes));
    assert.equal(v.sni, 'live.example.org');
    assert.equal(v.sniStatus, 'ok');
    assert.deepEqual(v.alpn, ['h2', 'http/1.1']);
    assert.equal(v.version, 0x0304);
    assert.equal(v.sslv2, false);
    assert.equal(v.records, 1);
    assertSameForEveryDelivery(parse, bytes, ok(v, bytes.length));
  });

  it('parses a live TLS 1.2-only hello from the running Node/OpenSSL', async () => {
    const bytes = await recordLiveHello({ servername: 'tls12.test', maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] });
    const v = expectOk(parse(bytes));
    assert.equal(v.sni, 'tls12.test');
    assert.deepEqual(v.alpn, ['http/1.1']);
    assert.equal(v.legacyVersion, 0x0303);
    assert.equal(v.version, 0x0303);
  });
});

describe('parseClientHello: fragmented hellos', () => {
  const bigOptions = {
    sni: 'frag.example.net',
    alpn: ['h2', 'http/1.1'],
    versions: [0x0304, 0x0303],
    grease: true,
    // X25519MLKEM768 + X25519: the same shape that makes real hellos exceed one TCP segment.
    keyShares: [
      { group: 0x11ec, length: 1216 },
      { group: 0x001d, length: 32 },
      { group: 0x0017, length: 65 },
    ],
  };
  const big = buildClientHello(bigOptions);
  const bigHandshake = buildHandshake(bigOptions);
  const bigValue = expectOk(parse(big));

  it('builds a hello larger than a TCP segment', () => {
    assert.ok(big.length > 1500, `hello is ${big.length} bytes`);
    assert.equal(bigValue.sni, 'frag.example.net');
    assert.equal(bigValue.records, 1);
    assertSameForManyDeliveries(big, ok(bigValue, big.length), 1);
  });

  for (const size of [1460, 100, 7, 3, 1]) {
    it(`gives the same answer when re-framed in ${size}-byte records`, () => {
      const framed = reframe(bigHandshake, size);
      const records = Math.ceil(bigHandshake.length / size);
      assert.equal(framed.length, bigHandshake.length + 5 * records);
      const expected = ok({ ...bigValue, records }, framed.length);
      assert.deepEqual(parse(framed), expected);
      assertSameForManyDeliveries(framed, expected, size >= 100 ? 1 : 97);
    });
  }

  it('re-frames the Chromium fixture (handshake header split over records, odd sizes)', () => {
    const chromium = fixture('chromium-156-pq-clienthello.bin');
    const hs = chromium.subarray(5);
    const base = expectOk(parse(chromium));
    for (const sizes of [[100], [1], [1, 2, 1, 500], [3, 1400], [1460]]) {
      const framed = reframe(hs, sizes);
      const v = expectOk(parse(framed));
      assert.deepEqual({ ...v, records: 0 }, { ...base, records: 0 }, `sizes ${sizes.join(',')}`);
      assert.ok(v.records > 1);
    }
    const framed = reframe(hs, [1, 2, 1, 500]);
    // 1 + 2 + 1 header bytes, then 1937 body bytes in 500-byte records: 3 + 4 records.
    assertSameForManyDeliveries(framed, ok({ ...base, records: 7 }, framed.length), 1);
  });

  it('reports the record boundaries it knows while fragments arrive', () => {
    const framed = reframe(bigHandshake, 100);
    const total = framed.length;
    // After the first record header: hello ends at least after one more record with the rest.
    const hsLen = bigHandshake.length;
    assert.deepEqual(parse(framed.subarray(0, 9)), incomplete(105 + 5 + (hsLen - 100)));
    assert.deepEqual(parse(framed.subarray(0, 105)), incomplete(105 + 5 + (hsLen - 100)));
    assert.deepEqual(parse(framed.subarray(0, total - 1)), incomplete(total));
  });

  it('requires every fragment to be a handshake record', () => {
    const hs = buildHandshake({ sni: 'a.test' });
    const first = record(0x16, 0x0301, hs.subarray(0, 40));
    const rest = record(0x16, 0x0301, hs.subarray(40));
    const alert = record(0x15, 0x0301, hex('0100'));
    const appData = record(0x17, 0x0303, hex('00112233'));
    assert.equal(parse(Buffer.concat([first, rest])).kind, 'ok');
    for (const middle of [alert, appData, record(0x14, 0x0303, hex('01'))]) {
      const bytes = Buffer.concat([first, middle, rest]);
      assertSameForEveryDelivery(parse, bytes, invalid('non-handshake record (content type ' + middle[0] + ') inside client hello'));
    }
    // A different record version major in a later fragment.
    const bad = Buffer.concat([first, record(0x16, 0x0201, hs.subarray(40))]);
    expectInvalid(parse(bad), /record version major/);
  });
});

describe('parseClientHello: built hellos', () => {
  const base = { alpn: ['h2'], versions: [0x0304, 0x0303] };

  function check(options: Parameters<typeof buildClientHello>[0], expect: Partial<ClientHello>): ClientHello {
    const bytes = buildClientHello(options);
    const v = expectOk(parse(bytes));
    for (const [k, want] of Object.entries(expect)) {
      assert.deepEqual(v[k as keyof ClientHello], want, k);
    }
    assertSameForEveryDelivery(parse, bytes, ok(v, bytes.length));
    return v;
  }

  it('no SNI', () => {
    check({ ...base }, { sni: undefined, sniStatus: 'absent', alpn: ['h2'], ech: false });
  });

  it('empty SNI (empty host_name, empty list, empty extension)', () => {
    check({ ...base, sni: '' }, { sni: undefined, sniStatus: 'empty' });
    check({ ...base, extraExtensions: [{ type: EXT.serverName, data: u16(0) }] }, { sni: undefined, sniStatus: 'empty' });
    check({ ...base, extraExtensions: [{ type: EXT.serverName, data: Buffer.alloc(0) }] }, { sni: undefined, sniStatus: 'empty' });
  });

  it('server_name without a host_name entry is absent; the first host_name wins', () => {
    const other = Buffer.concat([u8(7), u16(3), Buffer.from('abc')]);
    check({ ...base, extraExtensions: [{ type: EXT.serverName, data: Buffer.concat([u16(other.length), other]) }] }, {
      sni: undefined,
      sniStatus: 'absent',
    });
    const one = Buffer.concat([u8(0), u16(5), Buffer.from('a.com')]);
    const two = Buffer.concat([u8(0), u16(5), Buffer.from('b.com')]);
    const list = Buffer.concat([other, one, two]);
    check({ ...base, extraExtensions: [{ type: EXT.serverName, data: Buffer.concat([u16(list.length), list]) }] }, {
      sni: 'a.com',
      sniStatus: 'ok',
    });
  });

  it('SNI length limits: 255 bytes ok, 256 invalid, labels up to 63', () => {
    const label63 = 'a'.repeat(63);
    const n255 = [label63, label63, label63, 'b'.repeat(63)].join('.');
    assert.equal(n255.length, 255);
    check({ ...base, sni: n255 }, { sni: n255, sniStatus: 'ok' });
    check({ ...base, sni: n255 + 'c' }, { sni: undefined, sniStatus: 'invalid' });
    check({ ...base, sni: 'x'.repeat(300) }, { sni: undefined, sniStatus: 'invalid' });
    check({ ...base, sni: `${'a'.repeat(64)}.test` }, { sni: undefined, sniStatus: 'invalid' });
  });

  it('uppercase SNI is lowercased; underscore and hyphen are accepted', () => {
    check({ ...base, sni: 'WWW.Example.COM' }, { sni: 'www.example.com', sniStatus: 'ok' });
    check({ ...base, sni: '_acme-challenge.my-host.example' }, { sni: '_acme-challenge.my-host.example', sniStatus: 'ok' });
  });

  it('SNI with one trailing dot is accepted and stripped; more dots are invalid', () => {
    check({ ...base, sni: 'example.com.' }, { sni: 'example.com', sniStatus: 'ok' });
    check({ ...base, sni: 'Example.COM.' }, { sni: 'example.com', sniStatus: 'ok' });
    check({ ...base, sni: 'example.com..' }, { sni: undefined, sniStatus: 'invalid' });
    check({ ...base, sni: '.' }, { sni: undefined, sniStatus: 'invalid' });
    check({ ...base, sni: '.example.com' }, { sni: undefined, sniStatus: 'invalid' });
    check({ ...base, sni: 'a..b' }, { sni: undefined, sniStatus: 'invalid' });
  });

  it('SNI that is not a usable host name is invalid, but the hello stays ok', () => {
    for (const name of [
      '10.0.0.1',
      '127.1',
      '0x7f.0x1',
      '::1',
      '[::1]',
      'a b.test',
      'a\u0000.test',
      'bad/name',
      'exa*mple.com',
      Buffer.from('bücher.de', 'utf8'),
      Buffer.from([0x61, 0xff, 0x62]),
    ]) {
      const v = check({ ...base, sni: name }, { sni: undefined, sniStatus: 'invalid' });
      assert.deepEqual(v.alpn, ['h2'], 'the rest of the hello is still parsed');
    }
    // Numeric labels elsewhere are fine, as is a hex-looking non-final label.
    check({ ...base, sni: '1.2.3.example' }, { sni: '1.2.3.example', sniStatus: 'ok' });
    check({ ...base, sni: '123abc' }, { sni: '123abc', sniStatus: 'ok' });
    check({ ...base, sni: 'xn--bcher-kva.de' }, { sni: 'xn--bcher-kva.de', sniStatus: 'ok' });
  });

  it('ECH present with an outer (public) name', () => {
    const v = check({ ...base, sni: 'public.example', ech: true }, { sni: 'public.example', ech: true, version: 0x0304 });
    assert.ok(v.extensions.includes(0xfe0d));
  });

  it('GREASE everywhere', () => {
    const v = check(
      { sni: 'g.test', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], grease: true, keyShares: [{ group: 0x001d, length: 32 }] },
      {
        sni: 'g.test',
        version: 0x0304,
        supportedVersions: [0x0304, 0x0303],
        alpn: ['h2', 'http/1.1', '\u007a\u007a'], // ALPN names are reported verbatim, GREASE included
        cipherSuites: 5,
      },
    );
    assert.equal(v.extensions[0], 0x3a3a);
    assert.equal(v.extensions[v.extensions.length - 1], 0x4a4a);
    // supported_versions with only GREASE: nothing left, version falls back to legacy_version.
    check({ ...base, versions: [0x0a0a, 0xfafa] }, { supportedVersions: [], version: 0x0303 });
  });

  it('TLS 1.2-only hello: no supported_versions, version = legacy 0x0303', () => {
    check({ sni: 'old.test', alpn: ['http/1.1'] }, { legacyVersion: 0x0303, version: 0x0303, supportedVersions: [] });
  });

  it('TLS 1.3 with legacy_version 0x0303 and record version 0x0303', () => {
    check(
      { ...base, recordVersion: 0x0303, legacyVersion: 0x0303 },
      { recordVersion: 0x0303, legacyVersion: 0x0303, version: 0x0304, supportedVersions: [0x0304, 0x0303] },
    );
    // version is the highest value, not the first.
    check({ ...base, versions: [0x0303, 0x7f1c, 0x0304] }, { version: 0x7f1c });
  });

  it('legacy hellos: TLS 1.0 and TLS 1.2 without extensions, SSL 3 record version', () => {
    check({ legacyVersion: 0x0301, noExtensions: true, sessionIdLength: 0 }, { ...NOTHING_FROM_EXTENSIONS, legacyVersion: 0x0301, version: 0x0301 });
    // RFC 5246 §7.4.1.2: a server MUST accept a ClientHello with or without extensions.
    check({ legacyVersion: 0x0303, noExtensions: true }, { ...NOTHING_FROM_EXTENSIONS, version: 0x0303 });
    check({ recordVersion: 0x0300, legacyVersion: 0x0300, noExtensions: true }, { recordVersion: 0x0300, version: 0x0300 });
    // An empty extensions block is consistent too.
    const hs = buildHandshake({ noExtensions: true });
    const body = Buffer.concat([hs.subarray(4), u16(0)]);
    const bytes = record(0x16, 0x0301, Buffer.concat([u8(1), u24(body.length), body]));
    assertSameForEveryDelivery(parse, bytes, ok(expectOk(parse(bytes)), bytes.length));
    assert.deepEqual(expectOk(parse(bytes)).extensions, []);
  });

  it('many extensions (duplicate detection past the linear scan) stay ok', () => {
    const extraExtensions = Array.from({ length: 200 }, (_, i) => ({ type: 0x1000 + i, data: Buffer.alloc(0) }));
    const v = check({ ...base, extraExtensions }, {});
    assert.equal(v.extensions.length, 4 + 200);
  });

  it('ignores bytes after the hello inside its last record and counts them in length', () => {
    const hs = buildHandshake({ ...base, sni: 'trail.test' });
    const bytes = record(0x16, 0x0301, Buffer.concat([hs, hex('deadbeef')]));
    const v = expectOk(parse(Buffer.from(buildClientHello({ ...base, sni: 'trail.test' }))));
    assertSameForEveryDelivery(parse, bytes, ok(v, bytes.length));
    // Fragmented: the hello ends inside the second record, which carries 3 more bytes.
    const two = Buffer.concat([record(0x16, 0x0301, hs.subarray(0, 50)), record(0x16, 0x0301, Buffer.concat([hs.subarray(50), hex('0e0000')]))]);
    assertSameForEveryDelivery(parse, two, ok({ ...v, records: 2 }, two.length));
  });

  it('honours maxBytes', () => {
    const bytes = buildClientHello({ ...base, sni: 'cap.test' });
    const hsLen = bytes.length - 9;
    assert.equal(parseClientHello(bytes, hsLen).kind, 'ok');
    expectInvalid(parseClientHello(bytes, hsLen - 1), /exceeds cap/);
    expectInvalid(parseClientHello(bytes.subarray(0, 9), 100), /exceeds cap 100/);
  });
});

describe('parseClientHello: SSLv2-compatible hello (RFC 5246 appendix E.2)', () => {
  /** msg_length(2, high bit) msg_type(1) version(2) cipher_spec_length(2) session_id_length(2) challenge_length(2) then data. */
  function sslv2(version: number, specs: number, sid: number, challenge: number, fix?: (b: Buffer) => void): Buffer {
    const body = Buffer.concat([
      u8(1),
      u16(version),
      u16(specs * 3),
      u16(sid),
      u16(challenge),
      pattern(specs * 3, 1),
      pattern(sid, 2),
      pattern(challenge, 3),
    ]);
    const b = Buffer.concat([u16(0x8000 | body.length), body]);
    fix?.(b);
    return b;
  }
  /** An SSLv2 hello has no extensions: only its version and cipher count, in one "record". */
  const value = (v: number, suites: number): ClientHello => ({
    ...NOTHING_FROM_EXTENSIONS,
    sslv2: true,
    recordVersion: 0x0002, // RFC 5246 E.2: the SSL 2.0 framing
    legacyVersion: v,
    version: v, // no supported_versions to raise it
    cipherSuites: suites,
    records: 1,
  });

  it('parses a TLS 1.0 client in SSLv2 framing', () => {
    const b = sslv2(0x0301, 10, 0, 32);
    assert.equal(b.length, 2 + 9 + 30 + 32);
    assert.equal(tlsSignature(b), 'yes');
    assertSameForEveryDelivery(parse, b, ok(value(0x0301, 10), b.length));
    assert.deepEqual(parse(b.subarray(0, 1)), incomplete(11));
    assert.deepEqual(parse(b.subarray(0, 2)), incomplete(b.length));
  });

  it('accepts a 16-byte session id, a 16-byte challenge, SSL 2.0 and TLS 1.2 versions', () => {
    for (const [v, sid, ch] of [
      [0x0300, 16, 16],
      [0x0002, 0, 16],
      [0x0303, 0, 24],
    ] as const) {
      const b = sslv2(v, 3, sid, ch);
      assertSameForEveryDelivery(parse, b, ok(value(v, 3), b.length));
    }
  });

  it('rejects inconsistent SSLv2 hellos', () => {
    expectInvalid(parse(sslv2(0x0301, 3, 8, 32)), /session_id_length/);
    expectInvalid(parse(sslv2(0x0301, 3, 16, 8)), /challenge_length/);
    expectInvalid(parse(sslv2(0x0301, 3, 0, 8)), /too short/);
    expectInvalid(parse(sslv2(0x0301, 3, 0, 33)), /challenge_length/);
    expectInvalid(parse(sslv2(0x0301, 0, 0, 16, (b) => b.writeUInt16BE(0x8000 | 9 + 16 + 3, 0))), /multiple of 3/);
    expectInvalid(parse(sslv2(0x0301, 3, 0, 16, (b) => b.writeUInt16BE(4, 5))), /multiple of 3/);
    expectInvalid(parse(sslv2(0x0301, 3, 0, 16, (b) => b.writeUInt16BE(6, 5))), /inconsistent/);
    expectInvalid(parse(sslv2(0x0301, 3, 0, 16, (b) => (b[2] = 4))), /message type 4/);
    expectInvalid(parse(sslv2(0x0201, 3, 0, 16)), /version is not TLS/);
    expectInvalid(parse(sslv2(0x0001, 3, 0, 16)), /version is not TLS/);
    expectInvalid(parse(hex('800a01030100030000')), /too short/);
    expectInvalid(parseClientHello(sslv2(0x0301, 100, 0, 32), 100), /exceeds cap/);
  });
});

describe('parseClientHello: invalid input', () => {
  const good = buildHandshake({ sni: 'x.test', alpn: ['h2'], versions: [0x0304] });
  /** Rebuilds a single-record hello from a handshake body. */
  const withBody = (body: Uint8Array): Buffer => record(0x16, 0x0301, Buffer.concat([u8(1), u24(body.length), body]));
  /** The body up to (not including) the extensions block, and the extensions. */
  const prefix = (sidLen = 0, suites = hex('1301')): Buffer =>
    Buffer.concat([u16(0x0303), pattern(32), u8(sidLen), pattern(sidLen), u16(suites.length), suites, hex('0100')]);
  const withExtensions = (...exts: Buffer[]): Buffer => {
    const block = Buffer.concat(exts);
    return withBody(Buffer.concat([prefix(), u16(block.length), block]));
  };

  function rejects(bytes: Buffer, reason: RegExp): void {
    const r = parse(bytes);
    expectInvalid(r, reason);
    assertSameForEveryDelivery(parse, bytes, r);
  }

  it('wrong content type, record version, handshake type', () => {
    rejects(record(0x17, 0x0303, good), /content type 23 is not handshake/);
    rejects(record(0x15, 0x0303, hex('0228')), /content type 21/);
    rejects(record(0x16, 0x0201, good), /record version major/);
    rejects(record(0x16, 0x0303, Buffer.concat([u8(2), good.subarray(1)])), /handshake type 2 is not client_hello/);
    expectInvalid(parse(hex('17')), /content type/);
    expectInvalid(parse(hex('160303000102')), /handshake type 2/);
  });

  it('record length 0 and > 2^14', () => {
    rejects(hex('1603010000'), /zero-length/);
    expectInvalid(parse(hex('1603014001')), /exceeds 2\^14/);
    // A 2^14 + 1 record with a plausible body still fails, on its header.
    const hs = buildHandshake({ sni: 'big.test', extraExtensions: [{ type: 0xabcd, data: Buffer.alloc(16384) }] });
    expectInvalid(parseClientHello(record(0x16, 0x0301, hs), 1 << 20), /exceeds 2\^14/);
    // The same hello in two legal records is fine with a raised cap.
    const split = reframe(hs, 16384);
    assert.equal(expectOk(parseClientHello(split, 1 << 20)).records, 2);
    // ... and exceeds the default cap.
    expectInvalid(parse(split), /exceeds cap 16384/);
  });

  it('a handshake length claiming 16 MB is invalid on the first 9 bytes', () => {
    const nine = hex('16 0301 0200 01 ffffff');
    assert.equal(nine.length, 9);
    for (let i = 1; i < 9; i++) assert.equal(parse(nine.subarray(0, i)).kind, 'incomplete');
    expectInvalid(parse(nine), /handshake length 16777215 exceeds cap 16384/);
    rejects(Buffer.concat([nine, pattern(100)]), /exceeds cap/);
    // Also when the handshake header itself is fragmented into 1-byte records.
    const frag = reframe(hex('01 ffffff'), 1);
    expectInvalid(parse(frag), /exceeds cap/);
  });

  it('inconsistent body lengths', () => {
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(0), u16(3), hex('130113'), hex('0100')])), /cipher_suites length odd/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(0), u16(0), hex('0100')])), /cipher_suites empty/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(0), u16(200), hex('1301')])), /cipher_suites overrun/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(33), pattern(33), u16(2), hex('1301'), hex('0100')])), /session_id longer than 32/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(0), u16(2), hex('1301'), hex('00')])), /compression_methods empty/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(32), u8(0), u16(2), hex('1301')])), /compression_methods missing/);
    rejects(withBody(Buffer.concat([u16(0x0303), pattern(20)])), /too short/);
    rejects(withBody(Buffer.concat([u16(0x0203), pattern(32), u8(0), u16(2), hex('1301'), hex('0100')])), /legacy_version/);
    rejects(withBody(Buffer.concat([prefix(), hex('00')])), /extensions length truncated/);
    rejects(withBody(Buffer.concat([prefix(), u16(10), ext(0x0017, Buffer.alloc(0))])), /extensions overrun hello/);
    rejects(withBody(Buffer.concat([prefix(), u16(4), ext(0x0017, Buffer.alloc(0)), hex('00')])), /bytes after extensions/);
    rejects(withBody(Buffer.concat([prefix(), u16(3), hex('001700')])), /extension header truncated/);
  });

  it('extension overrun and duplicate extensions', () => {
    const overrun = Buffer.concat([u16(0x0017), u16(10), hex('0000')]);
    rejects(withExtensions(ext(0x0023, Buffer.alloc(0)), overrun), /extension overruns block/);
    rejects(withExtensions(ext(0x0017, Buffer.alloc(0)), ext(0x0023, Buffer.alloc(0)), ext(0x0017, Buffer.alloc(0))), /duplicate extension 0x0017/);
    rejects(withExtensions(ext(0, serverNameData('a.test')), ext(0, serverNameData('b.test'))), /duplicate extension 0x0000/);
    // Duplicates past the linear scan (Set path).
    const many = Array.from({ length: 40 }, (_, i) => ext(0x2000 + i, Buffer.alloc(0)));
    rejects(withExtensions(...many, ext(0x2005, Buffer.alloc(0))), /duplicate extension 0x2005/);
    rejects(withExtensions(...many, ext(0x2027, Buffer.alloc(0))), /duplicate extension 0x2027/);
  });

  it('ALPN: empty name, empty list, inconsistent lengths', () => {
    rejects(withExtensions(ext(EXT.alpn, alpnData(['h2', '']))), /ALPN empty protocol name/);
    rejects(withExtensions(ext(EXT.alpn, u16(0))), /ALPN list empty/);
    rejects(withExtensions(ext(EXT.alpn, hex('0004 02 6832'))), /ALPN list length mismatch/);
    rejects(withExtensions(ext(EXT.alpn, hex('0003 05 6832'))), /ALPN name overruns/);
    rejects(withExtensions(ext(EXT.alpn, hex('00'))), /ALPN list length truncated/);
  });

  it('server_name and supported_versions with inconsistent lengths', () => {
    rejects(withExtensions(ext(EXT.serverName, hex('000a 00 0006 612e74657374'))), /server_name list length mismatch/);
    rejects(withExtensions(ext(EXT.serverName, hex('0009 00 0009 612e74657374'))), /server_name entry overruns/);
    rejects(withExtensions(ext(EXT.serverName, hex('0002 0000'))), /server_name entry truncated/);
    rejects(withExtensions(ext(EXT.serverName, hex('00'))), /server_name list length truncated/);
    rejects(withExtensions(ext(EXT.supportedVersions, hex('03 030403'))), /supported_versions length odd/);
    rejects(withExtensions(ext(EXT.supportedVersions, hex('04 0304'))), /supported_versions length mismatch/);
    rejects(withExtensions(ext(EXT.supportedVersions, hex('00'))), /supported_versions empty/);
    rejects(withExtensions(ext(EXT.supportedVersions, Buffer.alloc(0))), /supported_versions length missing/);
    assert.equal(parse(withExtensions(ext(EXT.supportedVersions, supportedVersionsData([0x0304])))).kind, 'ok');
  });

  it('never throws on 20k seeded mutations of real and built hellos', () => {
    const chromium = fixture('chromium-156-pq-clienthello.bin');
    const seeds: Buffer[] = [
      chromium,
      fixture('node20-clienthello.bin'),
      buildClientHello({ sni: 'm.test', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], grease: true, ech: true }),
      reframe(chromium.subarray(5), 100),
      reframe(buildHandshake({ sni: 'f.test', alpn: ['h2'] }), 5),
      buildClientHello({ noExtensions: true, legacyVersion: 0x0301 }),
      Buffer.concat([hex('802e 01 0301 0009 0000 0010'), pattern(9), pattern(16)]),
    ];
    const stats = fuzzParser(parse, seeds, {
      iterations: 20000,
      seed: 0x5eed1234,
      random: 0,
      // Small values (record types, versions, lengths) are the interesting ones here.
      mutate: { interesting: [0x00, 0x01, 0x02, 0x03, 0x16, 0x80, 0xff] },
      // Hellos are up to 2 KB: walk the prefixes of one in 16, a few dozen of them each.
      prefixEvery: 16,
      prefixStride: 64,
      parserFor: ({ rng }) => {
        const cap = rng() < 0.1 ? randInt(rng, 4096) : undefined;
        return (bytes) => parseClientHello(bytes, cap);
      },
      check: (_bytes, r) => {
        if (r.kind !== 'ok') return;
        assert.ok(r.value.records >= 1);
        assert.ok(r.value.sni === undefined || /^[a-z0-9_.-]{1,255}$/.test(r.value.sni), `sni ${r.value.sni}`);
        assert.equal(r.value.sni !== undefined, r.value.sniStatus === 'ok');
      },
    });
    // The mutations reach every outcome (a fuzz loop that only ever hits one branch tests little).
    assert.ok(stats.ok > 500 && stats.invalid > 500 && stats.incomplete > 500, JSON.stringify(stats));
  });

  it('never throws on random bytes behind valid-looking headers', () => {
    fuzzParser(parse, [], {
      iterations: 5000,
      seed: 42,
      random: 1,
      maxRandomLength: 300,
      shape: (bytes, { rng }) => {
        const len = bytes.length;
        if (len > 0 && rng() < 0.6) bytes[0] = rng() < 0.7 ? 0x16 : 0x80 | randInt(rng, 4);
        if (len > 1 && rng() < 0.6) bytes[1] = 0x03;
        if (len > 5 && rng() < 0.6) bytes[5] = 1;
        return bytes;
      },
      check: (bytes) => {
        assert.equal(typeof tlsSignature(bytes), 'string');
      },
    });
  });
});
