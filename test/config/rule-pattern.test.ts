/**
 * Rule regexes are RE2: `check` refuses, at the pattern's line and column, every construct that
 * needs backtracking (and the JavaScript-only spellings RE2 has other words for), naming the
 * construct and what to write instead. Every key that takes a regex refuses the same patterns.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import { RulePattern } from '../../src/config/rule-pattern.js';
import { sameConfig } from '../../src/config/same-config.js';

/** A rule file with `pattern` at line 7, column 23, in a `bytes.regex`. */
function bytesRegexIssues(pattern: string): string[] {
  const text = `listeners: ["127.0.0.1:0"]
backends:
  a: { servers: ["127.0.0.1:1"] }
routes:
  - name: r
    when:
      bytes: { regex: ${JSON.stringify(pattern)} }
    to: a
`;
  const r = compileRulesText(text, 'x.yaml');
  return r.ok ? [] : r.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}`);
}

describe('constructs RE2 refuses are errors with file:line:col, the construct and the alternative', () => {
  const cases: [string, RegExp][] = [
    ['(a)\\1', /a backreference `\\1` is not supported .*spell out the alternatives/],
    ['(?<x>a)\\k<x>', /a named backreference `\\k` is not supported/],
    ['foo(?=bar)', /lookahead `\(\?=` is not supported .*\$ or \\b.*`not:`/],
    ['foo(?!bar)', /lookahead `\(\?!` is not supported/],
    ['(?<=foo)bar', /lookbehind `\(\?<=` is not supported .*`not:`/],
    ['(?<!foo)bar', /lookbehind `\(\?<!` is not supported/],
    ['(?>a+)b', /an atomic group `\(\?>` is not supported .*plain group/],
    ['a++b', /a possessive quantifier `\+\+` is not supported .*write \+ instead of \+\+/],
    ['\\u00e9', /the JavaScript escape `\\u` is not RE2 syntax: .*\\x\{HHHH\}/],
    ['\\cA', /the control escape `\\c` is not RE2 syntax: .*\\xHH/],
    ['[^]', /the JavaScript class `\[\^\]` is not RE2 syntax: .*\(\?s:\.\)/],
    ['a\\Z', /`\\Z` is not RE2 syntax: .*\\z/],
    ['(?#note)a', /a comment group `\(\?#` is not RE2 syntax/],
    ['a{1001}', /repeat count `\{1001\}` is too large: RE2 allows at most \{1000\}/],
    ['(a{100}){100}', /repeat count .* too large/],
    ['\\R', /unknown escape `\\R`/],
    ['(', /missing closing \): `\(`/],
  ];
  for (const [pattern, why] of cases) {
    it(pattern, () => {
      const issues = bytesRegexIssues(pattern);
      assert.equal(issues.length, 1, issues.join('\n'));
      assert.match(issues[0]!, /^x\.yaml:7:23: routes\.r\.when\.bytes\.regex: bad regular expression /);
      assert.match(issues[0]!, why);
    });
  }
});

describe('every key that takes a regex uses RE2 and reports where the pattern stands', () => {
  it('tls.sni, http.host, xmpp.to, rdp.cookie, postgres.user and .database, bytes.regex, health.expect_regex', () => {
    const text = `listeners: ["127.0.0.1:0"]
backends:
  a:
    servers: ["127.0.0.1:1"]
    health: { expect_regex: "^(?=SSH)" }
routes:
  - { name: r1, when: { tls: { sni: ["~^(a)\\\\1$"] } }, to: a }
  - { name: r2, when: { http: { host: ["~(?<=x)y"] } }, to: a }
  - { name: r3, when: { xmpp: { to: ["~a++"] } }, to: a }
  - { name: r4, when: { rdp: { cookie: ["~(?>a)"] } }, to: a }
  - { name: r5, when: { postgres: { user: ["~\\\\u0041"], database: ["~[^]"] } }, to: a }
  - { name: r6, when: { bytes: { regex: "\\\\k<n>" } }, to: a }
`;
    const r = compileRulesText(text, 'x.yaml');
    assert.equal(r.ok, false);
    const got = r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
    const want = [
      /^5:29 backends\.a\.health\.expect_regex: .*lookahead/,
      /^7:38 routes\.r1\.when\.tls\.sni: .*backreference/,
      /^8:40 routes\.r2\.when\.http\.host: .*lookbehind/,
      /^9:38 routes\.r3\.when\.xmpp\.to: .*possessive/,
      /^10:41 routes\.r4\.when\.rdp\.cookie: .*atomic group/,
      /^11:44 routes\.r5\.when\.postgres\.user: .*JavaScript escape/,
      /^11:68 routes\.r5\.when\.postgres\.database: .*JavaScript class/,
      /^12:41 routes\.r6\.when\.bytes\.regex: .*named backreference/,
    ];
    assert.equal(got.length, want.length, got.join('\n'));
    for (const w of want) assert.ok(got.some((g) => w.test(g)), `${w} not in:\n${got.join('\n')}`);
  });

  it('patterns written for JavaScript that RE2 reads the same still compile and match', () => {
    const ok = (source: string, caseInsensitive: boolean): RulePattern => {
      const p = RulePattern.compile(source, { caseInsensitive });
      assert.ok(p instanceof RulePattern, `${source}: ${String(p)}`);
      return p;
    };
    assert.equal(ok('^c[0-9]+\\.example$', true).test('c42.example'), true);
    assert.equal(ok('^C\\d+\\.EXAMPLE$', true).test('c42.example'), true, 'names are case-insensitive');
    assert.equal(ok('^Alice$', false).test('alice'), false, 'text and bytes patterns are case-sensitive');
    assert.equal(ok('^a\\/b$', false).test('a/b'), true, 'an escaped slash, as in a JavaScript literal');
    assert.equal(ok('^(?<user>[a-z]+)@', false).test('bob@x'), true, 'named groups, JavaScript spelling');
    assert.equal(ok('^SSH-2\\.0-', false).test('SSH-2.0-OpenSSH_9.2\r\n'), true);
    assert.equal(ok('x', false).test('a x b'), true, 'unanchored, like RegExp.test');
  });

  it('a reload compares patterns by source and case-sensitivity', () => {
    const p = (s: string, i: boolean): RulePattern => RulePattern.compile(s, { caseInsensitive: i }) as RulePattern;
    assert.equal(sameConfig({ re: p('^a', true) }, { re: p('^a', true) }), true);
    assert.equal(sameConfig({ re: p('^a', true) }, { re: p('^a', false) }), false);
    assert.equal(sameConfig({ re: p('^a', true) }, { re: p('^b', true) }), false);
    assert.equal(sameConfig({ re: p('^a', true) }, { re: '^a' }), false);
  });
});
