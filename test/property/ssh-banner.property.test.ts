/**
 * Property tests for parseSshBanner / sshSignature (src/protocols/ssh-banner.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSshBanner, sshSignature, type SshBanner } from '../../src/protocols/ssh/banner.js';
import { HTTP_CORPUS, KEXINIT, SSH_CORPUS } from './corpora.js';
import { check, fc, latin1, parserProperties } from './support.js';

parserProperties<SshBanner, undefined>({
  name: 'parseSshBanner',
  parse: (b) => parseSshBanner(b),
  corpus: SSH_CORPUS,
  interesting: [0x2d, 0x20, 0x0d, 0x0a, 0x2e, 0x32, 0x30, 0x31, 0x39, 0x21, 0x7e, 0x7f, 0x1f, 0x00, 0x80],
  poisons: [latin1('\r\n'), latin1('-2.0-x\r\n'), Buffer.alloc(300, 0x41), KEXINIT, HTTP_CORPUS[0]!],
  maxRandom: 1024,
  seed: 3100,
  runs: { random: 300, mutated: 600, poisoned: 200, strict: 150, chunked: 200, byteByByte: 100 },
});

const softwareArb = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 120 });
const commentsArb = fc.option(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 120 }), { nil: undefined });

describe('parseSshBanner: round trips', () => {
  it('SSH-<2.0|1.99>-<software>[ SP comments]<CRLF|LF> parses back, whatever follows (seed 3110, 500 runs)', () => {
    check(
      fc.property(fc.constantFrom('2.0', '1.99'), softwareArb, commentsArb, fc.constantFrom('\r\n', '\n'), fc.uint8Array({ maxLength: 64 }), (v, software, comments, eol, after) => {
        const line = `SSH-${v}-${software}${comments === undefined ? '' : ' ' + comments}${eol}`;
        const bytes = Buffer.concat([latin1(line), after]);
        const r = parseSshBanner(bytes);
        if (line.length > 255) {
          assert.deepEqual(r, { kind: 'invalid', reason: 'identification string exceeds 255 bytes' });
          return;
        }
        assert.deepEqual(r, { kind: 'ok', value: { protoVersion: v, software, comments, length: line.length }, length: line.length });
      }),
      3110,
      500,
    );
  });

  it('a version other than 2.0 / 1.99 is refused (seed 3111, 300 runs)', () => {
    check(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789.'), minLength: 1, maxLength: 6 }), softwareArb, (v, software) => {
        fc.pre(v !== '2.0' && v !== '1.99');
        const r = parseSshBanner(latin1(`SSH-${v}-${software}\r\n`));
        assert.deepEqual(r, { kind: 'invalid', reason: 'unsupported SSH protocol version' });
      }),
      3111,
      300,
    );
  });

  it("sshSignature agrees with the parser: 'no' => invalid, ok => 'yes' (seed 3112, 300 runs)", () => {
    check(
      fc.property(fc.oneof(fc.constantFrom(...SSH_CORPUS), fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)), fc.string({ unit: fc.constantFrom(...'SH-2.0x\r\n'), maxLength: 12 }).map(latin1)), (b) => {
        const sig = sshSignature(b);
        const r = parseSshBanner(b);
        if (sig === 'no') assert.equal(r.kind, 'invalid');
        if (r.kind === 'ok') assert.equal(sig, 'yes');
        if (sig === 'maybe') assert.equal(r.kind, 'incomplete');
      }),
      3112,
      300,
    );
  });
});
