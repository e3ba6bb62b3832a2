/**
 * The house rules of ARCHITECTURE.md, checked: every relative import in src/ (static, dynamic,
 * `export ... from`, type-only ones too: a type is a dependency) goes down the layers or stays in
 * its own folder, and ARCHITECTURE.md describes every folder there is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

/**
 * Lowest first (ARCHITECTURE.md draws the same stack). A module may import its own folder and any
 * folder of a lower layer: never another folder of its own layer, never a higher layer.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'protocols'],
  ['config'],
  ['matchers', 'observe', 'net'],
  ['router'],
  ['inspect'],
  ['proxy'],
  ['backends'],
  ['forward'],
  ['engine'],
  ['listener', 'udp', 'native'],
  ['transports'],
  ['demo', 'tools', 'admin', 'transparent'],
  ['app'],
  ['supervisor'],
  ['cli'],
];

/** Folders whose imports are narrower than their layer allows. */
const ONLY: Readonly<Record<string, readonly string[]>> = {
  // A protocol is bytes in, facts out: it needs nothing else of portplex.
  protocols: [],
  // Logs and metrics describe the system; they must not reach up into what they describe.
  observe: ['errors', 'protocols', 'config'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The top-level entry of src/ a path belongs to: its folder, or a file's name without .ts/.js. */
function area(path: string): string {
  const first = relative(SRC, path).split(/[\\/]/)[0]!;
  return first.replace(/\.(ts|js)$/, '');
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

interface Edge {
  readonly file: string;
  readonly from: string;
  readonly to: string;
  readonly spec: string;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!);
      const to = relative(SRC, target).startsWith('..') ? '(outside src)' : area(target);
      out.push({ file: relative(ROOT, file), from: area(file), to, spec: m[1]! });
    }
  }
  return out;
}

const layerOf = new Map<string, number>();
LAYERS.forEach((names, i) => names.forEach((n) => layerOf.set(n, i)));

function violation(e: Edge): string | undefined {
  if (e.from === e.to) return undefined;
  if (e.to === '(outside src)') return 'imports from outside src/';
  const only = ONLY[e.from];
  if (only !== undefined && !only.includes(e.to)) return `${e.from}/ may import only ${only.length === 0 ? 'itself' : only.join(', ')}`;
  const a = layerOf.get(e.from);
  const b = layerOf.get(e.to);
  if (a === undefined || b === undefined) return `${a === undefined ? e.from : e.to} has no layer in this test and ARCHITECTURE.md`;
  if (b > a) return `${e.from} (layer ${a}) imports the higher ${e.to} (layer ${b})`;
  if (b === a) return `${e.from} imports its peer ${e.to} of the same layer`;
  return undefined;
}

describe('layering', () => {
  const all = edges();

  it('finds the imports it checks', () => {
    // A scanner that found nothing would pass everything.
    assert.ok(all.length > 200, `only ${all.length} imports found`);
    assert.ok(all.some((e) => e.from === 'listener' && e.to === 'inspect'));
  });

  it('every import goes down the layers', () => {
    const bad = all.flatMap((e) => {
      const why = violation(e);
      return why === undefined ? [] : [`${e.file}: '${e.spec}': ${why}`];
    });
    assert.deepEqual(bad, []);
  });

  it('the checker refuses what the house forbids', () => {
    const probe = (from: string, to: string): string | undefined => violation({ file: 'x', from, to, spec: 'x' });
    assert.match(probe('protocols', 'config') ?? '', /may import only itself/);
    assert.match(probe('observe', 'backends') ?? '', /may import only/);
    assert.match(probe('observe', 'udp') ?? '', /may import only/);
    assert.match(probe('inspect', 'engine') ?? '', /higher/);
    assert.match(probe('tools', 'admin') ?? '', /peer/);
    assert.match(probe('engine', 'listener') ?? '', /higher/);
    assert.match(probe('listener', 'udp') ?? '', /peer/);
    assert.equal(probe('listener', 'engine'), undefined);
    assert.equal(probe('inspect', 'router'), undefined);
  });

  it('ARCHITECTURE.md names every folder of src/ and every folder it names exists', () => {
    const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const f of folders) assert.ok(doc.includes(`src/${f}/`), `ARCHITECTURE.md does not describe src/${f}/`);
    for (const m of doc.matchAll(/`src\/([a-z-]+)\/`/g)) assert.ok(folders.includes(m[1]!), `ARCHITECTURE.md names src/${m[1]}/, which does not exist`);
    for (const f of folders) assert.ok(layerOf.has(f), `src/${f}/ has no layer in test/architecture/layering.test.ts`);
  });
});
