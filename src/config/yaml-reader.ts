/**
 * Typed reads over the YAML syntax tree, so every complaint about a rule file can point at the
 * file, line and column of the offending key or value.
 */
import { isMap, isScalar, isSeq, type LineCounter, type Node, type Scalar } from 'yaml';
import type { SourcePos } from './types.js';
import { parseDuration } from './units.js';

export interface ConfigIssue extends SourcePos {
  readonly message: string;
}

export interface Entry {
  readonly key: Scalar;
  readonly value: Node | null;
}

/** For rules merged from several files: which file (and its line index) a node was read from. */
export type NodeOrigin = (node: Node) => { readonly file: string; readonly lines: LineCounter } | undefined;

export class NodeReader {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
    readonly issues: ConfigIssue[],
    private readonly origin?: NodeOrigin,
  ) {}

  pos(node: Node | null | undefined): SourcePos {
    const offset = node?.range?.[0] ?? 0;
    const from = node ? this.origin?.(node) : undefined;
    const { line, col } = (from?.lines ?? this.lines).linePos(offset);
    return { file: from?.file ?? this.file, line, col };
  }

  error(node: Node | null | undefined, message: string): undefined {
    this.issues.push({ ...this.pos(node), message });
    return undefined;
  }

  /** A mapping whose keys must all be in `allowed`; each unknown key is reported where it stands. */
  map(node: Node | null, what: string, allowed: readonly string[] | null): Map<string, Entry> | undefined {
    if (!isMap(node)) return this.error(node, `${what} must be a mapping (key: value)`);
    const out = new Map<string, Entry>();
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.error(key as Node | null, `${what}: keys must be plain strings`);
        continue;
      }
      const name = key.value;
      if (allowed !== null && !allowed.includes(name)) {
        this.error(key, `${what}: unknown key "${name}" (allowed: ${allowed.join(', ')})`);
        continue;
      }
      out.set(name, { key, value: (pair.value ?? null) as Node | null });
    }
    return out;
  }

  /** A value or a list of values: `x` and `[x]` mean the same. */
  list(node: Node | null): Node[] {
    if (isSeq(node)) return node.items.map((n) => n as Node);
    return node === null ? [] : [node];
  }

  isSeq(node: Node | null): boolean {
    return isSeq(node);
  }

  isMap(node: Node | null): boolean {
    return isMap(node);
  }

  isNull(node: Node | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  scalar(node: Node | null): unknown {
    return isScalar(node) ? node.value : undefined;
  }

  string(node: Node | null, what: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value.length > 0) return node.value;
    if (isScalar(node) && typeof node.value === 'number') return String(node.value);
    return this.error(node, `${what} must be a non-empty string`);
  }

  boolean(node: Node | null, what: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    return this.error(node, `${what} must be true or false`);
  }

  int(node: Node | null, what: string, min: number, max: number): number | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.error(node, `${what} must be a whole number from ${min} to ${max}`);
  }

  /** Durations: "300ms", "3s", "5m", "1h", or a bare number of milliseconds (HAProxy's default unit). */
  duration(node: Node | null, what: string, minMs: number, maxMs: number): number | undefined {
    const v = isScalar(node) ? node.value : undefined;
    const ms = typeof v === 'number' || typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms !== undefined && ms >= minMs && ms <= maxMs) return ms;
    return this.error(node, `${what} must be a duration such as 300ms, 3s or 5m, from ${minMs}ms to ${maxMs}ms`);
  }

  /** A name for a listener, backend or route: letters, digits, "_", "." or "-", at most 64. */
  name(node: Node | null, what: string): string | undefined {
    const s = this.string(node, what);
    if (s !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) return this.error(node, `${what}: "${s}" must be letters, digits, "_", "." or "-" (at most 64)`);
    return s;
  }

  oneOf<T extends string>(node: Node | null, what: string, choices: readonly T[]): T | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    if (v === false && choices.includes('off' as T)) return 'off' as T; // YAML 1.1 habit: `off` unquoted
    return this.error(node, `${what} must be one of: ${choices.join(', ')}`);
  }
}
