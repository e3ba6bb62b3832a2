/**
 * Property tests for parseProxyV1 (src/protocols/proxy-v1.ts): the generic properties, and
 * differential checks of its incremental address/port tokenizers against node:net.
 */
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import { parseProxyV1, type ProxyV1Header } from '../../src/protocols/proxy/v1.js';
import { V1_CORPUS } from './corpora.js';
import { canonicalIPv6, check, fc, ipv4BytesArb, ipv4Text, ipv6BytesArb, ipv6TextForms, latin1, parserProperties } from './support.js';

parserProperties<ProxyV1Header, undefined>({
  name: 'parseProxyV1',
  parse: (b) => parseProxyV1(b),
  corpus: V1_CORPUS,
  interesting: [0x20, 0x0d, 0x0a, 0x2e, 0x3a, 0x25, 0x30, 0x31, 0x32, 0x35, 0x39, 0x66, 0x46, 0x67, 0x00, 0x7f],
  poisons: [latin1('\r\n'), latin1(' 1 2\r\n'), latin1('::1'), latin1('0.0.0.0 0 0\r\n'), Buffer.alloc(120, 0x31)],
  maxRandom: 512,
  seed: 4100,
  runs: { random: 300, mutated: 800, poisoned: 200, strict: 150, chunked: 250, byteByByte: 150 },
});

const v6Alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:::::....%g');
const v6TextArb = fc.oneof(
  fc.string({ unit: v6Alphabet, minLength: 1, maxLength: 46 }),
  fc.tuple(ipv6BytesArb, fc.nat()).map(([b, k]) => {
    const f = ipv6TextForms(b);
    return f[k % f.length]!;
  }),
  // A valid form with one character inserted, deleted or replaced.
  fc.tuple(ipv6BytesArb, fc.nat(), fc.nat(), v6Alphabet, fc.nat(2)).map(([b, k, at, c, op]) => {
    const f = ipv6TextForms(b);
    const t = f[k % f.length]!;
    const p = at % (t.length + 1);
    return op === 0 ? t.slice(0, p) + c + t.slice(p) : op === 1 ? t.slice(0, p) + t.slice(p + 1) : t.slice(0, p) + c + t.slice(p + 1);
  }),
);
const v4TextArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789....'), minLength: 1, maxLength: 17 }),
  ipv4BytesArb.map(ipv4Text),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), fc.boolean()).map(
    ([a, b, c, d, z]) => `${z ? '0' : ''}${a}.${b}.${c}.${d}`,
  ),
);

function bytesOfV6(t: string): Uint8Array {
  // Independent of src/: let URL normalise the text, then read the groups back.
  const host = new URL(`http://[${t}]/`).hostname.slice(1, -1);
  const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
  const h = head === '' ? [] : head!.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array<string>(8 - h.length - tl.length).fill('0'), ...tl].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  groups.forEach((g, k) => {
    out[2 * k] = g >> 8;
    out[2 * k + 1] = g & 0xff;
  });
  return out;
}

describe('parseProxyV1: addresses and ports against node:net', () => {
  it('TCP6: accepted iff isIPv6 (no zone ID); reported in RFC 5952 form (seed 4110, 1500 runs)', () => {
    check(
      fc.property(v6TextArb, fc.boolean(), (t, asDst) => {
        const line = asDst ? `PROXY TCP6 ::1 ${t} 1 2\r\n` : `PROXY TCP6 ${t} ::1 1 2\r\n`;
        const r = parseProxyV1(latin1(line));
        const valid = isIPv6(t) && !t.includes('%') && line.length <= 107;
        if (!valid) {
          assert.equal(r.kind, 'invalid', `${JSON.stringify(t)} accepted`);
          return;
        }
        assert.equal(r.kind, 'ok', `${JSON.stringify(t)}: ${JSON.stringify(r)}`);
        if (r.kind !== 'ok') return;
        const got = asDst ? r.value.dst : r.value.src;
        assert.equal(got?.address, canonicalIPv6(bytesOfV6(t)));
      }),
      4110,
      1500,
    );
  });

  it('TCP4: accepted iff isIPv4 (dotted quad, no leading zeros); reported as sent (seed 4111, 800 runs)', () => {
    check(
      fc.property(v4TextArb, fc.boolean(), (t, asDst) => {
        const line = asDst ? `PROXY TCP4 1.2.3.4 ${t} 1 2\r\n` : `PROXY TCP4 ${t} 1.2.3.4 1 2\r\n`;
        const r = parseProxyV1(latin1(line));
        if (!isIPv4(t)) {
          assert.equal(r.kind, 'invalid', `${JSON.stringify(t)} accepted`);
          return;
        }
        assert.equal(r.kind, 'ok', `${JSON.stringify(t)}: ${JSON.stringify(r)}`);
        if (r.kind === 'ok') assert.equal((asDst ? r.value.dst : r.value.src)?.address, t);
      }),
      4111,
      800,
    );
  });

  it('ports: accepted iff decimal 0..65535 without leading zeros (seed 4112, 600 runs)', () => {
    const portText = fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 7 }), fc.integer({ min: 0, max: 70000 }).map(String));
    check(
      fc.property(portText, fc.boolean(), fc.boolean(), (p, v6, asDst) => {
        const addrs = v6 ? '::1 2001:db8::1' : '10.0.0.1 10.0.0.2';
        const line = `PROXY ${v6 ? 'TCP6' : 'TCP4'} ${addrs} ${asDst ? `7 ${p}` : `${p} 7`}\r\n`;
        const r = parseProxyV1(latin1(line));
        const valid = /^(0|[1-9][0-9]*)$/.test(p) && Number(p) <= 65535;
        assert.equal(r.kind, valid ? 'ok' : 'invalid', `port ${p}: ${JSON.stringify(r)}`);
        if (r.kind === 'ok') assert.equal((asDst ? r.value.dst : r.value.src)?.port, Number(p));
      }),
      4112,
      600,
    );
  });

  it('UNKNOWN: CRLF, or SP and printable ASCII up to CRLF, within 107 bytes (seed 4113, 500 runs)', () => {
    // CR and LF are left out of the free text: a CRLF inside it simply ends the line earlier.
    const free = fc.integer({ min: 0, max: 255 }).filter((c) => c !== 0x0d && c !== 0x0a);
    check(
      fc.property(fc.option(fc.array(free, { maxLength: 110 }), { nil: undefined }), (rest) => {
        const tail = rest === undefined ? Buffer.alloc(0) : Buffer.concat([latin1(' '), Buffer.from(rest)]);
        const line = Buffer.concat([latin1('PROXY UNKNOWN'), tail, latin1('\r\n')]);
        const valid = line.length <= 107 && (rest ?? []).every((c) => c >= 0x20 && c <= 0x7e);
        const r = parseProxyV1(line);
        if (valid) assert.deepEqual(r, { kind: 'ok', value: { version: 1, family: 'unknown' }, length: line.length });
        else assert.equal(r.kind, 'invalid', `${line.toString('hex')} accepted`);
      }),
      4113,
      500,
    );
  });

  it('any two IPv6 text forms of one address give the same canonical text (seed 4114, 300 runs)', () => {
    check(
      fc.property(ipv6BytesArb, ipv6BytesArb, fc.nat(), fc.nat(), (a, b, i, j) => {
        const fa = ipv6TextForms(a);
        const fb = ipv6TextForms(b);
        const line = `PROXY TCP6 ${fa[i % fa.length]} ${fb[j % fb.length]} 65535 0\r\n`;
        fc.pre(line.length <= 107);
        assert.deepEqual(parseProxyV1(latin1(line)), {
          kind: 'ok',
          value: { version: 1, family: 'tcp6', src: { address: canonicalIPv6(a), port: 65535 }, dst: { address: canonicalIPv6(b), port: 0 } },
          length: line.length,
        });
      }),
      4114,
      300,
    );
  });

  it('long valid lines (up to the 107-byte bound): no prefix is refused, the whole is ok (seed 4115, 400 runs)', () => {
    // The "cannot end within 107 bytes" rule must never fire early: the shortest completion it
    // assumes (minRest) has to be a true lower bound for every partial address and port.
    const longForm = fc.tuple(ipv6BytesArb, fc.nat()).map(([b, k]) => {
      const f = ipv6TextForms(b).sort((x, y) => y.length - x.length);
      return f[k % Math.min(4, f.length)]!;
    });
    const port = fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0, 9, 10, 65535));
    check(
      fc.property(longForm, longForm, port, port, (a, b, sp, dp) => {
        const line = latin1(`PROXY TCP6 ${a} ${b} ${sp} ${dp}\r\n`);
        fc.pre(line.length <= 107);
        for (let n = 0; n < line.length; n++) {
          const r = parseProxyV1(line.subarray(0, n));
          assert.equal(r.kind, 'incomplete', `prefix ${n} of ${line.length}-byte line: ${JSON.stringify(r)}`);
        }
        assert.equal(parseProxyV1(line).kind, 'ok');
      }),
      4115,
      400,
    );
  });
});
