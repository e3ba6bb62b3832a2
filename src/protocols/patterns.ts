/**
 * The patterns a protocol's conditions match names and text against, how each matches, how one
 * covers another (for the shadowed-route warning) and how each is shown as the admin wrote it.
 */

/**
 * A compiled `~regex` (src/config/rule-pattern.ts RulePattern, RE2): only what matching and
 * comparing need, so protocols do not import config.
 */
export interface TextRegex {
  /** As the admin wrote it (without the `~`). */
  readonly source: string;
  test(text: string): boolean;
  sameAs(other: TextRegex): boolean;
}

/** A name pattern for SNI and Host: exact, "*.suffix" (one or more labels), or "~regex" (RE2, case-insensitive). */
export type NamePattern =
  | { readonly kind: 'exact'; readonly name: string }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'regex'; readonly regex: TextRegex };

/** Exact text (case-insensitive) or "~regex" (RE2, case-sensitive), for captures that are not host names (RDP cookie, Postgres user). */
export type TextPattern = { readonly kind: 'exact'; readonly text: string } | { readonly kind: 'regex'; readonly regex: TextRegex };

/** `name` is already lowercased by its parser. "*.example.com" matches a.example.com and a.b.example.com, not example.com. */
export function nameMatches(patterns: readonly NamePattern[], name: string): boolean {
  for (const p of patterns) {
    if (p.kind === 'exact' ? name === p.name : p.kind === 'suffix' ? name.length > p.suffix.length && name.endsWith(p.suffix) : p.regex.test(name)) {
      return true;
    }
  }
  return false;
}

export function textMatches(patterns: readonly TextPattern[], text: string): boolean {
  const lower = text.toLowerCase();
  return patterns.some((p) => (p.kind === 'exact' ? p.text === lower : p.regex.test(text)));
}

/** Every name `p` matches, `q` matches too (names arrive lowercased; exact and suffix patterns are stored lowercased). */
export function nameCovers(q: NamePattern, p: NamePattern): boolean {
  if (q.kind === 'regex') return p.kind === 'exact' ? q.regex.test(p.name) : p.kind === 'regex' && q.regex.sameAs(p.regex);
  if (q.kind === 'exact') return p.kind === 'exact' && p.name === q.name;
  // "*.example.com" matches names longer than ".example.com" that end with it.
  if (p.kind === 'exact') return p.name.length > q.suffix.length && p.name.endsWith(q.suffix);
  return p.kind === 'suffix' && p.suffix.endsWith(q.suffix);
}

/** Exact text is compared lowercased, a regex over the text as sent: an exact pattern is covered only by the same exact one. */
export function textCovers(q: TextPattern, p: TextPattern): boolean {
  if (q.kind === 'exact') return p.kind === 'exact' && p.text === q.text;
  return p.kind === 'regex' && q.regex.sameAs(p.regex);
}

/** Every pattern of `a` is covered by one of `b`'s. */
export function namesCovered(a: readonly NamePattern[], b: readonly NamePattern[]): boolean {
  return a.every((p) => b.some((q) => nameCovers(q, p)));
}

export function textsCovered(a: readonly TextPattern[], b: readonly TextPattern[]): boolean {
  return a.every((p) => b.some((q) => textCovers(q, p)));
}

/** The pattern as the admin wrote it. */
export function regexText(r: TextRegex): string {
  return `~${r.source}`;
}

export function namesText(patterns: readonly NamePattern[]): string {
  return patterns.map((p) => (p.kind === 'exact' ? p.name : p.kind === 'suffix' ? `*${p.suffix}` : regexText(p.regex))).join(', ');
}

export function textsText(patterns: readonly TextPattern[]): string {
  return patterns.map((p) => (p.kind === 'exact' ? p.text : regexText(p.regex))).join(', ');
}

/** "a..b", "a..", "..b" or a single value, as the summary shows a range. */
export function rangeText(min: number, max: number, top: number, show: (n: number) => string = String): string {
  if (min === max) return show(min);
  return `${min === 0 ? '' : show(min)}..${max >= top ? '' : show(max)}`;
}
