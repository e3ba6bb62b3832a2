/**
 * Runs of SNI-only routes found by hash instead of one by one (hosting-scale tables: thousands of
 * `tls: { sni: [...] }` routes in a row). A run is consecutive routes whose whole condition is
 * "protocol tls and SNI in these exact names or *.suffix patterns" and whose action is a backend;
 * within it, the answer is the earliest route whose patterns hold the client's SNI. Exact names
 * are one Map lookup; `*.suffix` patterns one lookup per label of the name (a.b.example.com tries
 * .b.example.com, .example.com, .com). Regex patterns, and every other condition, stay in the
 * ordered scan around the runs.
 */
import type { NamePattern } from '../config/types.js';

export class SniIndex {
  private readonly exact = new Map<string, number>();
  private readonly suffix = new Map<string, number>();

  /** `routes[i]` is the i-th route of the run. */
  constructor(routes: readonly (readonly NamePattern[])[]) {
    routes.forEach((patterns, i) => {
      for (const p of patterns) {
        const map = p.kind === 'exact' ? this.exact : this.suffix;
        const key = p.kind === 'exact' ? p.name : p.kind === 'suffix' ? p.suffix : '';
        if (!map.has(key)) map.set(key, i);
      }
    });
  }

  /** The earliest position in the run whose patterns match `name` (lowercased), or -1. */
  lookup(name: string): number {
    let best = this.exact.get(name) ?? Infinity;
    // "*.example.com" matches names longer than ".example.com" that end with it: every suffix
    // starting at a dot after the first character.
    for (let i = name.indexOf('.', 1); i !== -1; i = name.indexOf('.', i + 1)) {
      const at = this.suffix.get(name.slice(i));
      if (at !== undefined && at < best) best = at;
    }
    return best === Infinity ? -1 : best;
  }
}
