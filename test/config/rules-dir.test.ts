/** A directory of rule files is one rule set: merged in name order, every problem still at its file:line:col. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRulesTexts, loadRules, readRulesSource, type LoadResult } from '../../src/config/load.js';

function dir(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'portplex-rulesdir-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

function problems(r: LoadResult): string[] {
  assert.equal(r.ok, false, 'expected the rules to be refused');
  return r.ok ? [] : r.issues.map((i) => `${i.file.replace(/^.*\//, '')}:${i.line}:${i.col}: ${i.message}`);
}

const LISTENERS = 'listeners: ["127.0.0.1:8443"]\n';
const WEB = 'backends:\n  web: { servers: ["127.0.0.1:8080"] }\n';
const SSH = 'backends:\n  ssh: { servers: ["127.0.0.1:22"] }\n';

describe('a directory of rule files', () => {
  it('merges listeners, backends and routes in file-name order; other files and hidden ones are skipped', (t) => {
    const d = dir(t, {
      '20-ssh.yaml': `${SSH}routes:\n  - { name: ssh, when: { protocol: ssh }, to: ssh }\n`,
      '10-base.yaml': `${LISTENERS}${WEB}routes:\n  - { name: tls, when: { protocol: tls }, to: web }\ndefault: web\n`,
      '30-more.yml': 'routes:\n  - { name: http, when: { protocol: http }, to: web }\n',
      'README.txt': 'not rules',
      '.hidden.yaml': 'this: [is not parsed',
    });
    mkdirSync(join(d, '..data'));
    const r = loadRules(d);
    assert.ok(r.ok, r.ok ? '' : problems(r).join('\n'));
    assert.deepEqual(r.rules.routes.map((x) => x.name), ['tls', 'ssh', 'http']);
    assert.deepEqual([...r.rules.backends.keys()].sort(), ['ssh', 'web']);
    assert.deepEqual(r.rules.files.map((f) => f.replace(/^.*\//, '')), ['10-base.yaml', '20-ssh.yaml', '30-more.yml']);
    assert.equal(r.rules.defaultBackend, 'web');
    // A route's position names its own file.
    assert.match(r.rules.routes[1]!.pos.file, /20-ssh\.yaml$/);
    assert.equal(r.rules.routes[1]!.pos.line, 4);
  });

  it('an error inside one file is reported at that file, line and column', (t) => {
    const d = dir(t, {
      'a.yaml': `${LISTENERS}${WEB}default: web\n`,
      'b.yaml': 'routes:\n  - name: bad\n    when: { protocol: gopher }\n    to: web\n',
    });
    const p = problems(loadRules(d));
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^b\.yaml:3:/);
    assert.match(p[0]!, /when\.protocol must be one of/);
  });

  it('a route may name a backend defined in another file; an unknown one points at the route', (t) => {
    const ok = dir(t, { 'a.yaml': `${LISTENERS}${WEB}`, 'b.yaml': 'routes:\n  - { name: r, when: { protocol: tls }, to: web }\n' });
    assert.ok(loadRules(ok).ok);
    const bad = dir(t, { 'a.yaml': `${LISTENERS}${WEB}`, 'b.yaml': 'routes:\n  - { name: r, when: { protocol: tls }, to: nowhere }\n' });
    const p = problems(loadRules(bad));
    assert.ok(p.some((x) => /^b\.yaml:2:/.test(x) && /nowhere/.test(x)), p.join('\n'));
  });

  it('a backend defined in two files is refused, naming both places', (t) => {
    const d = dir(t, { 'a.yaml': `${LISTENERS}${WEB}default: web\n`, 'b.yaml': '\nbackends:\n  web: { servers: ["127.0.0.1:9090"] }\n' });
    const p = problems(loadRules(d));
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^b\.yaml:3:3: backends\.web is already defined in .*a\.yaml:3:3$/);
  });

  it('a single-valued section in two files is refused, naming both places', (t) => {
    const d = dir(t, { 'a.yaml': `${LISTENERS}${WEB}default: web\ntimeouts: { idle: 10s }\n`, 'b.yaml': 'timeouts: { idle: 20s }\n' });
    const p = problems(loadRules(d));
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^b\.yaml:1:1: "timeouts:" appears in more than one rule file \(also .*a\.yaml:5:11\)/);
  });

  it('YAML syntax errors of every file are reported together', (t) => {
    const d = dir(t, { 'a.yaml': 'listeners: [\n', 'b.yaml': 'routes:\n  - { name: x\n' });
    const p = problems(loadRules(d));
    assert.ok(p.some((x) => x.startsWith('a.yaml:')) && p.some((x) => x.startsWith('b.yaml:')), p.join('\n'));
  });

  it('an empty file adds nothing; a file that is not a mapping is refused', (t) => {
    assert.ok(loadRules(dir(t, { 'a.yaml': `${LISTENERS}${WEB}default: web\n`, 'b.yaml': '# nothing yet\n' })).ok);
    const p = problems(loadRules(dir(t, { 'a.yaml': `${LISTENERS}${WEB}default: web\n`, 'b.yaml': '- just\n- a list\n' })));
    assert.match(p[0]!, /^b\.yaml:1:1: a rule file must be a mapping/);
  });

  it('a directory without rule files, or a missing path, is a read error', (t) => {
    const empty = readRulesSource(dir(t, { 'notes.txt': 'x' }));
    assert.ok(!empty.ok && /no rule files/.test(empty.issues[0]!.message));
    const missing = loadRules('/nonexistent/portplex-rules');
    assert.ok(!missing.ok && missing.code === 'PORTPLEX_ERR_RULES_READ');
  });

  it('a Kubernetes ConfigMap mount (files are symlinks into ..data) is read through the links', (t) => {
    const d = dir(t, {});
    mkdirSync(join(d, '..2026_11_22'));
    writeFileSync(join(d, '..2026_11_22', 'portplex.yaml'), `${LISTENERS}${WEB}default: web\n`);
    symlinkSync('..2026_11_22', join(d, '..data'));
    symlinkSync('..data/portplex.yaml', join(d, 'portplex.yaml'));
    const r = loadRules(d);
    assert.ok(r.ok, r.ok ? '' : problems(r).join('\n'));
    assert.equal(r.rules.files.length, 1);
  });

  it('compiling the same texts twice gives the same rules (what each worker compiles)', () => {
    const texts = [
      { file: 'a.yaml', text: `${LISTENERS}${WEB}` },
      { file: 'b.yaml', text: 'routes:\n  - { name: r, when: { protocol: tls }, to: web }\n' },
    ];
    const a = compileRulesTexts(texts, 'dir');
    const b = compileRulesTexts(texts, 'dir');
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.rules.routes.map((r) => r.name), b.rules.routes.map((r) => r.name));
  });
});
