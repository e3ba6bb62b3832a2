import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSshBanner, sshSignature, type SshBanner } from '../../../src/protocols/ssh/banner.js';
import { httpSignature } from '../../../src/protocols/http/request.js';
import { incomplete, invalid, ok, type ParseResult } from '../../../src/protocols/result.js';
import { assertSameForEveryDelivery, hex } from '../../helpers/feed.js';
import { fuzzParser, signatureDecision as decision } from '../../helpers/fuzz.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function banner(protoVersion: string, software: string, comments: string | undefined, length: number): ParseResult<SshBanner> {
  return ok({ protoVersion, software, comments, length }, length);
}

/** [test name, identification string, then the expected protoVersion, software, comments]. */
const VALID_BANNERS: readonly (readonly [string, string, string, string, string | undefined])[] = [
  ['OpenSSH-style banner with comments', 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n', '2.0', 'OpenSSH_9.2p1', 'Debian-2+deb12u3'],
  ['PuTTY-style banner without comments', 'SSH-2.0-PuTTY_Release_0.78\r\n', '2.0', 'PuTTY_Release_0.78', undefined],
  ['SSH-1.99 is accepted', 'SSH-1.99-OpenSSH_3.9p1\r\n', '1.99', 'OpenSSH_3.9p1', undefined],
  ['bare LF terminator is accepted', 'SSH-2.0-dropbear_2022.83\n', '2.0', 'dropbear_2022.83', undefined],
  ["'-' inside the software version is accepted (JSch, old libssh)", 'SSH-2.0-JSCH-0.1.54\r\n', '2.0', 'JSCH-0.1.54', undefined],
  ['empty comments after SP are reported as an empty string', 'SSH-2.0-x \r\n', '2.0', 'x', ''],
];

for (const [name, raw, protoVersion, software, comments] of VALID_BANNERS) {
  test(name, () => {
    assertSameForEveryDelivery(parseSshBanner, b(raw), banner(protoVersion, software, comments, raw.length));
  });
}

test('bytes after the identification string (KEXINIT) are not part of it', () => {
  const raw = 'SSH-2.0-Go\r\n';
  const bytes = Buffer.concat([b(raw), hex('000005dc 07 14 0102030405')]);
  assertSameForEveryDelivery(parseSshBanner, bytes, banner('2.0', 'Go', undefined, raw.length));
});

test('SSH-1.5 and other versions are unsupported, decided as early as possible', () => {
  assertSameForEveryDelivery(parseSshBanner, b('SSH-1.5-OpenSSH_1.2\r\n'), invalid('unsupported SSH protocol version'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.1-x\r\n'), invalid('unsupported SSH protocol version'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2-x\r\n'), invalid('unsupported SSH protocol version'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.00-x\r\n'), invalid('unsupported SSH protocol version'));
  assert.deepEqual(parseSshBanner(b('SSH-1.5')), invalid('unsupported SSH protocol version'));
  assert.deepEqual(parseSshBanner(b('SSH-1.')), incomplete());
});

test('exactly 255 bytes including CRLF is accepted, 256 is invalid', () => {
  const ok255 = 'SSH-2.0-' + 'a'.repeat(245) + '\r\n';
  assert.equal(ok255.length, 255);
  assertSameForEveryDelivery(parseSshBanner, b(ok255), banner('2.0', 'a'.repeat(245), undefined, 255));
  const bad256 = 'SSH-2.0-' + 'a'.repeat(246) + '\r\n';
  assert.equal(bad256.length, 256);
  assertSameForEveryDelivery(parseSshBanner, b(bad256), invalid('identification string exceeds 255 bytes'));
  // with a bare LF the limit is the same 255 bytes
  const lf255 = 'SSH-2.0-x ' + 'c'.repeat(244) + '\n';
  assert.equal(lf255.length, 255);
  assertSameForEveryDelivery(parseSshBanner, b(lf255), banner('2.0', 'x', 'c'.repeat(244), 255));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-x ' + 'c'.repeat(300)), invalid('identification string exceeds 255 bytes'));
});

test('garbage before "SSH-" is invalid', () => {
  assertSameForEveryDelivery(parseSshBanner, b('hello\r\nSSH-2.0-x\r\n'), invalid('not an SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('\r\nSSH-2.0-x\r\n'), invalid('not an SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('ssh-2.0-x\r\n'), invalid('not an SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, hex('16 03 01 00 05'), invalid('not an SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('GET / HTTP/1.1\r\n\r\n'), invalid('not an SSH identification string'));
});

test('malformed identification strings', () => {
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-\r\n'), invalid('empty SSH software version'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0- comment\r\n'), invalid('empty SSH software version'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0\r\n'), invalid('malformed SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-a\tb\r\n'), invalid('malformed SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-a b\u0000\r\n'), invalid('malformed SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-a b\u00e9\r\n'), invalid('malformed SSH identification string'));
  assertSameForEveryDelivery(parseSshBanner, b('SSH-2.0-ab\rc\n'), invalid('bare CR in SSH identification string'));
});

test('prefixes are incomplete', () => {
  for (const p of ['', 'S', 'SS', 'SSH', 'SSH-', 'SSH-2', 'SSH-2.0-', 'SSH-2.0-x', 'SSH-2.0-x y', 'SSH-2.0-x\r']) {
    assert.deepEqual(parseSshBanner(b(p)), incomplete(), JSON.stringify(p));
  }
});

test('sshSignature: yes after "SSH-", no as early as possible', () => {
  assert.deepEqual(decision(sshSignature, b('SSH-2.0-OpenSSH_9.2p1\r\n')), { answer: 'yes', at: 4 });
  assert.deepEqual(decision(sshSignature, hex('16 03 01 02 00')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(sshSignature, b('GET / HTTP/1.1\r\n')), { answer: 'no', at: 1 });
  assert.deepEqual(decision(sshSignature, b('SSX-')), { answer: 'no', at: 3 });
  assert.deepEqual(decision(sshSignature, b('SSH 2.0')), { answer: 'no', at: 4 });
  assert.deepEqual(decision(sshSignature, hex('00 ff 53')), { answer: 'no', at: 1 });
  assert.equal(sshSignature(new Uint8Array(0)), 'maybe');
  assert.equal(sshSignature(b('SSH')), 'maybe');
});

test('SSH and HTTP signatures never both say yes', () => {
  for (const s of ['SSH-2.0-x\r\n', 'GET / HTTP/1.1\r\n', 'SSH / HTTP/1.1\r\n']) {
    const bytes = b(s);
    for (let n = 0; n <= bytes.length; n++) {
      const v = bytes.subarray(0, n);
      assert.ok(!(sshSignature(v) === 'yes' && httpSignature(v) === 'yes'), `${s} @${n}`);
    }
  }
});

test('fuzz: ~20k random and mutated inputs never throw and stay consistent', () => {
  const seeds = ['SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n', 'SSH-1.99-x\n', 'SSH-2.0-PuTTY_Release_0.78\r\n'].map(b);
  const stats = fuzzParser(parseSshBanner, seeds, {
    iterations: 20000,
    seed: 0x55482d32,
    // Runs of up to 250 bytes ('a' among them) reach the 255-byte limit.
    mutate: { interesting: [0x00, 0x0a, 0x0d, 0x20, 0x2d, 0x2e, 0x31, 0x32, 0x39, 0x61, 0x7f, 0x80, 0xff], maxEdits: 3, maxRun: 250 },
    shape: (input, { random, rng }) => (random && rng() < 0.5 ? Buffer.concat([b('SSH-'), input]) : input),
    suffix: b('\r\n'),
    check: (input, r) => {
      const sig = sshSignature(input);
      assert.ok(sig === 'yes' || sig === 'no' || sig === 'maybe');
      if (r.kind === 'ok') {
        assert.ok(r.length >= 10 && r.length <= 255);
        assert.equal(r.value.length, r.length);
        assert.equal(sig, 'yes');
      } else if (r.kind === 'incomplete') {
        assert.ok(input.length < 255);
        assert.notEqual(sig, 'no');
      }
    },
  });
  assert.ok(stats.ok > 0 && stats.incomplete > 0 && stats.invalid > 0, JSON.stringify(stats));
});
