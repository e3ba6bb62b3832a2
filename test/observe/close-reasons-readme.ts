/** Reads the README's table of close reasons (Logs, "Close reasons"): one row per reason and transport(s). */
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../helpers/interop.js';

export interface ReadmeCloseReason {
  readonly reason: string;
  readonly transports: readonly string[];
  readonly level: string;
  /** `yes` or `no`. */
  readonly summarised: string;
  readonly meaning: string;
}

export const CLOSE_REASONS_HEADER = '| reason | transport | level | summarised | meaning |';

export function readmeCloseReasons(): ReadmeCloseReason[] {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const at = readme.indexOf(`\n${CLOSE_REASONS_HEADER}\n`);
  if (at < 0) throw new Error('the README has no table of close reasons');
  const rows = readme.slice(at + 1).split('\n\n')[0]!.split('\n').slice(2);
  return rows.map((row) => {
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const [reason, transports, level, summarised, meaning] = cells;
    const word = (cell: string | undefined): string => /^`([a-z-]+)`$/.exec(cell ?? '')?.[1] ?? `(not one word: ${cell})`;
    return {
      reason: word(reason),
      transports: (transports ?? '').split(',').map((t) => t.trim().toLowerCase()),
      level: word(level),
      summarised: summarised ?? '',
      meaning: meaning ?? '',
    };
  });
}
