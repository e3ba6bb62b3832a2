/**
 * The tri-state answer of every matcher (DESIGN "matcher contract"). Numbers rather than strings
 * keep the per-connection path free of allocations.
 */
export const NO = 0;
export const YES = 1;
export const MORE = 2;
export type Verdict = typeof NO | typeof YES | typeof MORE;

export function verdictName(v: Verdict): 'no-match' | 'match' | 'need-more' {
  return v === YES ? 'match' : v === NO ? 'no-match' : 'need-more';
}
