/** The checks the deploy tests rely on must themselves catch mistakes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDeployRules } from './support.js';
import { dockerignore, parseDockerfile } from './dockerfile.js';

const RULES = `admin:
  listen: "0.0.0.0:9900"
listeners:
  - bind: ":8443"
backends:
  b: { servers: ["127.0.0.1:1"] }
default: b
`;

test('compileDeployRules: the whole file compiles, admin: included', () => {
  const r = compileDeployRules(RULES, 'ok.yaml');
  assert.deepEqual(r.adminListen, { host: '0.0.0.0', port: 9900 });
  assert.equal(r.rules.listeners[0]!.port, 8443);
  assert.equal(compileDeployRules(RULES.replace(/admin:\n.*\n/, ''), 'none.yaml').adminListen, undefined);
});

test('compileDeployRules: every problem fails the test with its file:line:col', () => {
  assert.throws(() => compileDeployRules(RULES.replace('default: b', 'default: nope'), 'bad.yaml'), /bad\.yaml:7:10: .*nope/);
  assert.throws(() => compileDeployRules(RULES.replace('  listen:', '  listne:'), 'typo.yaml'), /typo\.yaml:2:3: .*listne/);
  assert.throws(() => compileDeployRules(RULES.replace('0.0.0.0:9900', '0.0.0.0'), 'port.yaml'), /port\.yaml:2:11: .*admin\.listen/);
  assert.throws(() => compileDeployRules(`${RULES}bogus: 1\n`, 'unknown.yaml'), /unknown\.yaml:8:1/);
});

test('parseDockerfile: stages, continuation lines and comments inside them', () => {
  const stages = parseDockerfile('FROM a AS build\nRUN x \\\n# note\n && y\nFROM b\nUSER 1:1\n');
  assert.deepEqual(
    stages.map((s) => [s.image, s.name, s.instructions.map((i) => `${i.line} ${i.cmd} ${i.args}`)]),
    [
      ['a', 'build', ['2 RUN x   && y']],
      ['b', undefined, ['6 USER 1:1']],
    ],
  );
});

test('dockerignore: allowlist semantics, last match wins, directories cover their contents', () => {
  const excluded = dockerignore('*\n!src\n!deploy/docker/x.yaml\nsrc/secret*\n');
  assert.equal(excluded('src/cli.ts'), false);
  assert.equal(excluded('src/secret.key'), true);
  assert.equal(excluded('deploy/docker/x.yaml'), false);
  assert.equal(excluded('deploy/docker/y.yaml'), true);
  assert.equal(excluded('node_modules/yaml/package.json'), true);
  assert.equal(excluded('package.json'), true);
  assert.throws(() => dockerignore('[ab]c'), /not supported/);
});
