/**
 * A directory of rule files is one rule set, like nginx's conf.d: the lists (listeners, routes,
 * demo) are concatenated in file-name order, the backends of all files form one mapping (a name
 * defined twice is an error naming both places), and every other top-level section may appear in
 * one file only. The merged tree keeps the original nodes, so every later complaint still points
 * at the file, line and column the admin wrote.
 */
import { isMap, isNode, isScalar, isSeq, Pair, Scalar, visit, YAMLMap, YAMLSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue, NodeOrigin } from './yaml-reader.js';

export interface ParsedRuleFile {
  readonly file: string;
  readonly lines: LineCounter;
  readonly doc: Document.Parsed;
}

export interface MergedRules {
  readonly root: YAMLMap;
  readonly origin: NodeOrigin;
}

const LIST_SECTIONS = new Set(['listeners', 'routes', 'demo']);
const MAP_SECTIONS = new Set(['backends']);

interface Placed {
  readonly file: ParsedRuleFile;
  readonly node: Node;
}

export function mergeRuleDocuments(files: readonly ParsedRuleFile[], issues: ConfigIssue[]): MergedRules {
  const originOf = new WeakMap<Node, ParsedRuleFile>();
  const at = (f: ParsedRuleFile, node: Node | null | undefined): Omit<ConfigIssue, 'message'> => {
    const { line, col } = f.lines.linePos(node?.range?.[0] ?? 0);
    return { file: f.file, line, col };
  };
  const lists = new Map<string, YAMLSeq>();
  const maps = new Map<string, { map: YAMLMap; seen: Map<string, Placed> }>();
  const singles = new Map<string, Placed>();
  /** Each section's first key node, so a complaint about the section points at where it first appears. */
  const firstKey = new Map<string, Scalar>();

  for (const f of files) {
    visit(f.doc, (_key, node) => {
      if (isNode(node)) originOf.set(node, f);
    });
    const root = f.doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) continue; // an empty file adds nothing
    if (!isMap(root)) {
      issues.push({ ...at(f, root), message: 'a rule file must be a mapping of sections (listeners:, backends:, routes:...)' });
      continue;
    }
    for (const pair of root.items) {
      const key = pair.key;
      const value = (pair.value ?? null) as Node | null;
      if (!isScalar(key) || typeof key.value !== 'string') continue; // reported by the compiler
      const name = key.value;
      if (value === null || (isScalar(value) && value.value === null)) continue; // `routes:` with nothing after it
      if (!firstKey.has(name)) firstKey.set(name, key);
      if (LIST_SECTIONS.has(name) && isSeq(value)) {
        const seq = lists.get(name) ?? new YAMLSeq();
        seq.items.push(...value.items);
        lists.set(name, seq);
      } else if (MAP_SECTIONS.has(name) && isMap(value)) {
        const entry = maps.get(name) ?? { map: new YAMLMap(), seen: new Map<string, Placed>() };
        for (const item of value.items) {
          const k = item.key;
          const kName = isScalar(k) ? String(k.value) : '';
          const before = entry.seen.get(kName);
          if (before !== undefined) {
            const p = at(before.file, before.node);
            issues.push({ ...at(f, k as Node), message: `${name}.${kName} is already defined in ${p.file}:${p.line}:${p.col}` });
            continue;
          }
          entry.seen.set(kName, { file: f, node: k as Node });
          entry.map.items.push(item);
        }
        maps.set(name, entry);
      } else {
        const before = singles.get(name) ?? (lists.has(name) || maps.has(name) ? { file: f, node: key } : undefined);
        if (before !== undefined) {
          const p = at(before.file, before.node);
          issues.push({ ...at(f, key), message: `"${name}:" appears in more than one rule file (also ${p.file}:${p.line}:${p.col}); keep it in one file` });
          continue;
        }
        singles.set(name, { file: f, node: value });
      }
    }
  }

  const root = new YAMLMap();
  for (const [name, key] of firstKey) {
    const value: Node | undefined = lists.get(name) ?? maps.get(name)?.map ?? singles.get(name)?.node;
    if (value !== undefined) root.items.push(new Pair(key, value));
  }
  return { root, origin: (node) => originOf.get(node) };
}
