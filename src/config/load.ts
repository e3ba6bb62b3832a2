/** Reads a rule file from disk and compiles it, or explains every problem with file:line:col. */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { compileRules } from './compile.js';
import { NodeReader, type ConfigIssue } from './yaml-reader.js';
import type { RulesConfig } from './types.js';
import type { ErrorCode } from '../errors.js';

export type LoadResult =
  | { readonly ok: true; readonly rules: RulesConfig }
  | { readonly ok: false; readonly code: ErrorCode; readonly issues: readonly ConfigIssue[] };

export function loadRulesFile(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, code: 'PORTPLEX_ERR_RULES_READ', issues: [{ file, line: 0, col: 0, message: (e as Error).message }] };
  }
  return compileRulesText(text, file);
}

export function compileRulesText(text: string, file: string): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return { file, line, col, message: e.message.split('\n')[0] ?? e.message };
    });
    return { ok: false, code: 'PORTPLEX_ERR_RULES_YAML', issues };
  }
  const issues: ConfigIssue[] = [];
  const reader = new NodeReader(file, lines, issues);
  const rules = compileRules(reader, doc.contents as Parameters<typeof compileRules>[1]);
  if (!rules || issues.length > 0) return { ok: false, code: 'PORTPLEX_ERR_RULES_INVALID', issues };
  return { ok: true, rules };
}

export function formatIssues(code: ErrorCode, issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.col}: ${code}: ${i.message}`).join('\n');
}

export function formatWarnings(warnings: readonly ConfigIssue[]): string {
  return warnings.map((w) => `${w.file}:${w.line}:${w.col}: warning: ${w.message}`).join('\n');
}
