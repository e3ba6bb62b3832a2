import { it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeClientText } from '../../src/observe/escape.js';

it('client text is escaped before logging: printable ASCII stays, the rest becomes \\xNN, long text is cut', () => {
  assert.equal(escapeClientText('h2'), 'h2');
  assert.equal(escapeClientText(undefined), undefined);
  assert.equal(escapeClientText('a\r\nb\x00\x1b[31m'), 'a\\x0d\\x0ab\\x00\\x1b[31m');
  assert.equal(escapeClientText('back\\slash'), 'back\\\\slash');
  assert.equal(escapeClientText('\xff\xfe'), '\\xff\\xfe');
  const long = escapeClientText('x'.repeat(1000))!;
  assert.equal(long, 'x'.repeat(256) + '...');
  for (const c of escapeClientText(String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i)), 4096)!) {
    const code = c.charCodeAt(0);
    assert.ok(code >= 0x20 && code <= 0x7e, `raw byte ${code} leaked`);
  }
});
