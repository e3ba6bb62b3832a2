import type { NamePattern } from '../config/types.js';

/** `name` is already lowercased by its parser. "*.example.com" matches a.example.com and a.b.example.com, not example.com. */
export function nameMatches(patterns: readonly NamePattern[], name: string): boolean {
  for (const p of patterns) {
    if (p.kind === 'exact' ? name === p.name : p.kind === 'suffix' ? name.length > p.suffix.length && name.endsWith(p.suffix) : p.regex.test(name)) {
      return true;
    }
  }
  return false;
}
