/**
 * Structural equality of compiled configuration values, ignoring where in the file they were
 * written (`pos`): a reload keeps a backend's pool — health state, connection counts — only when
 * the backend means exactly what it meant before, wherever it moved in the file.
 */
import { RulePattern } from './rule-pattern.js';

export function sameConfig(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof RulePattern || b instanceof RulePattern) return a instanceof RulePattern && b instanceof RulePattern && a.sameAs(b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !sameConfig(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => k !== 'pos');
  const kb = Object.keys(b).filter((k) => k !== 'pos');
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && sameConfig(ra[k], rb[k]));
}
