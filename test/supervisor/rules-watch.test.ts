/** The watch sees the ways rule files really change: in place, renamed over, and a ConfigMap's symlink swap. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchRules } from '../../src/supervisor/rules-watch.js';
import { withTimeout } from '../helpers/interop.js';

function setup(t: { after: (fn: () => void) => void }): { dir: string; changes: () => Promise<void>; count: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'portplex-watch-'));
  let n = 0;
  let waiters: (() => void)[] = [];
  const w = watchRules(dir, 50, () => {
    n++;
    for (const f of waiters) f();
    waiters = [];
  }, () => undefined);
  t.after(() => {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, count: () => n, changes: () => withTimeout(new Promise<void>((r) => waiters.push(r)), 5000, 'a change event') };
}

it('an edit in place fires once after the debounce, however many events it made', async (t) => {
  const { dir, changes, count } = setup(t);
  const seen = changes();
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'portplex.yaml'), `listeners: [] # ${i}\n`);
  await seen;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(count(), 1);
});

it('a save by rename (how editors write) fires, and so does the next one', async (t) => {
  const { dir, changes } = setup(t);
  for (const round of [1, 2]) {
    const seen = changes();
    writeFileSync(join(dir, '.portplex.yaml.swp'), `# ${round}\n`);
    renameSync(join(dir, '.portplex.yaml.swp'), join(dir, 'portplex.yaml'));
    await seen;
  }
});

it('a Kubernetes ConfigMap update (the ..data symlink swapped) fires', async (t) => {
  const { dir, changes } = setup(t);
  mkdirSync(join(dir, '..v1'));
  writeFileSync(join(dir, '..v1', 'portplex.yaml'), '# v1\n');
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync('..data/portplex.yaml', join(dir, 'portplex.yaml'));
  await new Promise((r) => setTimeout(r, 150));
  const seen = changes();
  mkdirSync(join(dir, '..v2'));
  writeFileSync(join(dir, '..v2', 'portplex.yaml'), '# v2\n');
  symlinkSync('..v2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  await seen;
});
