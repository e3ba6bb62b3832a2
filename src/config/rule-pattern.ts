/**
 * One compiled rule regex: `~regex` name and text patterns, `bytes.regex`, a health check's
 * `expect_regex`. An admin writes them, but they run over client-controlled text on the event
 * loop, so a backtracking engine (JavaScript's RegExp) lets one crafted SNI stall every
 * connection of a worker: `^(a+)+$` over 30 letters and a mismatch takes seconds, over 255 it
 * never ends. RE2's automata take time linear in the input whatever the pattern. re2js is RE2
 * ported to JavaScript (no native build, no download at install); RE2 refuses what only
 * backtracking can do, and `explainRe2Error` says which construct it was and what to write instead.
 */
import type { Node } from 'yaml';
import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import type { NodeReader } from './yaml-reader.js';

export class RulePattern {
  private constructor(
    /** As the admin wrote it (without the `~` of name patterns). */
    readonly source: string,
    readonly caseInsensitive: boolean,
    private readonly re: RE2JS,
  ) {}

  /** The pattern, or a message naming what RE2 does not accept. */
  static compile(source: string, opts: { readonly caseInsensitive: boolean }): RulePattern | string {
    try {
      return new RulePattern(source, opts.caseInsensitive, RE2JS.compile(source, opts.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0));
    } catch (e) {
      if (e instanceof RE2JSSyntaxException) return explainRe2Error(e.error, e.input ?? '');
      if (e instanceof RE2JSException) return e.message;
      throw e;
    }
  }

  /** Whether the pattern matches anywhere in `text` (unanchored, like RegExp.prototype.test). */
  test(text: string): boolean {
    return this.re.test(text);
  }

  sameAs(other: RulePattern): boolean {
    return this.source === other.source && this.caseInsensitive === other.caseInsensitive;
  }
}

/**
 * A rule regex (RE2 syntax), or an error at `node` naming the construct RE2 refuses. Shared by
 * every key that takes one, so they all accept and refuse the same patterns.
 */
export function compilePattern(r: NodeReader, node: Node | null, what: string, source: string, caseInsensitive: boolean): RulePattern | undefined {
  const p = RulePattern.compile(source, { caseInsensitive });
  return typeof p === 'string' ? r.error(node, `${what}: bad regular expression "${source}": ${p}`) : p;
}

const SYNTAX = 'RE2 syntax: https://github.com/google/re2/wiki/Syntax';

/** RE2's parse error (its kind and the fragment it stopped at) as what the admin wrote and what to write instead. */
export function explainRe2Error(kind: string, fragment: string): string {
  // Constructs that exist only because an engine backtracks: RE2 has no equivalent by design.
  const backtracking = (what: string, instead: string): string => `${what} \`${fragment}\` is not supported (it needs backtracking, which RE2 does not do so that matching stays linear in the input): ${instead}`;
  // JavaScript spellings that RE2 writes another way.
  const spelling = (what: string, instead: string): string => `${what} \`${fragment}\` is not RE2 syntax: ${instead}`;
  if (kind === 'invalid escape sequence') {
    if (/^\\[1-9]/.test(fragment)) return backtracking('a backreference', 'spell out the alternatives instead, e.g. (?:aa|bb) for (a|b)\\1');
    if (fragment.startsWith('\\k')) return backtracking('a named backreference', 'spell out the alternatives instead');
    if (fragment.startsWith('\\u')) return spelling('the JavaScript escape', 'write \\x{HHHH} for a code point (\\xHH for a byte)');
    if (fragment.startsWith('\\c')) return spelling('the control escape', 'write \\xHH (e.g. \\x01 for \\cA)');
    if (fragment === '\\Z') return spelling('the escape', 'write \\z (end of text) or $');
    return `unknown escape \`${fragment}\`: escape only punctuation, or use \\xHH, \\x{HHHH}, \\d, \\w, \\s, \\b, \\pN (${SYNTAX})`;
  }
  if (kind === 'invalid or unsupported Perl syntax') {
    if (fragment === '(?=' || fragment === '(?!') return backtracking('lookahead', 'anchor with $ or \\b, use a negated class such as [^.], or put the condition in a `not:`');
    if (fragment === '(?>') return backtracking('an atomic group', 'write a plain group (?:...); without backtracking it means the same');
    if (fragment === '(?#') return spelling('a comment group', 'remove it (a YAML # comment on the line can say the same)');
    return `unsupported group syntax \`${fragment}\` (${SYNTAX})`;
  }
  if (kind === 'invalid named capture' && /^\(\?<[=!]/.test(fragment)) {
    return `lookbehind \`${fragment.slice(0, 4)}\` is not supported (it needs backtracking, which RE2 does not do so that matching stays linear in the input): anchor with ^ or \\b, or put the condition in a \`not:\``;
  }
  if (kind === 'invalid nested repetition operator' && /[*+?}]\+$/.test(fragment)) {
    return backtracking('a possessive quantifier', `write ${fragment.slice(0, -1)} instead of ${fragment}; without backtracking it means the same`);
  }
  if (kind === 'invalid repeat count') return `repeat count \`${fragment}\` is too large: RE2 allows at most {1000}, nested repeats included (a{100}){100} counts 10000`;
  if (kind === 'missing closing ]' && fragment.startsWith('[^]')) return spelling('the JavaScript class', 'write (?s:.) for any character, or [\\x00-\\xff] for any byte');
  return `${kind}: \`${fragment}\` (${SYNTAX})`;
}
