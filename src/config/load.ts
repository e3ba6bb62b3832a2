/**
 * Reads the rules from disk — one file, or a directory of *.yaml files merged in name order — and
 * compiles them, or explains every problem with file:line:col.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { withAdminToken } from './admin-token.js';
import { compileRules } from './compile.js';
import { mergeRuleDocuments, type ParsedRuleFile } from './merge.js';
import { NodeReader, type ConfigIssue } from './yaml-reader.js';
import type { RulesConfig } from './types.js';
import type { ErrorCode } from '../errors.js';

/** One rule file's path and text, as read at one moment (what a reload compares and ships to workers). */
export interface RulesText {
  readonly file: string;
  readonly text: string;
}

export type LoadResult =
  | { readonly ok: true; readonly rules: RulesConfig }
  | { readonly ok: false; readonly code: ErrorCode; readonly issues: readonly ConfigIssue[] };

export type ReadResult =
  | { readonly ok: true; readonly texts: readonly RulesText[] }
  | { readonly ok: false; readonly code: 'PORTPLEX_ERR_RULES_READ'; readonly issues: readonly ConfigIssue[] };

const RULE_FILE = /\.ya?ml$/i;

/** The rule file, or every *.yaml / *.yml directly in the directory (sorted by name, hidden files skipped). */
export function readRulesSource(source: string): ReadResult {
  const fail = (message: string): ReadResult => ({ ok: false, code: 'PORTPLEX_ERR_RULES_READ', issues: [{ file: source, line: 0, col: 0, message }] });
  try {
    if (!statSync(source).isDirectory()) return { ok: true, texts: [{ file: source, text: readFileSync(source, 'utf8') }] };
    // Hidden entries are skipped: Kubernetes mounts a ConfigMap with ..data/..2026_… links beside the files.
    const names = readdirSync(source)
      .filter((n) => RULE_FILE.test(n) && !n.startsWith('.'))
      .sort();
    const texts: RulesText[] = [];
    for (const n of names) {
      const file = join(source, n);
      if (statSync(file).isFile()) texts.push({ file, text: readFileSync(file, 'utf8') });
    }
    if (texts.length === 0) return fail(`no rule files (*.yaml, *.yml) in the directory ${source}`);
    return { ok: true, texts };
  } catch (e) {
    return fail((e as Error).message);
  }
}

export function loadRules(source: string): LoadResult {
  const read = readRulesSource(source);
  return read.ok ? compileRulesTexts(read.texts, source) : read;
}

export function compileRulesText(text: string, file: string): LoadResult {
  return compileRulesTexts([{ file, text }], file);
}

export interface CompileOptions {
  /**
   * Read admin.token_file (default true). Worker processes pass false: they serve no admin
   * endpoint, and after dropping privileges they might not be allowed to read it.
   */
  readonly readAdminToken?: boolean;
}

/** Compiles one or more rule files as one rule set; `source` names the set in messages about it as a whole. */
export function compileRulesTexts(texts: readonly RulesText[], source: string, opts: CompileOptions = {}): LoadResult {
  const parsed: ParsedRuleFile[] = [];
  const yamlIssues: ConfigIssue[] = [];
  for (const { file, text } of texts) {
    const lines = new LineCounter();
    const doc: Document.Parsed = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    for (const e of doc.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      yamlIssues.push({ file, line, col, message: e.message.split('\n')[0] ?? e.message });
    }
    parsed.push({ file, lines, doc });
  }
  if (yamlIssues.length > 0) return { ok: false, code: 'PORTPLEX_ERR_RULES_YAML', issues: yamlIssues };

  const issues: ConfigIssue[] = [];
  let rules: RulesConfig | undefined;
  const only = parsed.length === 1 ? parsed[0] : undefined;
  if (only !== undefined) {
    rules = compileRules(new NodeReader(only.file, only.lines, issues), only.doc.contents);
  } else {
    const merged = mergeRuleDocuments(parsed, issues);
    const first = parsed[0]!;
    if (issues.length === 0) rules = compileRules(new NodeReader(source, first.lines, issues, merged.origin), merged.root);
  }
  if (!rules || issues.length > 0) return { ok: false, code: 'PORTPLEX_ERR_RULES_INVALID', issues };
  const token = opts.readAdminToken === false ? { ok: true as const, rules } : withAdminToken(rules);
  if (!token.ok) return { ok: false, code: 'PORTPLEX_ERR_RULES_INVALID', issues: token.issues };
  return { ok: true, rules: { ...token.rules, files: texts.map((t) => t.file) } };
}

export function formatIssues(code: ErrorCode, issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.col}: ${code}: ${i.message}`).join('\n');
}

export function formatWarnings(warnings: readonly ConfigIssue[]): string {
  return warnings.map((w) => `${w.file}:${w.line}:${w.col}: warning: ${w.message}`).join('\n');
}
