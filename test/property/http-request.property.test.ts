/**
 * Property tests for parseHttpRequest / httpSignature (src/protocols/http-request.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalHostText } from '../../src/protocols/ip/canonical.js';
import { httpSignature, parseHttpRequest, type HttpRequestHead } from '../../src/protocols/http/request.js';
import { HTTP_CORPUS, SSH_CORPUS, TLS_CORPUS, V1_CORPUS } from './corpora.js';
import { check, fc, ipv6BytesArb, ipv6TextForms, latin1, parserProperties } from './support.js';

const HTTP_INTERESTING = [0x20, 0x09, 0x0d, 0x0a, 0x3a, 0x5b, 0x5d, 0x25, 0x2e, 0x2f, 0x7f, 0x80, 0x00, 0x48, 0x31, 0x30];

parserProperties<HttpRequestHead, number | undefined>({
  name: 'parseHttpRequest',
  parse: (b, cap) => parseHttpRequest(b, cap),
  options: fc.option(fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.constantFrom(0, -1, 16384, Number.NaN, Number.POSITIVE_INFINITY, 40.5)), { nil: undefined, freq: 2 }),
  corpus: HTTP_CORPUS,
  interesting: HTTP_INTERESTING,
  poisons: [latin1('\r\n\r\n'), latin1('\r\nHost: poison.example\r\n\r\n'), latin1(' HTTP/1.1\r\n'), Buffer.alloc(16, 0x41), TLS_CORPUS[1]!, SSH_CORPUS[0]!],
  maxRandom: 2048,
  seed: 2100,
  runs: { random: 300, mutated: 500, poisoned: 150, strict: 100, chunked: 150, byteByByte: 60 },
});

// ---------------------------------------------------------------------------------------------
// Generators for valid heads

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const REGNAME_CHARS = "-._~!$&'()*+,;=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX = '0123456789abcdefABCDEF';

const methodArb = fc
  .oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'VERSION-CONTROL', 'get', 'connect'), fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 32 }))
  .filter((m) => m !== 'CONNECT');

const targetByte = fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }));
const targetArb = fc.oneof(
  fc.constant('*'),
  fc.string({ unit: fc.constantFrom(...'abc/%?=&.-_~09'), maxLength: 60 }).map((p) => '/' + p),
  fc.array(targetByte, { minLength: 1, maxLength: 100 }).map((a) => Buffer.from(a).toString('latin1')),
);

const pctArb = fc.tuple(fc.constantFrom(...HEX), fc.constantFrom(...HEX)).map(([a, b]) => `%${a}${b}`);
const regNameArb = fc.string({ unit: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...REGNAME_CHARS) }, { weight: 1, arbitrary: pctArb }), minLength: 1, maxLength: 40 });
const ipv4TextArb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

interface Authority {
  /** As written (IPv6 in brackets). */
  readonly text: string;
  /** What the parser reports: lowercased, without brackets. */
  readonly host: string;
}
const hostArb: fc.Arbitrary<Authority> = fc.oneof(
  regNameArb.map((t) => ({ text: t, host: t.toLowerCase() })),
  ipv4TextArb.map((t) => ({ text: t, host: t })),
  fc.tuple(ipv6BytesArb, fc.nat()).map(([b, k]) => {
    const forms = ipv6TextForms(b);
    const t = forms[k % forms.length]!;
    return { text: `[${t}]`, host: t.toLowerCase() };
  }),
);

/** Port text and value: none, "" (a bare colon: no port), or digits (possibly with leading zeros). */
const portArb: fc.Arbitrary<{ text: string; port: number | undefined }> = fc.oneof(
  fc.constant({ text: '', port: undefined }),
  fc.constant({ text: ':', port: undefined }),
  fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 2 })).map(([p, z]) => ({ text: ':' + '0'.repeat(z) + String(p), port: p })),
);
const requiredPortArb = fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 1 })).map(([p, z]) => ({ text: ':' + '0'.repeat(z) + String(p), port: p }));

const owsArb = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
const eolArb = fc.constantFrom('\r\n', '\n');
const valueCharArb = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(0x09), fc.integer({ min: 0x80, max: 0xff }));
const fieldArb = fc.record({
  name: fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 20 }).filter((n) => n.toLowerCase() !== 'host'),
  value: fc.array(valueCharArb, { maxLength: 60 }).map((a) => Buffer.from(a).toString('latin1')),
});

type HostField = { kind: 'none' } | { kind: 'empty'; ows: string } | { kind: 'value'; name: string; pre: string; post: string; auth: Authority; port: { text: string; port: number | undefined } };
const hostFieldArb: fc.Arbitrary<HostField> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: owsArb.map((ows) => ({ kind: 'empty' as const, ows })) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('value' as const),
      name: fc.constantFrom('Host', 'host', 'HOST', 'hOsT'),
      pre: owsArb,
      post: owsArb,
      auth: hostArb,
      port: portArb,
    }),
  },
);

interface Head {
  readonly bytes: Buffer;
  readonly headLength: number;
  readonly expected: HttpRequestHead;
}

function assemble(method: string, target: string, version: '1.0' | '1.1', lines: readonly string[], eols: readonly string[], body: Uint8Array): { bytes: Buffer; headLength: number } {
  let text = `${method} ${target} HTTP/${version}${eols[0] ?? '\r\n'}`;
  lines.forEach((l, k) => (text += l + (eols[(k + 1) % Math.max(1, eols.length)] ?? '\r\n')));
  text += eols[eols.length - 1] ?? '\r\n';
  const head = latin1(text);
  return { bytes: Buffer.concat([head, body]), headLength: head.length };
}

/** What the parser reports as hostHeader for a generated Host field. */
function hostHeaderOf(h: HostField): HttpRequestHead['hostHeader'] {
  if (h.kind === 'none') return undefined;
  return h.kind === 'empty' ? { host: undefined, port: undefined } : { host: h.auth.host, port: h.port.port };
}

function hostLine(h: HostField): string | undefined {
  if (h.kind === 'none') return undefined;
  if (h.kind === 'empty') return `Host:${h.ows}`;
  return `${h.name}:${h.pre}${h.auth.text}${h.port.text}${h.post}`;
}

const headArb: fc.Arbitrary<Head> = fc
  .record({
    method: methodArb,
    target: targetArb,
    version: fc.constantFrom('1.0' as const, '1.1' as const),
    host: hostFieldArb,
    fields: fc.array(fieldArb, { maxLength: 6 }),
    hostAt: fc.nat(),
    eols: fc.array(eolArb, { minLength: 1, maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 64 }),
  })
  .map(({ method, target, version, host, fields, hostAt, eols, body }) => {
    const lines = fields.map((f) => `${f.name}:${f.value}`);
    const hl = hostLine(host);
    if (hl !== undefined) lines.splice(hostAt % (lines.length + 1), 0, hl);
    const { bytes, headLength } = assemble(method, target, version, lines, eols, body);
    return {
      bytes,
      headLength,
      expected: {
        method,
        target,
        version,
        host: host.kind === 'value' ? host.auth.host : undefined,
        hostPort: host.kind === 'value' ? host.port.port : undefined,
        hostHeader: hostHeaderOf(host),
        headerBytes: headLength,
      },
    };
  });

const connectArb: fc.Arbitrary<Head> = fc
  .record({
    auth: hostArb,
    port: requiredPortArb,
    host: hostFieldArb,
    fields: fc.array(fieldArb, { maxLength: 3 }),
    eols: fc.array(eolArb, { minLength: 1, maxLength: 3 }),
    body: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ auth, port, host, fields, eols, body }) => {
    const target = auth.text + port.text;
    const lines = fields.map((f) => `${f.name}:${f.value}`);
    const hl = hostLine(host);
    if (hl !== undefined) lines.unshift(hl);
    const { bytes, headLength } = assemble('CONNECT', target, '1.1', lines, eols, body);
    return {
      bytes,
      headLength,
      expected: {
        method: 'CONNECT',
        target,
        version: '1.1' as const,
        // host/hostPort are the target's, whatever Host says (RFC 9110 §9.3.6: the tunnel goes there),
        // in the spelling the tunnel dials (test/property/connect-host-agreement checks that spelling).
        host: auth.host === undefined ? undefined : canonicalHostText(auth.host),
        hostPort: port.port,
        hostHeader: hostHeaderOf(host),
        headerBytes: headLength,
      },
    };
  });

describe('parseHttpRequest: round trips', () => {
  it('a generated head (method token, target, version, Host forms, other fields, CRLF/LF) parses back to its parts (seed 2110, 400 runs)', () => {
    check(
      fc.property(headArb, (h) => {
        assert.deepEqual(parseHttpRequest(h.bytes), { kind: 'ok', value: h.expected, length: h.headLength });
      }),
      2110,
      400,
    );
  });

  it('a generated CONNECT (authority-form target, with or without Host) parses back, host/hostPort from the target (seed 2111, 300 runs)', () => {
    check(
      fc.property(connectArb, (h) => {
        assert.deepEqual(parseHttpRequest(h.bytes), { kind: 'ok', value: h.expected, length: h.headLength });
      }),
      2111,
      300,
    );
  });

  it('a cap at or above the head length changes nothing; a cap below it is "head exceeds cap" once that many bytes are in (seed 2112, 200 runs)', () => {
    check(
      fc.property(headArb, fc.integer({ min: -40, max: 40 }), (h, d) => {
        const cap = Math.max(1, h.headLength + d);
        const r = parseHttpRequest(h.bytes, cap);
        if (cap >= h.headLength) assert.deepEqual(r, { kind: 'ok', value: h.expected, length: h.headLength });
        else if (h.bytes.length >= cap) assert.deepEqual(r, { kind: 'invalid', reason: 'head exceeds cap' });
        else assert.equal(r.kind, 'incomplete');
      }),
      2112,
      200,
    );
  });
});

describe('httpSignature', () => {
  const inputs = fc.oneof(
    headArb.map((h) => h.bytes),
    fc.constantFrom(...HTTP_CORPUS, latin1('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), V1_CORPUS[0]!, SSH_CORPUS[0]!),
    fc.string({ unit: fc.constantFrom(...'GETPRISH-_ *aX'), maxLength: 40 }).map(latin1),
  );

  it('answers maybe, then one decision that longer inputs never change (seed 2120, 300 runs)', () => {
    check(
      fc.property(inputs, (b) => {
        let decided: string | undefined;
        for (let n = 0; n <= Math.min(b.length, 48); n++) {
          const a = httpSignature(b.subarray(0, n));
          if (decided === undefined) {
            if (a !== 'maybe') decided = a;
          } else assert.equal(a, decided, `prefix ${n} changed the answer`);
        }
      }),
      2120,
      300,
    );
  });

  it("a parsed request whose method is an upper-case word (not PROXY, SSH-*) is 'yes' (seed 2121, 300 runs)", () => {
    check(
      fc.property(inputs, (b) => {
        const r = parseHttpRequest(b);
        if (r.kind !== 'ok') return;
        const m = r.value.method;
        if (/^[A-Z][A-Z_-]{0,31}$/.test(m) && m !== 'PROXY' && !m.startsWith('SSH-')) assert.equal(httpSignature(b), 'yes');
      }),
      2121,
      300,
    );
  });
});
