#!/usr/bin/env node
/**
 * Builds the native data plane (binding.gyp: native/portplex.c -> build/Release/portplex.node).
 * package.json's "install" runs it on every `npm install` / `npm ci`; having an install script
 * also stops npm's implicit `node-gyp rebuild`, which would fail the whole install where there is
 * no compiler. Without --strict it never fails: when the addon cannot be built (not Linux,
 * PORTPLEX_SKIP_NATIVE=1, no compiler, no Node headers, a failed build) it prints one warning line
 * naming the cause and exits 0, and portplex runs its TypeScript data plane (src/native/addon.ts
 * loadAddon() reports why). --strict (`npm run build:native`, CI) makes each of those exit 1, and
 * so does a compiler warning, since the install build has no -Werror.
 *
 * No network: node-gyp is the one npm ships, and it is always given a nodedir with the headers,
 * so it never downloads them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FALLBACK = 'portplex will run its TypeScript data plane';
/** Output lines shown when the build fails: the compiler's error is at the end. */
const TAIL_LINES = 40;

/** The node-gyp that npm set for this script, else the one bundled with the npm next to this node. */
export function findNodeGyp(env = process.env) {
  const candidates = [env['npm_config_node_gyp'], join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  return candidates.find((p) => p !== undefined && p !== '' && existsSync(p));
}

/**
 * The directory whose include/node holds node_api.h (and common.gypi, which node-gyp needs):
 * npm's `nodedir` config when set, /usr for Debian's nodejs, else the tree this node runs from
 * (the official tarballs ship include/node). undefined: node-gyp would download the headers.
 */
export function findNodeDir(env = process.env) {
  const candidates = [env['npm_config_nodedir'], '/usr', resolve(dirname(process.execPath), '..')];
  return candidates.find((d) => d !== undefined && d !== '' && existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')));
}

/** Why `cmd` cannot run (as `what`), or undefined when `cmd --version` succeeds. */
function missingTool(what, cmd, versionArg = '--version') {
  const r = spawnSync(cmd, [versionArg], { stdio: 'ignore', shell: false });
  if (r.error && r.error.code === 'ENOENT') return `no ${what} (${cmd} is not on PATH)`;
  if (r.error) return `the ${what} ${cmd} does not run (${r.error.code ?? r.error.message})`;
  if (r.status !== 0) return `the ${what} ${cmd} does not run (\`${cmd} ${versionArg}\` exited ${r.status ?? r.signal})`;
  return undefined;
}

/** The first reason the build cannot start here, or undefined. */
function precondition(env) {
  if (process.platform !== 'linux') return `the native data plane is Linux-only (epoll, splice) and this is ${process.platform}`;
  // CC compiles portplex.c; gyp's Makefile links with CXX (g++ by default).
  const cc = env['CC'] || 'cc';
  const cxx = env['CXX'] || 'g++';
  return (
    missingTool('C compiler', cc) ??
    missingTool('C++ compiler (node-gyp links with it)', cxx) ??
    missingTool('make', env['MAKE'] || 'make') ??
    missingTool('python3 (node-gyp runs gyp with it)', env['PYTHON'] || env['npm_config_python'] || 'python3')
  );
}

/** Builds in `root`; { ok, reason?, output, warnings, ms }. */
export function build(root = ROOT, env = process.env) {
  const started = Date.now();
  const done = (r) => ({ output: '', warnings: [], ...r, ms: Date.now() - started });
  if (env['PORTPLEX_SKIP_NATIVE'] === '1') return done({ ok: false, skipped: true, reason: 'PORTPLEX_SKIP_NATIVE=1 is set' });
  const pre = precondition(env);
  if (pre !== undefined) return done({ ok: false, reason: pre });
  const gyp = findNodeGyp(env);
  if (gyp === undefined) return done({ ok: false, reason: 'node-gyp was not found (neither npm_config_node_gyp nor the npm bundled with this node)' });
  const nodedir = findNodeDir(env);
  if (nodedir === undefined) return done({ ok: false, reason: `no Node headers (include/node/node_api.h under npm's nodedir, /usr or ${resolve(dirname(process.execPath), '..')}); not downloading them` });
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${nodedir}`, '--loglevel=warn'], {
    cwd: root,
    env: { ...env, npm_config_nodedir: nodedir },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const warnings = output.split('\n').filter((l) => /\bwarning:/.test(l));
  if (r.error) return done({ ok: false, reason: `node-gyp did not run: ${r.error.message}`, output });
  if (r.status !== 0) return done({ ok: false, reason: `the build failed (node-gyp exited ${r.status ?? r.signal}; its output ends above)`, output, warnings });
  // Built is not enough: it must load into this node (a wrong header set would show here).
  const addon = join(root, 'build', 'Release', 'portplex.node');
  const load = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', addon], { encoding: 'utf8', env: { ...env, LD_PRELOAD: '' } });
  if (load.status !== 0) return done({ ok: false, reason: `${addon} was built but does not load`, output: load.stderr, warnings });
  return done({ ok: true, output, warnings, addon });
}

function tail(text, n) {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

function main() {
  const strict = process.argv.includes('--strict');
  const r = build();
  const rel = (p) => p.startsWith(ROOT) ? p.slice(ROOT.length + 1) : p;
  if (r.ok) {
    for (const w of r.warnings) process.stderr.write(`${w}\n`);
    if (strict && r.warnings.length > 0) {
      process.stderr.write(`portplex: the native data plane built with ${r.warnings.length} compiler warning(s); --strict refuses them\n`);
      process.exit(1);
    }
    process.stderr.write(`portplex: built the native data plane (${rel(r.addon)}) in ${(r.ms / 1000).toFixed(1)}s\n`);
    return;
  }
  if (r.output.trim() !== '') process.stderr.write(`${tail(r.output, TAIL_LINES)}\n`);
  if (strict) {
    process.stderr.write(`portplex: error: the native data plane was not built: ${r.reason}\n`);
    process.exit(1);
  }
  const fix = r.skipped || process.platform !== 'linux' ? '' : ' (to build it: apt-get install g++ make python3, then `npm rebuild portplex`, or `npm run build:native` in a checkout; PORTPLEX_SKIP_NATIVE=1 skips this step)';
  process.stderr.write(`portplex: warning: the native data plane was not built: ${r.reason}; ${FALLBACK}${fix}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
