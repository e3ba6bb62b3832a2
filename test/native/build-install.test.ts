/**
 * scripts/build-native.mjs, the addon's install step: it never fails `npm install` (one warning
 * line and the TypeScript data plane), --strict fails, a good source builds an addon that loads,
 * and what ships (the npm package, the container image) has what the build and loadAddon() need.
 * Failing builds run in a scratch copy of the package, never over this checkout's build/.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copies, parseDockerfile } from '../deploy/dockerfile.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const linux = process.platform === 'linux';

/** This process's environment without the sanitizer run's preload (a compiler must not get it). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'PORTPLEX_NATIVE_ADDON']) delete env[k];
  return env;
}

function runScript(cwd: string, args: string[], env: NodeJS.ProcessEnv): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [join(cwd, 'scripts', 'build-native.mjs'), ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** A copy of what the published package builds from, with `source` as native/portplex.c. */
function scratchPackage(source: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'portplex-build-'));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'native'));
  cpSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  cpSync(join(ROOT, 'scripts', 'build-native.mjs'), join(dir, 'scripts', 'build-native.mjs'));
  writeFileSync(join(dir, 'native', 'portplex.c'), source);
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const warningLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('portplex: warning:'));

it('PORTPLEX_SKIP_NATIVE=1: exit 0 with one warning line naming it and the fallback; --strict refuses', () => {
  const r = runScript(ROOT, [], cleanEnv({ PORTPLEX_SKIP_NATIVE: '1' }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(r.stderr.trimEnd().split('\n'), warningLines(r.stderr));
  assert.equal(warningLines(r.stderr).length, 1);
  assert.match(r.stderr, linux ? /PORTPLEX_SKIP_NATIVE=1 is set; portplex will run its TypeScript data plane/ : /Linux-only/);
  const strict = runScript(ROOT, ['--strict'], cleanEnv({ PORTPLEX_SKIP_NATIVE: '1' }));
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /^portplex: error: the native data plane was not built/m);
});

it('no compiler on PATH, or a compiler that does not run: one warning line with the fix, exit 0; --strict exits 1', { skip: !linux }, (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'portplex-nocc-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const [env, cause] of [
    [cleanEnv({ PATH: bin }), /no C compiler \(cc is not on PATH\)/],
    [cleanEnv({ CC: '/bin/false', CXX: '/bin/false' }), /the C compiler \/bin\/false does not run/],
  ] as const) {
    const r = runScript(ROOT, [], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(warningLines(r.stderr).length, 1, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `only the warning line: ${r.stderr}`);
    assert.match(r.stderr, cause);
    assert.match(r.stderr, /portplex will run its TypeScript data plane \(to build it: apt-get install g\+\+ make python3/);
    assert.equal(runScript(ROOT, ['--strict'], env).code, 1);
  }
});

it('a source that does not compile: the compiler output tail, one warning line, exit 0; --strict exits 1', { skip: !linux, timeout: 120_000 }, (t) => {
  const pkg = scratchPackage('#include <node_api.h>\n#error injected build failure\n');
  t.after(pkg.done);
  const r = runScript(pkg.dir, [], cleanEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /injected build failure/, 'the compiler error is shown');
  assert.equal(warningLines(r.stderr).length, 1, r.stderr);
  assert.match(warningLines(r.stderr)[0]!, /the build failed \(node-gyp exited \d+; its output ends above\); portplex will run its TypeScript data plane/);
  assert.equal(runScript(pkg.dir, ['--strict'], cleanEnv()).code, 1);
});

it('the real source builds quietly, without warnings, into build/Release/portplex.node, which loads', { skip: !linux, timeout: 120_000 }, (t) => {
  const pkg = scratchPackage(readFileSync(join(ROOT, 'native', 'portplex.c'), 'utf8'));
  t.after(pkg.done);
  const r = runScript(pkg.dir, ['--strict'], cleanEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^portplex: built the native data plane \(build\/Release\/portplex\.node\) in [\d.]+s\n$/);
  const addon = join(pkg.dir, 'build', 'Release', 'portplex.node');
  const load = spawnSync(process.execPath, ['-e', 'const a = require(process.argv[1]); if (typeof a.init !== "function") process.exit(3)', addon], { env: cleanEnv(), encoding: 'utf8' });
  assert.equal(load.status, 0, load.stderr);
});

it('package.json: install runs the script (not npm\'s default node-gyp rebuild) and the package ships what it builds from', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };
  assert.equal(pkg.scripts['install'], 'node scripts/build-native.mjs');
  assert.equal(pkg.scripts['build:native'], 'node scripts/build-native.mjs --strict');
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const f of ['binding.gyp', 'native/portplex.c', 'scripts/build-native.mjs', 'dist/src/native/addon.js']) assert.ok(files.includes(f), `${f} is in the package`);
  assert.ok(!files.some((f) => f.startsWith('build/') || f.startsWith('build-sanitized/')), 'no local build output is published');
});

it('the image builds the addon and puts it where dist/src/native/addon.js looks for it', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));
  const build = stages[0]!;
  const runtime = stages.at(-1)!;
  const runs = build.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs, /apt-get install -y --no-install-recommends g\+\+ make python3/);
  const buildAt = build.instructions.findIndex((i) => i.cmd === 'RUN' && /npm run build:native/.test(i.args));
  assert.ok(buildAt >= 0, 'the build stage runs npm run build:native (strict)');
  for (const src of ['binding.gyp', 'native', 'scripts/build-native.mjs']) {
    const at = build.instructions.findIndex((i) => i.cmd === 'COPY' && i.args.split(/\s+/)[0] === src);
    assert.ok(at >= 0 && at < buildAt, `COPY ${src} before the build`);
  }
  const workdir = runtime.instructions.find((i) => i.cmd === 'WORKDIR')!.args;
  const addonCopy = copies(runtime).find((c) => c.from === 'build' && c.sources.includes('/app/build/Release/portplex.node'));
  assert.ok(addonCopy, 'the runtime stage copies the built addon');
  // loadAddon(): three directories up from dist/src/native/addon.js, then build/Release.
  const addonJs = posix.join(workdir, 'dist/src/native/addon.js');
  const expected = posix.join(posix.dirname(addonJs), '..', '..', '..', 'build', 'Release', 'portplex.node');
  assert.equal(posix.resolve(workdir, addonCopy.dest), expected);
  assert.ok(existsSync(join(ROOT, 'dist', 'src', 'native', 'addon.js')));
  assert.match(runtime.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join('\n'), /npm ci --omit=dev --ignore-scripts/);
});
